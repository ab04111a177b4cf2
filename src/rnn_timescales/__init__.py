"""rnn-timescales: train recurrent networks on memory tasks under curricula, then measure whether
their memory comes from slow single neurons or slow collective dynamics."""

__version__ = "0.1.0"

from rnn_timescales import _compat

_compat.install()  # the import paths the README documented before issue 22's layout
