"""The curricula over memory demand N [K24] (docs/science.md, curricula): which N each readout head answers.

The level is ``{"ns": [N_0, N_1, ...]}``; head k answers ns[k] (the reference's positional
convention: in a sliding window, head 0 always answers the smallest N of the window).

- ``single``: one head; N, then N + 1 with the same head.
- ``multi`` (the reference's "cumulative"): heads for N = n_start ... N_max trained at once; an
  advance adds ``add_heads`` heads (``initial_heads`` at the start).
- ``sliding``: a window of ``window`` heads; an advance drops the ``forget`` smallest N and adds as
  many new ones.
- ``fixed``: one N; finished once solved.
"""

from __future__ import annotations

from rnn_timescales.curricula.base import Curriculum
from rnn_timescales.tasks.base import Level


class NCurriculum(Curriculum):
    """Base of the N curricula: the level is the list of N, its value the largest one."""

    level_name = "n_max"
    requires = ("ns",)

    def level_value(self, level: Level) -> int:
        return level["ns"][-1]

    def label(self, level: Level) -> str:
        ns = level["ns"]
        return f"N{ns[0]}_N{ns[-1]}"

    def head_labels(self, level: Level) -> list[int]:
        return list(level["ns"])

    @property
    def ns(self) -> list[int]:
        """The N answered by heads 0, 1, ... now."""
        return list(self.level["ns"])

    @property
    def n_min(self) -> int:
        return self.level["ns"][0]

    @property
    def n_max(self) -> int:
        return self.level["ns"][-1]

    def _after(self, count: int) -> list[int]:
        top = self.n_max
        return list(range(top + 1, top + 1 + count))


class SingleHead(NCurriculum):
    """One head, N = n_start, then N + 1 each time it is solved ([K24] single-head)."""

    kind = "single"

    def initial_level(self) -> Level:
        return {"ns": [self.config.n_start]}

    def next_level(self) -> Level:
        return {"ns": [self.n_max + 1]}


class MultiHead(NCurriculum):
    """One head per N from n_start, a new head (the next N) each time all are solved ([K24] multi-head)."""

    kind = "multi"

    def initial_level(self) -> Level:
        start = self.config.n_start
        return {"ns": list(range(start, start + self.config.initial_heads))}

    def next_level(self) -> Level:
        return {"ns": self.ns + self._after(self.config.add_heads)}


class SlidingWindow(NCurriculum):
    """A window of consecutive N: once solved, the smallest are forgotten and as many larger ones added."""

    kind = "sliding"

    def initial_level(self) -> Level:
        start = self.config.n_start
        return {"ns": list(range(start, start + self.config.window))}

    def next_level(self) -> Level:
        forget = self.config.forget
        return {"ns": self.ns[forget:] + self._after(forget)}


class Fixed(SingleHead):
    """One head at N = n_start, never advanced (the fixed-N baseline)."""

    kind = "fixed"

    def next_level(self) -> None:
        return None
