"""[H19]'s speed-regularisation experiment: fine-tune one trained delayed-recall network twice from
the same weights, with the same seed (so the same batches), once with λ Σ_k q(c_k) added to the
loss and once with λ = 0 (the control); then compare the speeds at the class centres of mass (and
at the seeds) and the extrapolation curves of the starting network and of both fine-tuned ones.

The fine-tuning is the paper code's (TriggerSpeedCont.py): the network's own level (its T_max and
vocabulary, no curriculum), Adam at 1e-5 without gradient clipping, 5 000 steps. Measurements use
one seed for all three networks, so they see the same trials.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch

from rnn_timescales.config import CurriculumConfig, RunConfig, merge, validate
from rnn_timescales.io import check_output_dir
from rnn_timescales.studies.contract import Study
from rnn_timescales.studies.per_run import LatestNetwork

NETWORKS = ("start", "control", "regularized")
SPEEDS_TABLE = "speed_regularization.csv"
SUMMARY_TABLE = "speed_regularization_summary.csv"
EXTRAPOLATION_TABLE = "speed_regularization_extrapolation.csv"


def check_out_dir(out: str | Path) -> Path:
    """``out`` if the fine-tuning may be written there: missing or empty (it will hold two new run
    directories and the comparison); ConfigError (one line) otherwise."""
    return check_output_dir(out, "fine-tuning", ours=lambda p: False,
                            foreign="exists and is not empty; choose another --out")


@dataclass
class FineTuning:
    """How the two networks are fine-tuned (the paper code's defaults).

    weight : λ of the regularised run (the control has 0). at, input : where and under which
    input the speed is taken (``training.speed_regularization``). steps : training steps (5 000),
    in epochs of ``epoch_steps`` (``steps`` must be a multiple). lr : Adam's learning rate (1e-5).
    grad_clip : None (the paper code does not clip). seed : of the fine-tuning (None: the
    network's own run seed). overrides : further ``section.key=value`` settings of both runs.
    """

    weight: float = 1e-3
    at: str = "centres"
    input: str = "mean"
    steps: int = 5000
    epoch_steps: int = 100
    lr: float = 1e-5
    grad_clip: float | None = None
    seed: int | None = None
    overrides: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.weight > 0:
            raise ValueError(f"the regularised run needs a positive lambda, got {self.weight}")
        if self.steps < 1 or self.epoch_steps < 1 or self.steps % self.epoch_steps:
            raise ValueError(f"steps ({self.steps}) must be a positive multiple of the epoch length ({self.epoch_steps})")
        if not self.lr > 0:
            raise ValueError(f"the learning rate must be positive, got {self.lr}")


def fine_tune_config(config: RunConfig, level: dict[str, Any], tuning: FineTuning, weight: float) -> RunConfig:
    """The configuration of one fine-tuning run of a network trained with ``config`` at ``level``:
    its level as the task's own, no curriculum (``advance: never``), Adam at ``tuning.lr``,
    ``tuning.steps`` steps, and the speed term with λ = ``weight`` (0: none). ConfigError if invalid."""
    from rnn_timescales.config import parse_override

    layer = {
        "seed": config.seed if tuning.seed is None else tuning.seed,
        "task": {"max_delay": int(level["max_delay"]), "n_classes": int(level["n_classes"])},
        "curriculum": {"kind": "none", "advance": "never", "schedule": []},
        "optimizer": {"name": "adam", "lr": tuning.lr, "grad_clip": tuning.grad_clip, "lr_decay_steps": []},
        "training": {"steps_per_epoch": tuning.epoch_steps, "max_epochs": tuning.steps // tuning.epoch_steps,
                     "time_budget_s": None, "target_level": None, "target_n": None,
                     "speed_regularization": None if weight == 0 else
                     {"weight": weight, "at": tuning.at, "input": tuning.input}},
    }
    data = config.to_dict()
    # the curriculum's own settings (e.g. the delay curriculum's start) do not belong to 'none'
    data["curriculum"] = {k: v for k, v in data["curriculum"].items() if k in CurriculumConfig.model_fields}
    data = merge(data, layer)
    for text in tuning.overrides:
        data = merge(data, parse_override(text))
    return validate(data)


def fine_tune_pair(ckpt, out: str | Path, tuning: FineTuning, progress: bool = True) -> dict[str, Path]:
    """Train ``out/regularized`` (λ = ``tuning.weight``) and ``out/control`` (λ = 0) from the
    checkpoint's weights; returns their run directories by name. Both configurations are
    validated before either run starts."""
    from rnn_timescales.training.trainer import train

    out = Path(out)
    configs = {name: fine_tune_config(ckpt.config, ckpt.level, tuning, w)
               for name, w in (("regularized", tuning.weight), ("control", 0.0))}
    runs = {}
    for name, config in configs.items():
        train(config, out / name, progress=progress, initial_state=ckpt.model.state_dict())
        runs[name] = out / name
    return runs


def compare_networks(models: dict[str, torch.nn.Module], task, level: dict[str, Any], *, centre_trials: int = 1024,
                     trials_per_class: int = 100, extrapolation_trials: int = 256, max_delay: int | None = None,
                     factor: int = 5, seed: int = 0,
                     progress: Callable[[int], None] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Speeds and extrapolation of each network, every network on the same trials (one seed).

    Returns ``speeds`` (one row per network and class: ``network, class, centre_q, seed_q,
    centre_trials``), ``extrapolation`` (``network, delay, accuracy, n_trials, null_accuracy,
    trained``) and ``summary`` (one row per network: ``network, centre_q_mean, centre_q_median,
    centre_log10_q_mean, seed_q_mean, accuracy_trained, accuracy_untrained``; accuracies are
    shares of correct recalls over the trained / untrained delays).
    """
    from rnn_timescales.analysis.extrapolation import extrapolation_delays, recall_by_delay
    from rnn_timescales.analysis.recall_memory import class_centres, class_seeds, rest_input
    from rnn_timescales.dynamics.slow_points import speed

    n_classes, t_max = task.check_level(level)
    delays = extrapolation_delays(t_max, task.params.min_gap, max_delay, factor)
    speeds, curves, summary = [], [], []
    for name, model in models.items():
        model.eval()
        param = next(model.parameters())
        rest = rest_input(task, False, param.device, param.dtype)
        gen = torch.Generator(device=param.device).manual_seed(seed)
        centres, counts = class_centres(model, task, level, centre_trials, gen)
        seeds = class_seeds(model, task, level, trials_per_class=trials_per_class, generator=gen).seeds
        with torch.no_grad():
            centre_q = speed(model, centres, rest).double().cpu().numpy()
            seed_q = speed(model, seeds, rest).double().cpu().numpy()  # NaN for a class without a seed
        speeds.append(pd.DataFrame({"network": name, "class": np.arange(1, n_classes), "centre_q": centre_q,
                                    "seed_q": seed_q, "centre_trials": counts.cpu().numpy()}))
        curve = recall_by_delay(model, task, level, delays, extrapolation_trials, gen, param.device, progress)
        curve.insert(0, "network", name)
        curves.append(curve)
        hits = curve["accuracy"] * curve["n_trials"]
        share = lambda rows: float(hits[rows].sum() / curve["n_trials"][rows].sum()) if rows.any() else np.nan  # noqa: E731
        present = counts.cpu().numpy() > 0
        summary.append({"network": name, "centre_q_mean": float(centre_q[present].mean()),
                        "centre_q_median": float(np.median(centre_q[present])),
                        "centre_log10_q_mean": float(np.log10(centre_q[present]).mean()),
                        "seed_q_mean": float(np.nanmean(seed_q)) if np.isfinite(seed_q).any() else np.nan,
                        "accuracy_trained": share(curve["trained"]), "accuracy_untrained": share(~curve["trained"])})
    return pd.concat(speeds, ignore_index=True), pd.concat(curves, ignore_index=True), pd.DataFrame(summary)


def write_comparison(speeds: pd.DataFrame, curves: pd.DataFrame, summary: pd.DataFrame, out: str | Path) -> list[Path]:
    """Write the three tables and ``figures/{speed_regularization_extrapolation,speed_regularization_speeds}.png``
    into ``out`` (each file atomically); returns the paths."""
    import io as _io

    import matplotlib.pyplot as plt

    from rnn_timescales.io import atomic_write_bytes
    from rnn_timescales.plots.figures import plot_regularization_extrapolation, plot_regularization_speeds

    out = Path(out)
    written = []
    for table, name in ((speeds, SPEEDS_TABLE), (curves, EXTRAPOLATION_TABLE), (summary, SUMMARY_TABLE)):
        atomic_write_bytes(out / name, table.to_csv(index=False).encode())
        written.append(out / name)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    for fig, name in ((plot_regularization_extrapolation(curves), "speed_regularization_extrapolation.png"),
                      (plot_regularization_speeds(speeds), "speed_regularization_speeds.png")):
        buffer = _io.BytesIO()
        try:
            fig.savefig(buffer, format="png", dpi=150, bbox_inches="tight")
        finally:
            plt.close(fig)
        atomic_write_bytes(out / "figures" / name, buffer.getvalue())
        written.append(out / "figures" / name)
    return written


def fine_tune_and_compare(ckpt, task, out: str | Path, tuning: FineTuning, *, centre_trials: int = 1024,
                          trials: int = 256, max_delay: int | None = None, measure_seed: int = 0,
                          progress: bool = True) -> tuple[dict[str, Path], pd.DataFrame]:
    """The whole study of one network into ``out``: :func:`fine_tune_pair`, then
    :func:`compare_networks` of the start and both fine-tuned networks (``centre_trials``,
    ``trials`` per delay up to ``max_delay``, ``measure_seed``) and :func:`write_comparison`.
    Returns the two run directories and the summary table."""
    from rnn_timescales.runs.checkpoints import load_checkpoint
    from rnn_timescales.runs.files import CHECKPOINTS
    from rnn_timescales.runtime import resolve_device

    runs = fine_tune_pair(ckpt, out, tuning, progress=progress)
    device = resolve_device(ckpt.config.device)
    models = {"start": ckpt.model.to(device)}
    for label in ("control", "regularized"):
        models[label] = load_checkpoint(runs[label] / CHECKPOINTS / "final.safetensors").model.to(device)
    speeds, curves, summary = compare_networks(models, task, ckpt.level, centre_trials=centre_trials,
                                               extrapolation_trials=trials, max_delay=max_delay, seed=measure_seed)
    write_comparison(speeds, curves, summary, out)
    return runs, summary


# --- as a sweep runs it: each delayed-recall run's latest network ---------------------------------
@dataclass
class SpeedRegularizationSettings(FineTuning):
    """``analyze.speed_regularization`` of a sweep spec: :class:`FineTuning` and the measurement's
    settings (the command's --centre-trials, --trials, --max-delay, --measure-seed)."""

    centre_trials: int = 1024
    trials: int = 256
    max_delay: int | None = None
    measure_seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.centre_trials < 1 or self.trials < 1 or (self.max_delay is not None and self.max_delay < 1):
            raise ValueError(f"centre_trials, trials and max_delay must be at least 1, got {self.centre_trials}, "
                             f"{self.trials} and {self.max_delay}")


def _write_run(checkpoint: Path, out: Path, s: SpeedRegularizationSettings) -> None:
    from rnn_timescales.runs import load_any

    ckpt = load_any(checkpoint)
    fine_tune_and_compare(ckpt, ckpt.make_task(), out, s, centre_trials=s.centre_trials, trials=s.trials,
                          max_delay=s.max_delay, measure_seed=s.measure_seed, progress=False)


# fine-tuning trains two run directories inside the folder: written in place, the record last
IN_RUN = LatestNetwork("speed_regularization", SUMMARY_TABLE, SpeedRegularizationSettings, _write_run,
                       tables=(SPEEDS_TABLE, SUMMARY_TABLE, EXTRAPOLATION_TABLE), requires="recall", staged=False)

STUDY = Study(
    "speed-regularization", "[H19]'s fine-tuning with and without the speed term, compared", FineTuning,
    (SPEEDS_TABLE, SUMMARY_TABLE, EXTRAPOLATION_TABLE),
    ("figures/speed_regularization_extrapolation.png", "figures/speed_regularization_speeds.png"),
    sweep_name="speed_regularization", sweep=IN_RUN.run_study(),
    tiny={"steps": 4, "epoch_steps": 2, "centre_trials": 40, "trials": 8, "max_delay": 12})
