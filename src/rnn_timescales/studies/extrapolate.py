"""``rnn-timescales extrapolate``: delayed recall beyond the delays a network was trained on
(docs/slow_points.md), written as a table and its figure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import pandas as pd

from rnn_timescales.io import OutputDir
from rnn_timescales.plots.figures import plot_extrapolation
from rnn_timescales.studies.contract import Study
from rnn_timescales.studies.per_run import LatestNetwork

TABLE = "extrapolation.csv"
FIGURE = "extrapolation.png"
OUTPUT = OutputDir("extrapolation", marker=TABLE, kind="an extrapolation")


def write_extrapolation(tables: Sequence[pd.DataFrame], out: str | Path) -> dict[str, Path]:
    """Write ``extrapolation.csv`` (the tables, one after the other) and ``extrapolation.png``
    (every network on one figure) into the directory ``out``, all at once (a previous
    extrapolation there is replaced; a directory holding anything else is refused). Returns the
    paths written, under ``table`` and ``figure``."""
    OUTPUT.write(out, lambda tmp: _write_files(tables, tmp))
    return {"table": Path(out) / TABLE, "figure": Path(out) / FIGURE}


def _write_files(tables: Sequence[pd.DataFrame], directory: Path) -> None:
    table = pd.concat(list(tables), ignore_index=True)
    table.to_csv(directory / TABLE, index=False)
    fig = plot_extrapolation(table)
    try:
        fig.savefig(directory / FIGURE, dpi=150)
    finally:
        plt.close(fig)


def extrapolation_table(ckpt, task, name: str, delays: Sequence[int], trials: int, seed: int,
                        device="cpu", progress=None) -> pd.DataFrame:
    """One network's rows of ``extrapolation.csv``: accuracy per delay (``recall_by_delay``, its
    trials seeded by ``seed``), led by ``run`` (``name``) and ``checkpoint``, with the trained T_max
    and the number of classes."""
    import torch

    from rnn_timescales.analysis.extrapolation import recall_by_delay

    generator = torch.Generator(device=device).manual_seed(seed)
    table = recall_by_delay(ckpt.model, task, ckpt.level, delays, trials, generator, device, progress)
    table.insert(0, "run", name)
    table.insert(1, "checkpoint", str(ckpt.path))
    table["trained_max_delay"] = ckpt.level["max_delay"]
    table["n_classes"] = ckpt.level["n_classes"]
    return table


# --- as a sweep runs it: each delayed-recall run's latest network ---------------------------------
@dataclass(frozen=True)
class ExtrapolationSettings:
    """``analyze.extrapolate`` of a sweep spec: the largest delay (None: ``factor`` x the trained
    T_max), trials per delay and their seed (the command's --max-delay, --factor, --trials, --seed)."""

    max_delay: int | None = None
    factor: int = 5
    trials: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        if (self.max_delay is not None and self.max_delay < 1) or self.factor < 1 or self.trials < 1 or self.seed < 0:
            raise ValueError("max_delay, factor and trials must be at least 1 and seed at least 0, got "
                             f"{self.max_delay}, {self.factor}, {self.trials} and {self.seed}")


def _write_run(checkpoint: Path, out: Path, s: ExtrapolationSettings) -> None:
    from rnn_timescales.analysis.extrapolation import extrapolation_delays
    from rnn_timescales.runs import load_any

    ckpt = load_any(checkpoint)
    task = ckpt.make_task()
    delays = extrapolation_delays(ckpt.level["max_delay"], task.params.min_gap, s.max_delay, s.factor)
    _write_files([extrapolation_table(ckpt, task, checkpoint.parent.parent.name, delays, s.trials, s.seed)], out)


IN_RUN = LatestNetwork("extrapolation", TABLE, ExtrapolationSettings, _write_run, tables=(TABLE,), requires="recall")

STUDY = Study("extrapolate", "delayed-recall accuracy beyond the trained delays", ExtrapolationSettings, (TABLE,),
              (FIGURE,), "Delayed recall", sweep_name="extrapolate", sweep=IN_RUN.run_study(),
              tiny={"max_delay": 12, "trials": 8})
