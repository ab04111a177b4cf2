"""A curriculum: a small state machine over a task's *level* (what the task is asked to do now).

The trainer asks it, after every epoch, whether the current level counts as learned
(:meth:`Curriculum.solved`, from the accuracy of each head) and whether to move on
(:meth:`Curriculum.should_advance`): by that accuracy rule (the paper's), at fixed training-step
counts (``advance: schedule``, as Haviv et al. 2019), or never (train one level for a fixed
budget). On an advance the trainer writes a checkpoint of the level just left and calls
:meth:`Curriculum.advance`. A curriculum whose levels run out is ``finished``.

A kind changes one named parameter of the level (``level_name``: ``n_max`` for the N curricula,
``n_classes`` for a vocabulary, ``max_delay`` for delays); its value names checkpoints and fills
the ``level_name`` / ``level`` columns of ``metrics.csv``. Everything a curriculum holds is plain
data (:meth:`state_dict`), saved with the training state and restored exactly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Sequence

from pydantic import BaseModel

from rnn_timescales.registry import NoParams
from rnn_timescales.tasks.base import Level, Task

RULES = ("mean_and_newest", "all", "mean")
ADVANCE = ("accuracy", "schedule", "never")


class Curriculum(ABC):
    """Base class. Subclasses set ``kind`` (the registry name), ``level_name``, ``requires`` (level
    keys the task must have) and ``Params`` (settings of their own), and implement
    :meth:`initial_level` and :meth:`next_level`.

    config: the run's ``CurriculumConfig`` (threshold, rule, advance, schedule and the kind's settings).
    task: the task whose level it changes.
    """

    kind: ClassVar[str]
    level_name: ClassVar[str | None] = None
    requires: ClassVar[tuple[str, ...]] = ()
    Params: ClassVar[type[BaseModel]] = NoParams
    default_schedule: ClassVar[tuple[int, ...]] = ()
    """Global steps of the advances under ``advance: schedule`` when the configuration gives none
    (the paper's own schedule, for a kind that has one); the configuration records it."""

    def __init__(self, config: Any, task: Task) -> None:
        missing = [k for k in self.requires if k not in task.level_keys]
        if missing:
            raise ValueError(f"curriculum.kind: {self.kind!r} changes the task's {', '.join(missing)}, which task "
                             f"{task.name!r} does not have; use {task.default_curriculum!r}")
        self.config = config
        self.task = task
        self.params = self.Params(**config.params)
        self.threshold: float = config.threshold
        self.rule: str = config.rule
        self.advance_by: str = config.advance
        self.schedule: list[int] = list(config.schedule)
        self.level: Level = self.initial_level()
        self.finished = False
        self.history: list[Level] = []  # the levels advanced from, in order

    # --- what a kind defines ------------------------------------------------------------------
    @abstractmethod
    def initial_level(self) -> Level:
        """The level training starts at."""

    @abstractmethod
    def next_level(self) -> Level | None:
        """The level after the current one (None: there is none, the curriculum is finished)."""

    def level_value(self, level: Level) -> int | None:
        """The value of ``level_name`` at ``level`` (None for a curriculum without one)."""
        return None if self.level_name is None else level[self.level_name]

    def label(self, level: Level) -> str:
        """The name of a checkpoint of ``level`` (without ``rnn_`` and the suffix)."""
        if self.level_name is None:
            return "solved"
        return f"{self.level_name}{self.level_value(level)}"

    def head_labels(self, level: Level) -> list[int | None]:
        """What each head answers at ``level``, for ``head_metrics.csv`` (the N of N curricula)."""
        return [None] * self.task.n_heads(level)

    # --- the state machine --------------------------------------------------------------------
    @property
    def n_heads(self) -> int:
        """Heads in use at the current level."""
        return self.task.n_heads(self.level)

    def solved(self, accuracies: Sequence[float]) -> bool:
        """Whether the current level counts as learned, given each head's accuracy (fractions).

        ``mean_and_newest`` (the paper's rule): the mean over heads and the newest (last) head
        above ``threshold``; ``all``: every head above it; ``mean``: the mean only.
        """
        if len(accuracies) != self.n_heads:
            raise ValueError(f"expected {self.n_heads} accuracies (one per head), got {len(accuracies)}")
        mean = sum(accuracies) / len(accuracies)
        if self.rule == "mean_and_newest":
            return mean > self.threshold and accuracies[-1] > self.threshold
        if self.rule == "all":
            return min(accuracies) > self.threshold
        if self.rule == "mean":
            return mean > self.threshold
        raise ValueError(f"unknown advance rule {self.rule!r}; choose one of {', '.join(RULES)}")

    def should_advance(self, solved: bool, global_step: int) -> bool:
        """Whether to move on after an epoch that ``solved`` (or not) the level, ``global_step``
        training steps into the run."""
        if self.finished:
            return False
        if self.advance_by == "accuracy":
            return solved
        if self.advance_by == "schedule":
            done = len(self.history)
            return done < len(self.schedule) and global_step >= self.schedule[done]
        return False

    def advance(self) -> None:
        """Move to the next level; with none left, the curriculum is finished."""
        self.history.append(dict(self.level))
        following = self.next_level()
        if following is None:
            self.finished = True
        else:
            self.level = following

    def reached(self, target: int) -> bool:
        """Whether a level whose value is at least ``target`` has been solved."""
        values = [self.level_value(level) for level in self.history]
        return any(v is not None and v >= target for v in values)

    # --- saving and restoring -----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "level": self.level, "finished": self.finished, "history": self.history}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("kind") != self.kind:
            raise ValueError(f"the saved curriculum is {state.get('kind')!r}, not {self.kind!r}")
        self.level = dict(state["level"])
        self.finished = bool(state["finished"])
        self.history = [dict(level) for level in state["history"]]


class NoCurriculum(Curriculum):
    """``none``: the task's own level, unchanged; finished once solved (unless ``advance`` says otherwise)."""

    kind = "none"

    def initial_level(self) -> Level:
        return self.task.default_level()

    def next_level(self) -> Level | None:
        return None
