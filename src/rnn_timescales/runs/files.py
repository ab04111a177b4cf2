"""The names of a run directory's files: written here once, read everywhere from here.

A run directory (``RUN_DIR``)::

    config.yaml        the run configuration (RunConfig.save)
    metrics.csv        one row per epoch (runs.rundir.METRIC_COLUMNS)
    head_metrics.csv   accuracy of every head after every epoch
    summary.json       why the run stopped, what it solved, its checkpoints
    checkpoints/       init, one rnn_<label> per solved level, final (runs.checkpoints)
    state/             the training state a resumed run continues from (runs.state)
    analysis/          analyze's tables; one folder per other study a sweep ran on it (studies.per_run)
"""

from __future__ import annotations

from pathlib import Path

CONFIG = "config.yaml"
METRICS = "metrics.csv"
HEAD_METRICS = "head_metrics.csv"
SUMMARY = "summary.json"
CHECKPOINTS = "checkpoints"
ANALYSIS = "analysis"


def is_run_dir(path: str | Path) -> bool:
    """Whether ``path`` is a run directory (it holds ``config.yaml``)."""
    p = Path(path)
    return p.is_dir() and (p / CONFIG).is_file()
