"""What keeps a run safe: its clock and time budget, the signals that stop it, and the check that
no non-finite loss or gradient ever reaches a checkpoint or a saved state.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from typing import Iterator

import torch

from rnn_timescales.runs.checkpoints import non_finite_tensors


class Clock:
    """Wall time used by a run, in seconds, counting the time of earlier sessions of a resumed run."""

    def __init__(self, elapsed_before: float = 0.0) -> None:
        self.start(elapsed_before)

    def start(self, elapsed_before: float = 0.0) -> None:
        """Count from now, as if ``elapsed_before`` seconds had already passed."""
        self._t0 = time.perf_counter() - elapsed_before

    def elapsed(self) -> float:
        return time.perf_counter() - self._t0


class PhaseTimes:
    """Wall time a run spends in each phase (``data``, ``step``, ``evaluate``, ``record``,
    ``checkpoint``, ``state``, ``curriculum``), in seconds, summed over the run (resumes included).
    On a GPU the phases are timed without synchronising, so ``step`` counts launches, not kernels."""

    def __init__(self, totals: dict[str, float] | None = None) -> None:
        self.totals: dict[str, float] = dict(totals or {})

    @contextlib.contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.totals[phase] = self.totals.get(phase, 0.0) + time.perf_counter() - start


class Signals:
    """SIGINT and SIGTERM, caught while a run trains: the first one sets :attr:`received` (the loop
    saves the state after the current step and stops); a second one acts as usual (the state on
    disk is then the previous, consistent one). Outside the main thread nothing is caught."""

    def __init__(self) -> None:
        self.received: int | None = None

    @contextlib.contextmanager
    def caught(self) -> Iterator[Signals]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

        def handler(signum: int, frame: object) -> None:
            self.received = signum
            signal.signal(signum, previous[signum] if previous[signum] is not None else signal.SIG_DFL)

        for s in previous:
            signal.signal(s, handler)
        try:
            yield self
        finally:
            for s, h in previous.items():
                signal.signal(s, h if h is not None else signal.SIG_DFL)


class FiniteSteps:
    """Whether every training step of an epoch had a finite loss and finite gradients, recorded on
    the device without a synchronisation per step and checked (once) before anything is saved."""

    def __init__(self, n_steps: int, device: torch.device) -> None:
        self._finite = torch.ones(n_steps, dtype=torch.bool, device=device)

    def record(self, index: int, loss: torch.Tensor, model: torch.nn.Module) -> None:
        """Record step ``index`` (0-based) after its backward pass and update."""
        ok = torch.isfinite(loss)
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        if grads:
            ok = ok & torch.stack([torch.isfinite(g).all() for g in grads]).all()
        self._finite[index] = ok

    def first_bad(self) -> int | None:
        """The 0-based index of the first step that was not finite, or None."""
        bad = (~self._finite).nonzero()
        return int(bad[0, 0]) if bad.numel() else None


def model_is_finite(model: torch.nn.Module) -> bool:
    """Whether every floating-point tensor of the model's state is finite."""
    return not non_finite_tensors(model.state_dict())
