"""``rnn-timescales recall-memory``: where delayed-recall networks keep each class's memory
(docs/slow_points.md): :mod:`rnn_timescales.analysis.recall_memory` run over several networks (and,
with tracking, over the checkpoints of one run), then written as tables and figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import torch

from rnn_timescales.analysis import recall_memory as rm
from rnn_timescales.io import OutputDir
from rnn_timescales.plots import figures as plotting
from rnn_timescales.runs.checkpoints import LoadedCheckpoint
from rnn_timescales.tasks.delayed_recall import DelayedRecall
from rnn_timescales.studies.contract import Study
from rnn_timescales.studies.per_run import LatestNetwork

OUTPUT = OutputDir("analysis of recall memory", marker=rm.CLASSES, kind="an analysis of recall memory")


@dataclass
class RecallMemoryStudy:
    """The tables of a recall-memory analysis.

    classes: one row per (network, class); curves: extrapolation accuracy per (network, delay);
    correlations: speed against extrapolation across classes; analyses: network name ->
    :class:`~rnn_timescales.analysis.recall_memory.RecallMemory`; tracking: (checkpoint name,
    RecallMemory) over the checkpoints of one run, in the order reached (empty without tracking).
    """

    classes: pd.DataFrame
    curves: pd.DataFrame
    correlations: pd.DataFrame
    analyses: dict[str, rm.RecallMemory]
    tracking: list[tuple[str, rm.RecallMemory]] = field(default_factory=list)


def run_recall_memory(networks: Sequence[tuple[str, LoadedCheckpoint, DelayedRecall]],
                      settings: rm.RecallMemorySettings, device: torch.device | str = "cpu",
                      tracked: Sequence[LoadedCheckpoint] = (),
                      progress: Callable[[str], None] | None = None) -> RecallMemoryStudy:
    """Analyse every (name, checkpoint, task) of ``networks``, then the ``tracked`` checkpoints
    (without extrapolation); ``progress(name)`` is called after each network."""
    analyses, tracking = {}, []
    for name, ckpt, task in networks:
        analyses[name] = rm.analyze_recall_memory(ckpt.model.to(device), task, ckpt.level, settings)
        if progress is not None:
            progress(name)
    quick = rm.RecallMemorySettings(**{**settings.__dict__, "extrapolation": False})
    for ckpt in tracked:
        tracking.append((ckpt.path.stem, rm.analyze_recall_memory(ckpt.model.to(device), ckpt.make_task(), ckpt.level,
                                                                  quick)))
        if progress is not None:
            progress(ckpt.path.stem)
    classes = pd.concat([a.classes.assign(network=n, checkpoint=str(c.path), n_classes=c.level["n_classes"],
                                          max_delay=c.level["max_delay"])
                         for (n, a), (_, c, _) in zip(analyses.items(), networks)], ignore_index=True)
    curves = pd.concat([a.extrapolation.assign(network=n) for n, a in analyses.items()], ignore_index=True)
    return RecallMemoryStudy(classes, curves, rm.speed_correlations(classes, "network"), analyses, tracking)


def write_recall_memory(study: RecallMemoryStudy, out: str | Path) -> list[str]:
    """Write the tables and ``figures/`` into ``out`` at once (an earlier analysis of recall
    memory there is replaced; anything else is refused); returns the table names written."""

    return OUTPUT.write(out, lambda tmp: _write_files(study, tmp))


def _write_files(study: RecallMemoryStudy, tmp: Path) -> list[str]:
    study.classes.to_csv(tmp / rm.CLASSES, index=False)
    study.curves.to_csv(tmp / rm.EXTRAPOLATION, index=False)
    study.correlations.to_csv(tmp / rm.CORRELATIONS, index=False)
    names = [rm.CLASSES, rm.EXTRAPOLATION, rm.CORRELATIONS]
    if study.tracking:
        rm.track_classes(study.tracking).to_csv(tmp / rm.TRACKING, index=False)
        pd.concat([a.classes.assign(checkpoint=n) for n, a in study.tracking], ignore_index=True).to_csv(
            tmp / rm.TRACKING_POINTS, index=False)
        names.append(rm.TRACKING)
    (tmp / "figures").mkdir()
    figs = {"recall_slow_points_pca": plotting.plot_recall_memory_pca(
                {n: rm.projection(a) for n, a in study.analyses.items()}),
            "speed_vs_extrapolation": plotting.plot_speed_vs_extrapolation(study.classes)}
    for name, fig in figs.items():
        fig.savefig(tmp / "figures" / f"{name}.png", dpi=130, bbox_inches="tight")
        plt.close(fig)
    return names


# --- as a sweep runs it: each delayed-recall run's latest network ---------------------------------
@dataclass
class RecallMemorySweepSettings(rm.RecallMemorySettings):
    """``analyze.recall_memory`` of a sweep spec: :class:`~rnn_timescales.analysis.recall_memory.RecallMemorySettings`
    (the command's options; ``hyperparameters``: the finder's settings, as the command's --set)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        from rnn_timescales.dynamics.slow_points import SlowPointHyperparameters

        SlowPointHyperparameters.from_kwargs(**self.hyperparameters)


def _write_run(checkpoint: Path, out: Path, s: RecallMemorySweepSettings) -> None:
    from rnn_timescales.runs import load_any

    ckpt = load_any(checkpoint)
    task = ckpt.make_task()
    _write_files(run_recall_memory([(checkpoint.parent.parent.name, ckpt, task)], s), out)


IN_RUN = LatestNetwork("recall_memory", rm.CLASSES, RecallMemorySweepSettings, _write_run,
                       tables=(rm.CLASSES, rm.EXTRAPOLATION, rm.CORRELATIONS), requires="recall")


STUDY = Study(
    "recall-memory", "where delayed-recall networks keep each class's memory: slow points, speeds, extrapolation",
    RecallMemorySweepSettings, (rm.CLASSES, rm.EXTRAPOLATION, rm.CORRELATIONS, rm.TRACKING, rm.TRACKING_POINTS),
    ("figures/recall_slow_points_pca.png", "figures/speed_vs_extrapolation.png"), sweep_name="recall_memory",
    sweep=IN_RUN.run_study(), tiny={"trials_per_class": 6, "centre_trials": 40, "extrapolation_trials": 10,
                                    "max_delay": 12, "hyperparameters": {"max_iters": 60}})
