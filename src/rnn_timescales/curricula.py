"""Curricula (SPEC section 3): a small state machine over which memory demands N are trained.

The state is the list ``ns`` of N currently trained; head k of the readout answers ``ns[k]``
(the reference's positional convention: in a sliding window, head 0 always answers the smallest N
of the window). After each epoch the trainer passes the accuracy of every head to
:meth:`Curriculum.solved`; when it says yes, a checkpoint is written and :meth:`Curriculum.advance`
moves to the next ``ns``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from rnn_timescales.config import CurriculumConfig

KINDS = ("single", "multi", "sliding", "fixed")


@dataclass
class Curriculum:
    """Which N are trained now, and how that changes when they are solved.

    kind: ``single`` (one head; N -> N + 1), ``multi`` (heads for n_start ... N_max; add
    ``add_heads`` per advance), ``sliding`` (``window`` heads; drop the ``forget`` smallest N and
    add as many new ones), ``fixed`` (one N; finished once solved).
    ns: the N answered by heads 0, 1, ...
    threshold, rule: the advance criterion (see :meth:`solved`).
    """

    kind: str
    ns: list[int]
    add_heads: int = 1
    forget: int = 1
    threshold: float = 0.98
    rule: str = "mean_and_newest"
    finished: bool = False
    history: list[list[int]] = field(default_factory=list)

    @classmethod
    def from_config(cls, cfg: CurriculumConfig) -> Curriculum:
        """The curriculum's starting state for configuration ``cfg``."""
        start = cfg.n_start
        if cfg.kind == "multi":
            ns = list(range(start, start + cfg.initial_heads))
        elif cfg.kind == "sliding":
            ns = list(range(start, start + cfg.window))
        elif cfg.kind in ("single", "fixed"):
            ns = [start]
        else:
            raise ValueError(f"unknown curriculum {cfg.kind!r}; choose one of {', '.join(KINDS)}")
        return cls(
            kind=cfg.kind,
            ns=ns,
            add_heads=cfg.add_heads,
            forget=cfg.forget,
            threshold=cfg.threshold,
            rule=cfg.rule,
        )

    @property
    def n_min(self) -> int:
        return self.ns[0]

    @property
    def n_max(self) -> int:
        return self.ns[-1]

    @property
    def n_heads(self) -> int:
        """Heads in use now (head k answers ``ns[k]``)."""
        return len(self.ns)

    def solved(self, accuracies: Sequence[float]) -> bool:
        """Whether the current ``ns`` count as learned, given each head's accuracy (fractions).

        ``mean_and_newest`` (the paper's rule): mean over heads > threshold and the newest
        (largest) N > threshold. ``all``: every head > threshold. ``mean``: the mean only.
        """
        if len(accuracies) != len(self.ns):
            raise ValueError(f"expected {len(self.ns)} accuracies (one per head), got {len(accuracies)}")
        mean = sum(accuracies) / len(accuracies)
        if self.rule == "mean_and_newest":
            return mean > self.threshold and accuracies[-1] > self.threshold
        if self.rule == "all":
            return min(accuracies) > self.threshold
        if self.rule == "mean":
            return mean > self.threshold
        raise ValueError(f"unknown advance rule {self.rule!r}")

    def next_ns(self) -> list[int]:
        """The ``ns`` that follow the current ones on an advance."""
        top = self.ns[-1]
        if self.kind == "single":
            return [self.ns[0] + 1]
        if self.kind == "multi":
            return self.ns + list(range(top + 1, top + 1 + self.add_heads))
        if self.kind == "sliding":
            return self.ns[self.forget :] + list(range(top + 1, top + 1 + self.forget))
        return list(self.ns)

    def advance(self) -> None:
        """Move to the next ``ns`` (a fixed curriculum is finished instead)."""
        self.history.append(list(self.ns))
        if self.kind == "fixed":
            self.finished = True
        else:
            self.ns = self.next_ns()

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> Curriculum:
        return cls(**state)
