"""Training runs: config -> task + model + curriculum -> run directory.

:class:`Trainer` sets up what one run works on (task, model, optimiser, curriculum, the run's
random generator, the run directory and its guards), saves and restores all of it, and writes the
records; the loop itself is :func:`rnn_timescales.training.loop.train_loop`.

Nothing is lost: the training state is saved atomically at every epoch end, inside long epochs,
and on SIGINT/SIGTERM; :meth:`Trainer.resume` continues a run exactly (same metrics, same weights)
where it stopped. Nothing is trusted blindly: a non-finite loss or gradient never reaches a
checkpoint or a saved state; the run stops, naming the epoch and step, or rolls back to the last
epoch's state with a lower learning rate (``training.divergence``).

Over 400 lines: set-up, save and restore of every object a run holds must stay in one place so
that what is saved is what is restored (the loop itself is training/loop.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from rnn_timescales.config import (  # resume_config: importable here as before
    RESUMABLE, RunConfig, config_difference, merge, resume_config, validate)
from rnn_timescales.errors import ConfigError
from rnn_timescales.runtime import choose_precision, resolve_device
from rnn_timescales.curricula import build_curriculum
from rnn_timescales.models import MODELS, RecurrentModel, build_model
from rnn_timescales.tasks import build_task
from rnn_timescales.runs.checkpoints import CheckpointError, list_run_checkpoints, save_checkpoint
from rnn_timescales.training.guards import Clock, FiniteSteps, PhaseTimes, Signals, model_is_finite
from rnn_timescales.training.loop import train_loop
from rnn_timescales.training.regularizers import build_regularizer
from rnn_timescales.runs.rundir import (
    METRIC_COLUMNS,
    TIMING_COLUMNS,
    RunDirectory,
    default_run_dir,
    existing_run_dir,
    prepare_run_dir,
)
from rnn_timescales.runs.state import (
    EPOCH_STATE,
    STATE_DIR,
    STEP_STATE,
    StateError,
    TrainingState,
    load_latest_state,
    load_state,
    save_state,
)
from rnn_timescales.runs.files import CONFIG, METRICS
from rnn_timescales.runs.verify import DIGESTS_KEY, file_digests

__all__ = ["METRIC_COLUMNS", "TIMING_COLUMNS", "RESUMABLE", "TrainResult", "Trainer", "default_run_dir",
           "resolve_device", "resume", "train"]


def make_optimizer(config: RunConfig, model: RecurrentModel) -> torch.optim.Optimizer:
    """The optimiser of docs/science.md, training (SGD with Nesterov momentum by default, or Adam)."""
    o = config.optimizer
    params = [p for p in model.parameters() if p.requires_grad]
    if o.name == "sgd":
        return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov and o.momentum > 0)
    return torch.optim.Adam(params, lr=o.lr)


@dataclass
class TrainResult:
    """What a finished run leaves behind (all of it is also in the run directory).

    stop_reason: ``target_n``, ``target_level``, ``solved``, ``heads_exhausted``, ``max_epochs``,
    ``time_budget``, ``interrupted`` (SIGINT/SIGTERM; resumable) or ``diverged`` (``message`` says
    where). levels_solved: every level solved (advanced from), in order; solved: their N lists
    (N curricula).
    """

    run_dir: Path
    metrics: pd.DataFrame
    levels_solved: list[dict[str, Any]]
    stop_reason: str
    checkpoints: list[Path] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""

    @property
    def solved(self) -> list[list[int]]:
        return [level["ns"] for level in self.levels_solved if "ns" in level]

    @property
    def n_solved(self) -> int | None:
        """Largest N solved (None if nothing was, or the task has no N)."""
        return max(ns[-1] for ns in self.solved) if self.solved else None


class Trainer:
    """Trains one network under one curriculum as configured, writing into ``run_dir``.

    The same configuration (seed included) gives the same metrics and weights on CPU with the
    same thread count, whether or not the run was interrupted and resumed on the way.
    ``auto_name``: ``run_dir`` is a generated name; if another process takes it first, a suffix
    ``-2``, ``-3``, ... is added instead of failing. ``initial_state``: a model state dict to start
    from instead of the seed's initialisation (e.g. a network trained on another task).
    """

    def __init__(self, config: RunConfig, run_dir: str | Path, progress: bool = True, *, auto_name: bool = False,
                 initial_state: dict[str, torch.Tensor] | None = None) -> None:
        self._build(config, prepare_run_dir(run_dir), progress)
        self.run_directory.auto_name = auto_name
        if initial_state is not None:
            try:
                self.model.load_state_dict(initial_state)
            except RuntimeError as e:
                raise ConfigError(f"initial_state does not fit the configured model: {str(e).splitlines()[0]}") from None

    def _build(self, config: RunConfig, run_dir: Path, progress: bool) -> None:
        self.device = resolve_device(config.device)
        # the run records the precision it used (config.yaml) and, when it chose it, why (its events)
        precision, reason = choose_precision(config.model.precision, self.device,
                                             bf16_supported=MODELS.get(config.model.type).bf16_supported)
        chosen = [{"kind": "precision", "precision": precision, "reason": reason}] if config.model.precision == "auto" else []
        if chosen:
            config = validate(merge(config.to_dict(), {"model": {"precision": precision}}))
        self.config = config
        self.run_directory = RunDirectory(run_dir)
        self.progress = progress
        self.mode = "new"  # new | resume | restart (a run killed before its first state was saved)
        self.warnings: list[str] = []
        self.task = build_task(config.task)
        self.task.check()  # data files are read now, before the run directory is written
        self.model = build_model(config, self.task).to(self.device)
        self.optimizer = make_optimizer(config, self.model)
        self.curriculum = build_curriculum(config.curriculum, self.task)
        self.regularizer = build_regularizer(config, self.task, self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self.epoch = 0  # epochs completed
        self.step = 0  # training steps done in epoch self.epoch + 1
        self.global_step = 0  # training steps done in the run
        self.loss_sum = torch.zeros((), device=self.device)
        self.rows: list[dict] = []
        self.head_rows: list[dict] = []
        self.checkpoints: list[Path] = []
        self.events: list[dict[str, Any]] = chosen
        self.clock = Clock()
        self.epoch_clock = Clock()
        self.elapsed_before = self.epoch_elapsed_before = self.last_epoch_s = 0.0
        self.message = ""
        self.divergence_at: tuple[int, int] | None = None
        self.signals = Signals()
        self.phases = PhaseTimes()

    @property
    def run_dir(self) -> Path:
        return self.run_directory.path

    # --- resuming ------------------------------------------------------------------------------
    @classmethod
    def resume(cls, run_dir: str | Path, overrides: list[str] | None = None, progress: bool = True) -> Trainer:
        """A trainer that continues the run in ``run_dir`` from its newest saved state.

        ``overrides`` (``key=value``) may change only the settings in :data:`RESUMABLE`. Everything
        is checked before anything is written: ConfigError / StateError with a one-line message.
        """
        p = existing_run_dir(run_dir)
        config = resume_config(RunConfig.load(p / CONFIG), overrides)
        state, state_path, warnings = load_latest_state(p)
        trainer = cls.__new__(cls)
        if state is None:
            if list_run_checkpoints(p, include_init=False) or (p / METRICS).is_file():
                raise StateError(
                    f"run directory {str(p)!r} has no training state to resume from (no {STATE_DIR}/{EPOCH_STATE})"
                )
            # Killed before its first state was written: nothing was trained, so start it again.
            trainer._build(config, p, progress)
            trainer.mode = "restart"
            return trainer
        difference = config_difference(state.config, config, where=("in the state", "in config.yaml"))
        if difference is not None:
            raise StateError(f"the training state {str(state_path)!r} does not belong to this run's config.yaml ({difference})")
        trainer._build(config, p, progress)
        trainer.restore(state, clock=True)
        trainer.mode = "resume"
        trainer.warnings = warnings
        return trainer

    def pending_stop_reason(self) -> str | None:
        """Why the run would stop before training a single step (None: there is work to do)."""
        return self.stop_reason()

    # --- the run -------------------------------------------------------------------------------
    def run(self) -> TrainResult:
        """Train until a stopping rule, a divergence or a signal; write and return the result.

        The run directory's lock is released however this ends (a full disk or a missing permission
        while the run starts included), and its heartbeat beats only while this runs."""
        try:
            self._claim()
            with self.run_directory.heartbeat():
                self._open()
                with self.signals.caught():
                    reason = train_loop(self)
                return self._finish(reason)
        finally:
            self.run_directory.release()

    def stop_reason(self) -> str | None:
        """Why the run stops now, or None. Checked between epochs (and before the first step)."""
        cfg = self.config.training
        if self.step > 0:  # inside an epoch (a resumed run): only an exhausted budget stops it here
            if self.over_budget():
                return "time_budget"
            return "max_epochs" if self.epoch >= cfg.max_epochs else None
        if cfg.target_n is not None and self.curriculum.reached(cfg.target_n):
            return "target_n"
        if cfg.target_level is not None and self.curriculum.reached(cfg.target_level):
            return "target_level"
        if self.curriculum.finished:
            return "solved"
        if self.curriculum.n_heads > self.model.n_heads:
            return "heads_exhausted"
        if self.epoch >= cfg.max_epochs:
            return "max_epochs"
        if cfg.time_budget_s is not None and self.clock.elapsed() + self.last_epoch_s > cfg.time_budget_s:
            return "time_budget"
        if self.signals.received is not None:
            return "interrupted"  # at an epoch boundary: the state on disk is current
        return None

    def over_budget(self) -> bool:
        budget = self.config.training.time_budget_s
        return budget is not None and self.clock.elapsed() > budget

    def all_finite(self, finite: FiniteSteps) -> bool:
        """Whether the steps so far and the model are finite; records where it diverged if not."""
        bad = finite.first_bad()
        if bad is not None:
            self.divergence_at = (self.epoch + 1, bad + 1)
            return False
        if not model_is_finite(self.model):
            self.divergence_at = (self.epoch + 1, self.step)
            return False
        return True

    def roll_back(self) -> bool:
        """After a divergence: stop (False), or restore the last epoch's state with the learning
        rate lowered and carry on (True), as ``training.divergence`` says."""
        cfg = self.config.training
        epoch, step = self.divergence_at or (self.epoch + 1, self.step)
        where = f"training diverged at epoch {epoch}, step {step} of {cfg.steps_per_epoch} (the loss or a gradient is not finite)"
        rollbacks = sum(e["kind"] == "rollback" for e in self.events)
        if cfg.divergence == "stop" or rollbacks >= cfg.max_rollbacks:
            why = ("training.divergence is 'stop'" if cfg.divergence == "stop"
                   else f"after {rollbacks} roll-backs, the most training.max_rollbacks allows")
            self.message = (f"{where}; stopped ({why}); the last good state (epoch {self._saved_epoch()}) is kept in "
                            f"{str(self.run_directory.state)!r}")
            self.events.append({"kind": "diverged", "epoch": epoch, "step": step})
            return False
        state = load_state(self.run_directory.state / EPOCH_STATE)
        self.restore(state, clock=False)
        lr_before = self.optimizer.param_groups[0]["lr"]
        for group in self.optimizer.param_groups:
            group["lr"] *= cfg.rollback_lr_factor
        lr_after = self.optimizer.param_groups[0]["lr"]
        self.events.append({"kind": "rollback", "epoch": epoch, "step": step, "to_epoch": state.epoch,
                            "lr_before": lr_before, "lr_after": lr_after})
        self.save_state(EPOCH_STATE)
        tqdm.write(f"rnn-timescales: {where}; rolled back to the end of epoch {state.epoch}, "
                   f"learning rate {lr_before:g} -> {lr_after:g}")
        return True

    def _saved_epoch(self) -> int:
        try:
            return load_state(self.run_directory.state / EPOCH_STATE).epoch
        except StateError:
            return 0

    # --- the run directory ---------------------------------------------------------------------
    def _claim(self) -> None:
        """Claim (a new run) or lock (a resumed one) the run directory."""
        if self.mode == "new":
            self.run_directory.claim()
            if self.run_directory.cleaned:
                tqdm.write(f"rnn-timescales: {str(self.run_dir)!r} held only the lock and the temporary files of a "
                           f"start that was interrupted ({', '.join(self.run_directory.cleaned)}); removed them, "
                           "starting the run again")
        else:
            self.run_directory.lock()

    def _open(self) -> None:
        """Write what a run starts with (the run directory is claimed)."""
        self.clock.start(self.elapsed_before)
        self.epoch_clock.start(self.epoch_elapsed_before)
        self.run_directory.remove_stale()
        self.run_directory.write_config(self.config)
        if self.mode == "resume":
            for w in self.warnings:
                tqdm.write(f"rnn-timescales: warning: {w}")
            self.run_directory.remove_summary()
            self.run_directory.write_metrics(self.rows, self.head_rows)
        else:
            self.save_checkpoint(None, None)
            self.save_state(EPOCH_STATE)

    def save_checkpoint(self, level: dict[str, Any] | None, accuracy: list[float] | None) -> None:
        """The checkpoint of a solved ``level`` (None: the untrained network, at the level it starts at)."""
        path = self.run_directory.checkpoint(None if level is None else self.curriculum.label(level))
        with self.phases("checkpoint"):
            save_checkpoint(path, self.model, config=self.config,
                            level=level if level is not None else self.curriculum.level, epoch=self.epoch,
                            accuracy=accuracy)
        if path not in self.checkpoints:
            self.checkpoints.append(path)

    # --- state ---------------------------------------------------------------------------------
    def capture(self) -> TrainingState:
        """Everything the next training step depends on (see :mod:`rnn_timescales.runs.state`)."""
        return TrainingState(
            config=self.config.to_dict(),
            model=self.model.state_dict(),
            optimizer=self.optimizer.state_dict(),
            curriculum=self.curriculum.state_dict(),
            epoch=self.epoch,
            step=self.step,
            global_step=self.global_step,
            loss_sum=self.loss_sum,
            rng={"generator": self.generator.get_state()},
            rows=self.rows,
            head_rows=self.head_rows,
            checkpoints=[p.name for p in self.checkpoints],
            events=self.events,
            elapsed_s=self.clock.elapsed(),
            epoch_elapsed_s=self.epoch_clock.elapsed() if self.step else 0.0,
            last_epoch_s=self.last_epoch_s,
            phase_times=dict(self.phases.totals),
            regularizer=self.regularizer.state_dict() if self.regularizer is not None else {},
        )

    def save_state(self, name: str) -> None:
        if not model_is_finite(self.model):  # the loop checks first; this is the last line of defence
            raise RuntimeError("refusing to save a training state with a non-finite model")
        with self.phases("state"):
            save_state(self.run_directory.state / name, self.capture())
        if name == EPOCH_STATE:
            (self.run_directory.state / STEP_STATE).unlink(missing_ok=True)

    def restore(self, state: TrainingState, clock: bool) -> None:
        """Put the run back into ``state``; with ``clock``, its wall time too (resuming)."""
        try:
            self.model.load_state_dict(state.model)
            self.optimizer.load_state_dict(state.optimizer)
            self.curriculum.load_state_dict(state.curriculum)
            self.generator.set_state(state.rng["generator"])
            if self.regularizer is not None:
                self.regularizer.load_state_dict(state.regularizer)
        except (RuntimeError, ValueError, KeyError, TypeError) as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise StateError(f"the training state of {str(self.run_dir)!r} does not fit its configuration: {first}") from None
        self.epoch, self.step, self.global_step = state.epoch, state.step, state.global_step
        self.loss_sum = state.loss_sum.to(self.device).clone()
        self.rows = list(state.rows)
        self.head_rows = list(state.head_rows)
        self.checkpoints = [self.run_directory.checkpoints / name for name in state.checkpoints]
        self.events = list(state.events)
        if clock:
            self.phases = PhaseTimes(state.phase_times)
            self.clock.start(state.elapsed_s)
            self.elapsed_before = state.elapsed_s
            self.epoch_elapsed_before = state.epoch_elapsed_s
            self.last_epoch_s = state.last_epoch_s

    # --- records -------------------------------------------------------------------------------
    def _tau_stats(self) -> dict[str, float]:
        """Statistics of the trained timescales (time steps); NaN for a model without them."""
        tau = self.model.timescales()
        if tau is None:
            return {f"tau_{s}": float("nan") for s in ("mean", "median", "std", "min", "max")}
        tau = tau.detach().double().cpu().numpy()
        return {
            "tau_mean": float(tau.mean()),
            "tau_median": float(np.median(tau)),
            "tau_std": float(tau.std(ddof=1)) if tau.size > 1 else 0.0,
            "tau_min": float(tau.min()),
            "tau_max": float(tau.max()),
        }

    def end_epoch(self, level: dict[str, Any], acc: list[float], solved: bool) -> None:
        """Close the epoch just trained and evaluated at ``level``: count it, record its metrics
        (metrics.csv, head_metrics.csv) and reset the per-epoch counters."""
        epoch_s = self.epoch_clock.elapsed()
        self.epoch += 1
        ns = level.get("ns")
        labels = self.curriculum.head_labels(level)
        self.rows.append(
            {
                "epoch": self.epoch,
                "n_min": ns[0] if ns else None,
                "n_max": ns[-1] if ns else None,
                "n_heads": len(acc),
                "loss": float(self.loss_sum) / self.config.training.steps_per_epoch,
                "accuracy_mean": sum(acc) / len(acc),
                "accuracy_newest": acc[-1],
                "accuracy_min": min(acc),
                **self._tau_stats(),
                "lr": self.optimizer.param_groups[0]["lr"],
                "solved": bool(solved),
                "wall_time_s": self.clock.elapsed(),
                "epoch_time_s": epoch_s,
                "step": self.global_step,
                "level_name": self.curriculum.level_name,
                "level": self.curriculum.level_value(level),
            }
        )
        self.head_rows.extend({"epoch": self.epoch, "head": k, "n": n, "accuracy": a}
                              for k, (n, a) in enumerate(zip(labels, acc)))
        with self.phases("record"):
            self.run_directory.write_metrics(self.rows, self.head_rows)
        self.step = 0
        self.loss_sum = torch.zeros((), device=self.device)
        self.last_epoch_s = epoch_s

    def _finish(self, stop_reason: str) -> TrainResult:
        levels = [dict(level) for level in self.curriculum.history]
        if stop_reason != "diverged":
            try:  # the weights as they are now, for evaluating a run that solved nothing
                save_checkpoint(self.run_directory.final_checkpoint, self.model, config=self.config,
                                level=self.curriculum.level, epoch=self.epoch)
                if self.run_directory.final_checkpoint not in self.checkpoints:
                    self.checkpoints.append(self.run_directory.final_checkpoint)
            except CheckpointError as e:
                self.message = self.message or str(e)
        values = [v for v in (self.curriculum.level_value(level) for level in levels) if v is not None]
        solved_ns = [level["ns"] for level in levels if "ns" in level]
        summary = {
            "stop_reason": stop_reason,
            "epochs": len(self.rows),
            "steps": self.global_step,
            "wall_time_s": self.clock.elapsed(),
            "n_max_solved": max((ns[-1] for ns in solved_ns), default=None),
            "solved": solved_ns,
            "level_name": self.curriculum.level_name,
            "level_solved": max(values, default=None),
            "levels_solved": levels,
            "checkpoints": [p.name for p in self.checkpoints],
            "events": self.events,
            "precision": self.config.model.precision,
            "precision_reason": next((e["reason"] for e in reversed(self.events) if e["kind"] == "precision"),
                                     f"{self.config.model.precision}: set in the configuration"),
            "message": self.message,
            "phase_times_s": {k: round(v, 3) for k, v in sorted(self.phases.totals.items())},
            "resumable": stop_reason in ("interrupted", "time_budget", "max_epochs", "diverged"),
            DIGESTS_KEY: file_digests(self.run_dir),  # what `sweep verify` checks the files against
        }
        self.run_directory.write_summary(summary)
        metrics = pd.DataFrame(self.rows, columns=METRIC_COLUMNS)
        return TrainResult(self.run_dir, metrics, levels, stop_reason, list(self.checkpoints), list(self.events),
                           self.message)


def train(config: RunConfig, run_dir: str | Path, progress: bool = True, *,
          initial_state: dict[str, torch.Tensor] | None = None) -> TrainResult:
    """Train as ``config`` says and write the run directory; see :class:`Trainer`."""
    return Trainer(config, run_dir, progress=progress, initial_state=initial_state).run()


def resume(run_dir: str | Path, overrides: list[str] | None = None, progress: bool = True) -> TrainResult:
    """Continue the run in ``run_dir`` where it stopped; see :meth:`Trainer.resume`."""
    return Trainer.resume(run_dir, overrides, progress=progress).run()
