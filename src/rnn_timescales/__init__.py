"""rnn-timescales: train recurrent networks on memory tasks under curricula, then measure whether
their memory comes from slow single neurons or slow collective dynamics."""

__version__ = "0.1.0"

__all__ = ["estimate_timescales"]


def __getattr__(name: str):
    # imported on first use: ``import rnn_timescales`` stays light (the CLI starts fast)
    if name == "estimate_timescales":
        from rnn_timescales.analysis.inference import estimate_timescales

        return estimate_timescales
    raise AttributeError(f"module 'rnn_timescales' has no attribute {name!r}")
