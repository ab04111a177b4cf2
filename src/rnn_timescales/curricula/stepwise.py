"""Curricula that step one integer of a task's level up to the task's own value (the [H19]
delay and vocabulary curricula)."""

from __future__ import annotations

from rnn_timescales.curricula.base import Curriculum
from rnn_timescales.tasks.base import Level


class StepwiseCurriculum(Curriculum):
    """A curriculum over one integer of the level (``level_name``): ``start``, then ``increment``
    more at each advance, up to the value of the task's own level; finished after that."""

    @property
    def top(self) -> int:
        """The last value: the task's own level."""
        return int(self.task.default_level()[self.level_name])

    def initial_level(self) -> Level:
        start = self.params.start
        if start > self.top:
            raise ValueError(f"curriculum.start ({start}) is above the task's own {self.level_name} ({self.top})")
        level = {**self.task.default_level(), self.level_name: start}
        refuse = getattr(self.task, "check_level", None)  # a task may refuse levels it cannot make trials for
        if refuse is not None:
            try:
                refuse(level)
            except ValueError as e:
                raise ValueError(f"curriculum.start ({start}): {e}") from None
        return level

    def next_level(self) -> Level | None:
        value = self.level[self.level_name]
        if value >= self.top:
            return None
        return {**self.level, self.level_name: min(value + self.params.increment, self.top)}
