"""Robustness and generalisation measured by training (docs/robustness.md): retraining a changed
network, continuing a curriculum beyond its last N, and transfer between parity and DMS.

Every training here is an ordinary run of the trainer (:func:`rnn_timescales.training.trainer.train`
with ``initial_state``) written into its own run directory under ``runs_dir``, so it can be
inspected, evaluated and analysed like any run. A run directory that already holds the same run
(same configuration, same starting network) is reused: a finished one is read back, an interrupted
one is resumed exactly (a long analysis killed half-way continues where it stopped when it is
started again); one holding another run is refused before any work starts.

The configurations come from the checkpoint's own (the run configuration it was trained with, or
for the paper code's checkpoints the one :func:`rnn_timescales.runs.paper.reference_config`
describes): same model, task settings, curriculum kind and seed, with the epoch structure of a
preset (``quick`` by default) and the stopping rules of the analysis. The optimiser starts afresh
(its momentum is not part of a checkpoint), and so does the run's random generator (from the seed).

Functions return DataFrames; what they write is the run directories.

The three kinds (retraining, continuation, transfer) share one planned-run machinery (new /
existing / resumed run directories) in :mod:`.retraining_plans`; its names are importable from here.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

from rnn_timescales.analysis.robustness.changes import ablated_copy, perturbed_copy
from rnn_timescales.analysis.robustness.strengths import Progress
from rnn_timescales.analysis.robustness.streams import derived_seed
from rnn_timescales.curricula import build_curriculum
from rnn_timescales.models import build_model
from rnn_timescales.tasks import build_task
from rnn_timescales.training.steps import accuracy
from rnn_timescales.studies.retraining_plans import (
    _tick,
    CHANGES,
    continuation_config,
    epochs_per_level,
    GENERALISATION_EPOCHS,
    next_level,
    PlannedRun,
    read_metrics,
    retrain_config,
    RETRAIN_EPOCHS,
    run_name,
    starting_at,
    TRAIN_PRESETS,
    TrainingPlan,
    transfer_config,
    TRANSFER_TASKS,
)

__all__ = [
    "Change",
    "changed_network",
    "CHANGES",
    "continuation_config",
    "continuation_sweep",
    "epochs_per_level",
    "GENERALISATION_EPOCHS",
    "LEVEL_COLUMNS",
    "LevelsJob",
    "next_level",
    "plan_continuation",
    "plan_retraining",
    "plan_transfer",
    "PlannedRun",
    "read_metrics",
    "retrain_changes",
    "RETRAIN_COLUMNS",
    "retrain_config",
    "RETRAIN_EPOCHS",
    "retrain_summary",
    "retrain_sweep",
    "RetrainJob",
    "run_curriculum",
    "run_name",
    "starting_at",
    "TRAIN_PRESETS",
    "TrainingPlan",
    "transfer_config",
    "transfer_sweep",
    "TRANSFER_TASKS",
]


# --- retraining --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    """One change to retrain from: ``none`` (the unchanged network, the baseline), ``w`` or ``tau``
    (a perturbation of strength ``epsilon``, draw ``draw``), or ``ablation`` (the neurons of
    ``group``, silenced at once)."""

    kind: str
    epsilon: float = float("nan")
    group: str = ""
    draw: int = 0

    @property
    def label(self) -> str:
        if self.kind == "none":
            return "none"
        if self.kind == "ablation":
            return f"ablation-{self.group}"
        return f"{self.kind}{self.epsilon:g}-d{self.draw}"


def retrain_changes(w_epsilons: Sequence[float] = (), tau_epsilons: Sequence[float] = (),
                    ablate_groups: Sequence[str] = (), draws: int = 1) -> list[Change]:
    """The unchanged network and every requested change, ``draws`` independent perturbations per
    strength."""
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    for eps in (*w_epsilons, *tau_epsilons):
        if not (math.isfinite(eps) and eps > 0):
            raise ValueError(f"retraining perturbation strengths must be > 0, got {eps}")
    out = [Change("none")]
    out += [Change("w", float(e), draw=d) for e in dict.fromkeys(w_epsilons) for d in range(draws)]
    out += [Change("tau", float(e), draw=d) for e in dict.fromkeys(tau_epsilons) for d in range(draws)]
    out += [Change("ablation", group=g) for g in dict.fromkeys(ablate_groups)]
    return out


def changed_network(model, change: Change, seed: int, *, w_mode: str = "normalized", tau_mode: str = "normalized_abs",
                    direction: str = "offdiag", ablation: dict[str, np.ndarray] | None = None, rule: str = "spec"):
    """A copy of ``model`` with ``change`` applied (phase 1's changes): each perturbation draw from
    its own seed derived from ``seed``, the strength and the draw; ablation silences
    ``ablation[change.group]`` (see :func:`~.sweeps.ablation_groups`) with ``rule``."""
    if change.kind == "none":
        return copy.deepcopy(model)
    if change.kind in ("w", "tau"):
        gen = torch.Generator().manual_seed(derived_seed(seed, f"retrain/{change.kind}/{change.epsilon!r}/{change.draw}"))
        mode = w_mode if change.kind == "w" else tau_mode
        return perturbed_copy(model, change.kind, change.epsilon, gen, mode, direction)
    if change.kind == "ablation":
        if not ablation or change.group not in ablation:
            raise ValueError(f"no neurons chosen for ablation group {change.group!r}")
        return ablated_copy(model, ablation[change.group], rule)
    raise ValueError(f"unknown change {change.kind!r}; choose one of {', '.join(CHANGES)}")


RETRAIN_COLUMNS = ["change", "epsilon", "group", "neurons", "draw", "epoch", "accuracy_mean", "accuracy_newest",
                   "solved", "run"]


@dataclass
class RetrainJob:
    """The retraining runs of one checkpoint, checked and ready (:func:`plan_retraining`)."""

    ckpt: Any
    changes: list[Change]
    runs: list[PlannedRun]
    neurons: dict[str, str]
    seed: int

    def __call__(self, progress: Progress | None = None, show_runs: bool = False) -> pd.DataFrame:
        """Accuracy before retraining (epoch 0) and after every retraining epoch: one row per change,
        draw and epoch (columns :data:`RETRAIN_COLUMNS` and ``n_max``)."""
        rows = []
        for i, (change, run) in enumerate(zip(self.changes, self.runs)):
            before = _accuracy_before(run, self.seed)
            metrics = run.run(progress=show_runs)
            base = {"change": change.kind, "epsilon": change.epsilon, "group": change.group,
                    "neurons": self.neurons.get(change.group, ""), "draw": change.draw, "run": str(run.run_dir)}
            rows.append({**base, "epoch": 0, "accuracy_mean": float(np.mean(before)),
                         "accuracy_newest": float(before[-1]), "solved": bool(run_curriculum(run).solved(before))})
            rows += [{**base, "epoch": int(r.epoch), "accuracy_mean": float(r.accuracy_mean),
                      "accuracy_newest": float(r.accuracy_newest), "solved": bool(r.solved)}
                     for r in metrics.itertuples()]
            _tick(progress, 1, len(self.runs))
        table = pd.DataFrame(rows, columns=RETRAIN_COLUMNS)
        table["n_max"] = self.ckpt.n_max
        return table


def run_curriculum(run: PlannedRun):
    return build_curriculum(run.config.curriculum, build_task(run.config.task))


def _accuracy_before(run: PlannedRun, seed: int) -> list[float]:
    """Each head's accuracy of the run's starting network at its level, measured as the trainer
    measures it after an epoch (``eval_batches`` fresh batches), from a seed of its own."""
    config = run.config
    task = build_task(config.task)
    model = build_model(config)
    if run.initial_state is not None:
        model.load_state_dict(run.initial_state)
    device = torch.device(config.device if config.device != "auto" else "cpu")
    model = model.to(device).eval()
    gen = torch.Generator(device=device).manual_seed(derived_seed(seed, "retrain/before"))
    level = run_curriculum(run).level
    return accuracy(model, task, level, config.training.eval_batches, config.training.batch_size, gen, device).tolist()


def plan_retraining(ckpt, name: str, runs_dir: Path, plan: TrainingPlan, changes: Sequence[Change], *,
                    seed: int = 0, ablation: dict[str, np.ndarray] | None = None, w_mode: str = "normalized",
                    tau_mode: str = "normalized_abs", direction: str = "offdiag", rule: str = "spec") -> RetrainJob:
    """Every retraining run of ``ckpt`` (called ``name``): the changed networks, their
    configurations (:func:`retrain_config`) and run directories
    ``runs_dir/retrain_<name>_N<n>_<change>``, all checked before any training."""
    config = retrain_config(ckpt, plan)
    model = ckpt.model.cpu()
    runs = []
    for change in changes:
        changed = changed_network(model, change, seed, w_mode=w_mode, tau_mode=tau_mode, direction=direction,
                                  ablation=ablation, rule=rule)
        state = {k: v.detach().cpu().clone() for k, v in changed.state_dict().items()}
        run_dir = Path(runs_dir) / run_name("retrain", name, f"N{ckpt.n_max}", change.label)
        runs.append(PlannedRun(config, run_dir, state).check())
    neurons = {g: " ".join(str(int(i)) for i in idx) for g, idx in (ablation or {}).items()}
    return RetrainJob(ckpt, list(changes), runs, neurons, seed)


def retrain_sweep(ckpt, runs_dir: str | Path, changes: Sequence[Change] | None = None, *,
                  plan: TrainingPlan | None = None, name: str | None = None, seed: int = 0,
                  ablation: dict[str, np.ndarray] | None = None, progress: Progress | None = None,
                  **change_options: str) -> pd.DataFrame:
    """Retrain ``ckpt``'s network after each change (default: none, W at epsilon = 0.464, tau at
    epsilon = 0.1) for a fixed number of epochs at its own level, and the unchanged network the
    same way (same data: every run has the checkpoint's seed).

    Returns one row per change and epoch, epoch 0 being the changed network before retraining:
    ``change``, ``epsilon``, ``group``, ``neurons``, ``draw``, ``epoch``, ``accuracy_mean`` (mean
    over heads), ``accuracy_newest``, ``solved`` (the curriculum's rule), ``run`` (its directory),
    ``n_max``. :func:`retrain_summary` reduces it to accuracy after the budget and epochs to recover.
    """
    plan = plan or TrainingPlan()
    changes = list(changes) if changes is not None else retrain_changes([0.464], [0.1])
    job = plan_retraining(ckpt, name or Path(ckpt.path).stem, Path(runs_dir), plan, changes, seed=seed,
                          ablation=ablation, **change_options)
    return job(progress, plan.progress)


def retrain_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per network, change and draw of a :func:`retrain_sweep` table: ``accuracy_before`` and
    ``accuracy_after`` (mean over heads, before retraining and after the last epoch),
    ``newest_before``, ``newest_after`` (the newest head), ``epochs`` (retraining epochs run),
    ``epochs_to_recover`` (the first epoch that solved the level, 0 if the changed network already
    did; capped: ``epochs`` when no epoch did) and ``recovered`` (whether one did)."""
    keys = [k for k in ("network", "curriculum", "task", "n_max") if k in table] + ["change", "epsilon", "group", "draw"]
    rows = []
    for key, g in table.groupby(keys, sort=False, dropna=False):
        g = g.sort_values("epoch")
        solved = g.loc[g["solved"].astype(bool), "epoch"]
        epochs = int(g["epoch"].max())
        rows.append({**dict(zip(keys, key)), "accuracy_before": g["accuracy_mean"].iloc[0],
                     "accuracy_after": g["accuracy_mean"].iloc[-1], "newest_before": g["accuracy_newest"].iloc[0],
                     "newest_after": g["accuracy_newest"].iloc[-1], "epochs": epochs,
                     "epochs_to_recover": int(solved.iloc[0]) if len(solved) else epochs, "recovered": bool(len(solved))})
    return pd.DataFrame(rows)


# --- continuation and transfer -------------------------------------------------------------------
LEVEL_COLUMNS = ["n_min", "n", "epochs", "epochs_total", "solved", "run"]


@dataclass
class LevelsJob:
    """Training runs whose epochs per level are the result (continuation, transfer)."""

    runs: list[PlannedRun]
    labels: list[dict[str, Any]]
    before: pd.DataFrame | None = None

    def __call__(self, progress: Progress | None = None, show_runs: bool = False) -> pd.DataFrame:
        parts = [] if self.before is None else [self.before]
        for run, label in zip(self.runs, self.labels):
            levels = epochs_per_level(run.run(progress=show_runs))
            levels["run"] = str(run.run_dir)
            parts.append(levels.assign(**label))
            _tick(progress, 1, len(self.runs))
        keys = list(self.labels[0]) if self.labels else []
        return pd.concat(parts, ignore_index=True)[keys + LEVEL_COLUMNS]


def plan_continuation(ckpt, name: str, runs_dir: Path, plan: TrainingPlan, metrics: pd.DataFrame | None = None) -> LevelsJob:
    """The run continuing ``ckpt``'s curriculum (:func:`continuation_config`) in
    ``runs_dir/continuation_<name>_N<n>``, checked. ``metrics``: the ``metrics.csv`` of the run
    that made the checkpoint, whose levels up to it are included as ``source = original``."""
    config = continuation_config(ckpt, plan)
    run = PlannedRun(config, Path(runs_dir) / run_name("continuation", name, f"N{ckpt.n_max}"),
                     {k: v.detach().cpu().clone() for k, v in ckpt.model.state_dict().items()}).check()
    before = None
    if metrics is not None and not metrics.empty:
        before = epochs_per_level(metrics)
        before = before[before["n"] <= ckpt.n_max].assign(source="original", run="")
    return LevelsJob([run], [{"source": "continued"}], before)


def continuation_sweep(ckpt, runs_dir: str | Path, *, plan: TrainingPlan | None = None, name: str | None = None,
                       metrics: pd.DataFrame | None = None, progress: Progress | None = None) -> pd.DataFrame:
    """Continue ``ckpt``'s curriculum beyond its last N (until N_max + ``plan.new_n`` or the epoch
    cap) and count the epochs each new level took.

    Returns one row per level: ``source`` (``continued``; ``original`` for the levels of the run
    that made the checkpoint, when its ``metrics`` are given), ``n_min``, ``n`` (the level's
    largest N), ``epochs``, ``epochs_total`` (since the start of its run), ``solved`` (False: the
    run stopped at this level, ``epochs`` is a lower bound), ``run``, and ``n_start`` (the
    checkpoint's largest N).
    """
    plan = plan or TrainingPlan()
    job = plan_continuation(ckpt, name or Path(ckpt.path).stem, Path(runs_dir), plan, metrics)
    return job(progress, plan.progress).assign(n_start=ckpt.n_max)


def plan_transfer(ckpt, name: str, runs_dir: Path, plan: TrainingPlan, task: str | None = None) -> LevelsJob:
    """The two runs of a transfer (:func:`transfer_config`): ``ckpt``'s network, and a fresh one of
    the same seed trained the same way (same data), in ``runs_dir/transfer_<name>_<task>_{transferred,fresh}``."""
    config = transfer_config(ckpt, plan, task)
    target = config.task.name
    state = {k: v.detach().cpu().clone() for k, v in ckpt.model.state_dict().items()}
    runs = [PlannedRun(config, Path(runs_dir) / run_name("transfer", name, f"N{ckpt.n_max}", target, start), initial).check()
            for start, initial in (("transferred", state), ("fresh", None))]
    labels = [{"target_task": target, "start": start} for start in ("transferred", "fresh")]
    return LevelsJob(runs, labels)


def transfer_sweep(ckpt, runs_dir: str | Path, task: str | None = None, *, plan: TrainingPlan | None = None,
                   name: str | None = None, progress: Progress | None = None) -> pd.DataFrame:
    """Train ``ckpt``'s network on the other task (parity <-> DMS) from N = 2 under its own
    curriculum, and a fresh network of the same seed the same way; epochs per level for both.

    Returns one row per run and level: ``target_task``, ``start``
    (``transferred`` or ``fresh``), ``n_min``, ``n``, ``epochs``, ``epochs_total``, ``solved``,
    ``run``, and ``n_source`` (the checkpoint's largest N on its own task).
    """
    plan = plan or TrainingPlan()
    job = plan_transfer(ckpt, name or Path(ckpt.path).stem, Path(runs_dir), plan, task)
    return job(progress, plan.progress).assign(n_source=ckpt.n_max)
