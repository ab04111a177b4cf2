"""The training runs of the robustness analyses that train (:mod:`.retraining`): how a run is
planned (:class:`TrainingPlan`), the run configurations of retraining, continuation and transfer,
and a planned run directory (:class:`PlannedRun`: new, existing or resumed, asked of
:func:`~rnn_timescales.runs.rundir.decide_run`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from rnn_timescales.analysis.robustness.strengths import Progress
from rnn_timescales.config import RunConfig, merge, parse_override, preset_dict, validate
from rnn_timescales.errors import ConfigError
from rnn_timescales.curricula import build_curriculum
from rnn_timescales.models import build_model
from rnn_timescales.tasks import build_task
from rnn_timescales.runs.checkpoints import CheckpointError, load_checkpoint
from rnn_timescales.runs.rundir import RunDecision, decide_run
from rnn_timescales.training.trainer import Trainer, train
from rnn_timescales.runs.files import CHECKPOINTS, METRICS


TRAIN_PRESETS = ("quick", "paper")
RETRAIN_EPOCHS = 20  # the paper's fixed retraining budget
GENERALISATION_EPOCHS = 100  # cap of a continuation or transfer run
TRANSFER_TASKS = {"parity": "dms", "dms": "parity"}
CHANGES = ("none", "w", "tau", "ablation")


@dataclass(frozen=True)
class TrainingPlan:
    """How the training analyses train.

    preset: whose epoch structure (``steps_per_epoch``, ``eval_batches``, ``batch_size``) every run
    uses: ``quick`` (100 training and 10 evaluation batches, default) or ``paper`` (600 and 50).
    epochs: epochs of each run: the fixed retraining budget (default 20, the paper's), and the cap
    of a continuation or transfer run (default 100). time_budget_s: wall-clock cap per run.
    new_n: continuation: train until N_max + new_n is solved; transfer: until the first level's
    N_max + new_n - 1 (new_n levels of a curriculum that adds one N at a time).
    overrides: ``key=value`` settings applied to every run last (e.g. ``optimizer.lr=0.01``).
    device: where the runs train. progress: show each run's progress bar.
    """

    preset: str = "quick"
    epochs: int | None = None
    time_budget_s: float | None = None
    new_n: int = 5
    overrides: tuple[str, ...] = ()
    device: str = "cpu"
    progress: bool = False

    def __post_init__(self) -> None:
        if self.preset not in TRAIN_PRESETS:
            raise ValueError(f"training preset must be one of {', '.join(TRAIN_PRESETS)}, got {self.preset!r}")
        for name in ("epochs", "new_n"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1):
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.time_budget_s is not None and not self.time_budget_s > 0:
            raise ValueError(f"time budget must be > 0 seconds, got {self.time_budget_s!r}")
        for text in self.overrides:
            parse_override(text)

    def epochs_or(self, default: int) -> int:
        return self.epochs if self.epochs is not None else default


# --- configurations --------------------------------------------------------------------------------
def _n_curriculum(config: RunConfig) -> None:
    task = build_task(config.task)
    curriculum = build_curriculum(config.curriculum, task)
    if curriculum.level_name != "n_max":
        raise ValueError(f"this analysis needs a curriculum over N (single, multi, sliding, fixed); the network's "
                         f"is {config.curriculum.kind!r}")


def starting_at(config: RunConfig | dict, level: dict[str, Any]) -> RunConfig:
    """``config`` with its curriculum starting at ``level`` (``{"ns": [...]}``), for every N
    curriculum: ``n_start`` = the smallest N and ``initial_heads`` = the number of heads (which only
    the multi-head curriculum reads; single-head and fixed levels have one N, a sliding level has
    ``window``). ValueError when the curriculum cannot start there (e.g. a sliding window of
    another width)."""
    data = config.to_dict() if isinstance(config, RunConfig) else config
    ns = [int(n) for n in level["ns"]]
    out = validate(merge(data, {"curriculum": {"n_start": ns[0], "initial_heads": len(ns)}}))
    _n_curriculum(out)
    start = build_curriculum(out.curriculum, build_task(out.task)).level
    if list(start["ns"]) != ns:
        raise ValueError(f"a {out.curriculum.kind} curriculum cannot start at N = {ns} (it would start at {start['ns']})")
    return out


def next_level(config: RunConfig, level: dict[str, Any]) -> dict[str, Any]:
    """The level ``config``'s curriculum moves to after solving ``level``; ValueError if there is none."""
    start = starting_at(config, level)
    following = build_curriculum(start.curriculum, build_task(start.task)).next_level()
    if following is None:
        raise ValueError(f"a {config.curriculum.kind} curriculum has no level after N = {level['ns']}; "
                         "continuation needs single, multi or sliding")
    return following


def _training(data: dict, plan: TrainingPlan, epochs: int, target_n: int | None) -> RunConfig:
    """``data`` with the plan's epoch structure, stopping rules, device and overrides."""
    preset = preset_dict(plan.preset)["training"]
    layer = {
        "preset": "custom",
        "device": plan.device,
        "training": {**{k: preset[k] for k in ("batch_size", "steps_per_epoch", "eval_batches")},
                     "max_epochs": epochs, "target_n": target_n, "target_level": None,
                     "time_budget_s": plan.time_budget_s},
    }
    data = merge(data, layer)
    for text in plan.overrides:
        data = merge(data, parse_override(text))
    return validate(data)


def retrain_config(ckpt, plan: TrainingPlan) -> RunConfig:
    """The run that retrains ``ckpt``'s network at its own level for ``plan.epochs`` (default 20)
    epochs: the curriculum never advances, and ``metrics.csv`` records per epoch whether the level
    counted as solved."""
    start = starting_at(ckpt.config, ckpt.level).to_dict()
    start = merge(start, {"curriculum": {"advance": "never"}})
    return _training(start, plan, plan.epochs_or(RETRAIN_EPOCHS), None)


def continuation_config(ckpt, plan: TrainingPlan) -> RunConfig:
    """The run that continues ``ckpt``'s curriculum from the level after the checkpoint's until
    N_max + ``plan.new_n`` is solved, or the epoch cap (default 100)."""
    following = next_level(ckpt.config, ckpt.level)
    start = starting_at(ckpt.config, following).to_dict()
    start = merge(start, {"curriculum": {"advance": "accuracy"}})
    return _training(start, plan, plan.epochs_or(GENERALISATION_EPOCHS), ckpt.n_max + plan.new_n)


def transfer_config(ckpt, plan: TrainingPlan, task: str | None = None) -> RunConfig:
    """The run that trains ``ckpt``'s network on the other binary task (``task``; default: parity
    <-> DMS) from N = 2 under its own curriculum kind and settings (a ``fixed`` network at its own
    N), with the task settings (inputs, time scale) it had, until the first level's
    N_max + ``plan.new_n`` - 1 is solved or the epoch cap (default 100)."""
    source = ckpt.config.task.name
    target = task or TRANSFER_TASKS.get(source)
    if target is None or source not in TRANSFER_TASKS or target not in TRANSFER_TASKS:
        raise ValueError(f"transfer is between {' and '.join(TRANSFER_TASKS)}; this network was trained on {source!r}")
    if target == source:
        raise ValueError(f"the transfer task must differ from the network's own ({source!r})")
    data = ckpt.config.to_dict()
    data["task"] = {**data["task"], "name": target}
    n_start = ckpt.n_max if ckpt.curriculum == "fixed" else 2
    data = merge(data, {"curriculum": {"n_start": n_start, "advance": "accuracy"}})
    try:
        first = validate(data)
    except ConfigError as e:
        raise ValueError(f"cannot train this network on {target}: {e}") from None
    _n_curriculum(first)
    ns = build_curriculum(first.curriculum, build_task(first.task)).level["ns"]
    return _training(data, plan, plan.epochs_or(GENERALISATION_EPOCHS), ns[-1] + plan.new_n - 1)


# --- runs --------------------------------------------------------------------------------------------
def _same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k].cpu(), b[k].cpu()) for k in a)


@dataclass
class PlannedRun:
    """One training run of an analysis: its configuration, where it goes, what it starts from
    (``initial_state``: a model state dict; None: the network of the configuration's seed)."""

    config: RunConfig
    run_dir: Path
    initial_state: dict[str, torch.Tensor] | None = None
    decision: RunDecision | None = field(default=None, init=False)

    @property
    def status(self) -> str:
        """``new``, or ``existing`` (the same run, to reuse or resume), once :meth:`check` decided."""
        return "new" if self.decision is None or self.decision.action == "new" else "existing"

    def check(self) -> PlannedRun:
        """Decide whether the run is ``new``, or ``existing`` (the same run, to reuse or resume;
        :func:`~rnn_timescales.runs.rundir.decide_run`); ValueError (one line) if ``run_dir``
        holds something else."""
        where = str(self.run_dir)
        self.decision = decide_run(
            self.run_dir, self.config,
            different=lambda difference: ValueError(f"{where!r} holds a run with other settings ({difference}); "
                                                    "remove it or choose another --out"),
            unreadable=lambda e: ValueError(f"{where!r} holds a run whose configuration cannot be read ({e}); "
                                            "remove it or choose another --out"),
            foreign=lambda e: ValueError(str(e)))
        if self.decision.action == "new":
            return self
        init = self.run_dir / CHECKPOINTS / "init.safetensors"
        if init.is_file():
            try:
                started = load_checkpoint(init).model.state_dict()
            except CheckpointError as e:
                raise ValueError(str(e)) from None
            expected = self.initial_state if self.initial_state is not None else build_model(self.config).state_dict()
            if not _same_tensors(started, expected):
                raise ValueError(f"{where!r} holds a run that started from another network; remove it or "
                                 "choose another --out")
        self._resumed(progress=False)  # its training state must be readable and fit its configuration
        return self

    def _resumed(self, progress: bool) -> Trainer:
        """A trainer continuing the run in ``run_dir`` with this configuration's stopping rules."""
        return Trainer.resume(self.run_dir, self.decision.overrides, progress=progress)

    def run(self, progress: bool = False) -> pd.DataFrame:
        """Train (or resume, or reuse) the run; returns its ``metrics.csv`` up to where this
        configuration stops (a reused run may have trained further under a larger budget; runs are
        deterministic, so its first epochs are exactly those of this one).

        A SIGINT or SIGTERM while it trains saves the run's state and raises KeyboardInterrupt, so
        that the study stops there (rather than going on with the next run) and resumes next time."""
        result = None
        if self.status == "new":
            result = train(self.config, self.run_dir, progress=progress, initial_state=self.initial_state)
        else:
            trainer = self._resumed(progress)
            if trainer.mode == "restart" and self.initial_state is not None:
                # killed before its first state was saved: it starts again, from the same network
                trainer.model.load_state_dict(self.initial_state)
            if trainer.mode == "restart" or trainer.pending_stop_reason() is None:
                result = trainer.run()
        if result is not None and result.stop_reason == "interrupted":
            raise KeyboardInterrupt(f"interrupted; {self.run_dir} saved its state and resumes when run again")
        metrics = read_metrics(self.run_dir)
        c = self.config.training
        metrics = metrics[metrics["epoch"] <= c.max_epochs]
        if c.target_n is not None:
            reached = metrics.index[metrics["solved"].astype(bool) & (metrics["n_max"] >= c.target_n)]
            if len(reached):
                metrics = metrics.loc[:reached[0]]
        return metrics.reset_index(drop=True)


def read_metrics(run_dir: Path) -> pd.DataFrame:
    """The ``metrics.csv`` of a run (empty when it has not finished an epoch)."""
    path = Path(run_dir) / METRICS
    return pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=["epoch", "n_min", "n_max", "solved"])


def epochs_per_level(metrics: pd.DataFrame) -> pd.DataFrame:
    """Epochs spent at each level of an N curriculum, from a run's ``metrics.csv``.

    Returns one row per level, in the order trained: ``n_min``, ``n`` (the level's largest N),
    ``epochs`` (epochs trained at it), ``epochs_total`` (epochs of the run up to and including
    it), ``solved`` (whether its last epoch solved it; False for the level a run stopped at, whose
    ``epochs`` is then a lower bound).
    """
    if metrics.empty:
        return pd.DataFrame(columns=["n_min", "n", "epochs", "epochs_total", "solved"])
    m = metrics.reset_index(drop=True)
    level = (m[["n_min", "n_max"]].diff().abs().sum(axis=1) > 0).cumsum()
    rows = [{"n_min": int(g["n_min"].iloc[0]), "n": int(g["n_max"].iloc[0]), "epochs": len(g),
             "epochs_total": int(g["epoch"].iloc[-1]), "solved": bool(g["solved"].iloc[-1])}
            for _, g in m.groupby(level, sort=True)]
    return pd.DataFrame(rows)


def _tick(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def run_name(*parts: object) -> str:
    """A run directory name from its parts (anything but letters, digits, '.', '-' becomes '_')."""
    return "_".join(re.sub(r"[^\w.-]+", "_", str(p)).strip("_") for p in parts if str(p) != "")
