"""rnn-timescales: train recurrent networks on memory tasks under curricula, then measure whether
their memory comes from slow single neurons or slow collective dynamics."""

__version__ = "0.1.0"
