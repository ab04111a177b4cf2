"""The training loop, top to bottom.

Each pass: stop? -> train steps -> evaluate -> record -> checkpoint / advance -> save state. The
objects it works on (task, model, optimiser, curriculum, run directory, guards) are set up by
:class:`rnn_timescales.training.trainer.Trainer`; everything here is the order of events.
"""

from __future__ import annotations

import time
from typing import Any

from tqdm.auto import tqdm

from rnn_timescales.training.guards import FiniteSteps
from rnn_timescales.runs.state import EPOCH_STATE, STEP_STATE
from rnn_timescales.training.steps import accuracy, train_step

# ``t`` below is always the run's :class:`rnn_timescales.training.trainer.Trainer` (not imported:
# the trainer calls this loop, so the loop names it only here, keeping the imports one way).
Trainer = Any


def train_loop(t: Trainer) -> str:
    """Train until a stopping rule, a divergence or a signal; returns why it stopped."""
    cfg = t.config.training
    phase = t.phases
    with ProgressBar(t) as bar:
        while True:
            reason = t.stop_reason()
            if reason is not None:
                if reason == "time_budget" and t.step == 0:
                    t.save_state(EPOCH_STATE)  # the clock as it ran out, so a resumed run decides the same
                bar.finish(reason)
                return reason
            level = t.curriculum.level
            status = train_steps(t, level)
            if status == "diverged":
                if t.roll_back():
                    continue
                return "diverged"
            if status != "done":  # a signal or the budget, inside the epoch
                t.save_state(STEP_STATE)
                bar.finish(status)
                return status
            with phase("evaluate"):
                acc = accuracy(t.model, t.task, level, cfg.eval_batches, cfg.batch_size, t.generator, t.device).tolist()
            with phase("curriculum"):
                solved = t.curriculum.solved(acc)
                advance = t.curriculum.should_advance(solved, t.global_step)
            t.end_epoch(level, acc, solved)
            if advance:
                t.save_checkpoint(level, acc)
                with phase("curriculum"):
                    t.curriculum.advance()
            t.save_state(EPOCH_STATE)
            bar.update(level, acc)


def train_steps(t: Trainer, level: dict[str, Any]) -> str:
    """Training batches from ``t.step`` to the end of the epoch: returns ``done``, ``interrupted``,
    ``time_budget`` or ``diverged``. The state is also saved every ``training.state_every_s``."""
    cfg = t.config.training
    if t.step == 0:
        t.epoch_clock.start()
    t.model.train()
    finite = FiniteSteps(cfg.steps_per_epoch, t.device)
    every = cfg.state_every_s
    next_save = time.perf_counter() + every if every is not None else None
    # no state of its own: the lowered rate is saved with the optimiser, so a resumed run keeps it
    decay_steps = set(t.config.optimizer.lr_decay_steps)
    status = "done"
    while t.step < cfg.steps_per_epoch:
        if t.signals.received is not None:
            status = "interrupted"
            break
        if t.over_budget():
            status = "time_budget"
            break
        if next_save is not None and time.perf_counter() >= next_save:
            if not t.all_finite(finite):
                break
            t.save_state(STEP_STATE)
            next_save = time.perf_counter() + every
        with t.phases("data"):
            batch = t.task.sample(level, cfg.batch_size, t.generator, t.device)
        with t.phases("step"):
            if t.regularizer is not None:
                t.regularizer.prepare(t.model, level, t.global_step)
            loss = train_step(t.model, t.optimizer, batch, t.config.optimizer.grad_clip, t.generator, t.regularizer)
            finite.record(t.step, loss, t.model)
            t.loss_sum += loss
        t.step += 1
        t.global_step += 1
        if t.global_step in decay_steps:
            for group in t.optimizer.param_groups:
                group["lr"] *= t.config.optimizer.lr_decay_factor
    t.model.eval()
    return status if t.all_finite(finite) else "diverged"


def _clock(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) of a duration in seconds."""
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ProgressBar:
    """The progress bar of a run: it counts the work done, epochs. Without a time budget they are
    counted out of ``max_epochs`` (a bar with its end); with one, the budget (what ends such runs,
    at an epoch count nobody can know in advance) is shown as time used out of time allowed beside
    the count, and the bar has no end it could stop short of. When the run stops, the reason is
    written on the bar (``stopped: target_n``, ``stopped: time_budget``, ...)."""

    def __init__(self, t: Trainer) -> None:
        self.t = t
        cfg = t.config.training
        self.budget = cfg.time_budget_s
        if self.budget:
            self.bar = tqdm(total=None, unit="epoch", desc="train", initial=t.epoch, disable=not t.progress,
                            dynamic_ncols=True,
                            bar_format="{desc}: {n} epochs done (at most " + str(cfg.max_epochs) + ") [{elapsed}{postfix}]")
        else:
            self.bar = tqdm(total=cfg.max_epochs, unit="epoch", desc="train", initial=t.epoch, disable=not t.progress,
                            dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| {n}/{total} epochs [{elapsed}<{remaining}{postfix}]")
        self.postfix = ""

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()

    def _budget(self, spent: bool = False) -> str:
        if not self.budget:
            return ""
        used = self.budget if spent else min(self.t.clock.elapsed(), self.budget)
        return f"time {_clock(used)} of the {_clock(self.budget)} budget, "

    def update(self, level: dict[str, Any], acc: list[float]) -> None:
        t = self.t
        self.bar.update(t.epoch - self.bar.n)
        self.postfix = (f"{t.task.describe(level)} acc={sum(acc) / len(acc):.3f} newest={acc[-1]:.3f} "
                        f"loss={t.rows[-1]['loss']:.3f}")
        self.bar.set_postfix_str(self._budget() + self.postfix)

    def finish(self, reason: str) -> None:
        """Write why the run stopped on the bar."""
        self.bar.set_postfix_str(self._budget(spent=reason == "time_budget") + (self.postfix + "; " if self.postfix else "")
                                 + f"stopped: {reason}")
