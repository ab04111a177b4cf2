"""Memory tasks, registered by name.

Adding a task: write one module with a :class:`~rnn_timescales.tasks.base.Task` subclass and add
one line to the registrations below (or call :func:`register_task` from your own code: the
configuration accepts every registered name). ``docs/contracts.md`` has a worked example.
"""

from __future__ import annotations

from typing import Any

from rnn_timescales.registry import NoParams, Registry
from rnn_timescales.tasks.base import IGNORE, Batch, Level, Task, final_step_targets
from rnn_timescales.tasks.binary import BinaryTask, sequence_length
from rnn_timescales.tasks.delayed_recall import DelayedRecall, RecallBatch
from rnn_timescales.tasks.dms import DelayedMatch
from rnn_timescales.tasks.flipflop import FlipFlop
from rnn_timescales.tasks.parity import Parity

TASKS: Registry[type[Task]] = Registry("task", Task)
"""Task name -> class; ``task.name`` in a configuration must be one of these."""

register_task = TASKS.register
task_class = TASKS.get


def get_task(name: str, **params: Any) -> Task:
    """The task registered as ``name``, with its settings (defaults for those not given)."""
    return TASKS.get(name)(**params)


def build_task(config) -> Task:
    """The task of a :class:`rnn_timescales.config.TaskConfig` (its name and settings)."""
    return get_task(config.name, **config.params)


register_task(Parity)
register_task(DelayedMatch)
register_task(FlipFlop)
register_task(DelayedRecall)

__all__ = [
    "IGNORE", "TASKS", "Batch", "BinaryTask", "DelayedMatch", "DelayedRecall", "FlipFlop", "Level", "NoParams", "Parity",
    "RecallBatch", "Task",
    "build_task", "final_step_targets", "get_task", "register_task", "sequence_length", "task_class",
]
