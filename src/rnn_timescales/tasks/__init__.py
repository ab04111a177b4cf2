"""Memory tasks, registered by name. Adding a task means adding one module and one line below."""

from __future__ import annotations

from rnn_timescales.tasks.base import Batch, BinaryTask, sequence_length
from rnn_timescales.tasks.dms import DelayedMatch
from rnn_timescales.tasks.parity import Parity

TASKS: dict[str, type[BinaryTask]] = {"parity": Parity, "dms": DelayedMatch}


def get_task(name: str) -> BinaryTask:
    """The task registered as ``name``."""
    try:
        return TASKS[name]()
    except KeyError:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}") from None


__all__ = ["TASKS", "Batch", "BinaryTask", "DelayedMatch", "Parity", "get_task", "sequence_length"]
