"""The report's data: the runs of a sweep root, a run directory or a directory of run directories,
grouped into conditions, and every table they hold (:func:`load_report_data`)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from rnn_timescales.config import flatten, read_yaml
from rnn_timescales.errors import ConfigError
from rnn_timescales.experiments.report.statistics import paper_tau_net
from rnn_timescales.experiments.sweep import SPEC_FILE, load_spec, plan, run_status, setting_labels
from rnn_timescales.io import settle
from rnn_timescales.runs.files import CONFIG, HEAD_METRICS, METRICS
from rnn_timescales.runs.rundir import is_locked, read_summary, solved_text
from rnn_timescales.runs.verify import DIGESTS_KEY, verify_run

# Tables other analyses write into a run directory, and the columns the report reads from them.
TABLES = {
    "perturbation": ("robustness/perturbation.csv", ["kind", "epsilon", "repeat", "n", "accuracy", "relative_accuracy"]),
    "ablation": ("robustness/ablation.csv", ["neuron", "tau", "group", "n", "accuracy"]),
    "forgetting": ("robustness/forgetting.csv", ["checkpoint_n", "n", "accuracy"]),
    "continuous": ("robustness/continuous.csv", ["k", "n", "accuracy"]),
    "extrapolation": ("extrapolation/extrapolation.csv", ["delay", "accuracy", "n_trials"]),
}


@dataclass
class RunInfo:
    """One run directory in a report."""

    name: str
    path: Path
    condition: str
    seed: Any
    status: str
    detail: str
    stop_reason: str | None = None
    n_start: int = 2
    model_type: str | None = None
    curriculum: str | None = None


@dataclass
class ReportData:
    """Everything a report draws, read from the run directories (one row per run and epoch, per
    checkpoint, ...; every table has ``run`` and ``condition`` columns)."""

    title: str
    kind: str  # sweep | run | runs
    description: str
    varying: list[str]
    runs: list[RunInfo]
    metrics: pd.DataFrame
    heads: pd.DataFrame
    analysis: pd.DataFrame
    paper: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    neurons: pd.DataFrame = field(default_factory=pd.DataFrame)  # n_max, tau, tau_net per neuron

    @property
    def conditions(self) -> list[str]:
        return list(dict.fromkeys(r.condition for r in self.runs))


def _condition(values: dict[str, Any], labels: dict[str, str], default: str) -> str:
    parts = [f"{labels[k]} {v}" for k, v in values.items() if k != "seed"]
    return ", ".join(parts) or default


def _plain_status(run_dir: Path) -> tuple[str, str]:
    if is_locked(run_dir):
        return "running", "training (its lock is held)"
    summary = read_summary(run_dir)
    if summary is None:
        return "unfinished", "no summary.json (interrupted, or still being written)"
    parts = [f"{summary['epochs']} epochs" if summary.get("epochs") is not None else None,
             solved_text(summary)]
    return summary.get("stop_reason", "?"), ", ".join(p for p in parts if p)


def find_runs(path: str | Path) -> tuple[str, str, str, list[str], list[RunInfo]]:
    """(title, kind, description, varying settings, runs) of a sweep root, a run directory, or a
    directory of run directories. ConfigError if ``path`` is none of these."""
    p = Path(path)
    if not p.is_dir():
        raise ConfigError(f"{str(p)!r} is not a directory; give a sweep directory or a run directory")
    if (p / SPEC_FILE).is_file():
        spec = load_spec(p)
        points = plan(spec)
        varying = list(points[0].varying) if points else []
        labels = setting_labels(varying)
        runs = []
        for point in points:
            st = run_status(p, point)
            c = point.config
            runs.append(RunInfo(point.name, p / point.name, _condition(point.varying, labels, "all runs"), c.seed,
                                st.status, st.detail, st.stop_reason, c.curriculum.n_start, c.model.type,
                                c.curriculum.kind))
        return p.name, "sweep", spec.description, varying, runs
    if (p / CONFIG).is_file():
        dirs, kind = [p], "run"
    else:
        dirs, kind = sorted(q for q in p.iterdir() if (q / CONFIG).is_file()), "runs"
        if not dirs:
            raise ConfigError(f"{str(p)!r} holds no run directories (no config.yaml in it or its subdirectories) "
                              f"and is not a sweep (no {SPEC_FILE})")
    configs = [flatten(read_yaml(d / CONFIG)) for d in dirs]
    keys = list(dict.fromkeys(k for c in configs for k in c))
    varying = [k for k in keys if len({repr(c.get(k)) for c in configs}) > 1]
    labels = setting_labels(varying)
    runs = []
    for d, c in zip(dirs, configs):
        status, detail = _plain_status(d)
        default = "all runs" if kind == "runs" else d.name
        runs.append(RunInfo(d.name, d, _condition({k: c.get(k) for k in varying}, labels, default), c.get("seed"),
                            status, detail, (read_summary(d) or {}).get("stop_reason"),
                            int(c.get("curriculum.n_start", 2)), c.get("model.type"), c.get("curriculum.kind")))
    return p.name, kind, "", varying, runs


def _read_csv(path: Path, notes: list[str], columns: list[str] | None = None) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as e:
        notes.append(f"{path}: could not be read ({type(e).__name__}); left out")
        return None
    missing = [c for c in columns or [] if c not in table]
    if missing:
        notes.append(f"{path}: lacks the columns {', '.join(missing)}; left out")
        return None
    return table


def _complete_rows(run_dir: Path, metrics: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """``metrics`` without a last line cut short; a truncated metrics.csv (its last line incomplete,
    or fewer epochs than its summary.json counts) is said in one line, on the page and on stderr."""
    path = run_dir / METRICS
    cut = not path.read_bytes().endswith(b"\n")
    if cut:
        metrics = metrics.iloc[:-1]
    epochs = (read_summary(run_dir) or {}).get("epochs")
    if cut or (isinstance(epochs, int) and len(metrics) < epochs):
        line = (f"{path}: truncated ({len(metrics)} complete rows" + (f" of the {epochs} epochs its summary.json counts"
                if isinstance(epochs, int) else "") + "); the report shows the rows it has")
        notes.append(line)
        sys.stderr.write(f"rnn-timescales: warning: {line}\n")
    return metrics


def _stack(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if p is not None and len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def load_report_data(path: str | Path) -> ReportData:
    """Read every run under ``path`` (see :func:`find_runs`) into the tables a report draws."""
    from rnn_timescales.studies import analyze  # the analysis's file names

    title, kind, description, varying, runs = find_runs(path)
    notes: list[str] = []
    metrics, heads, analysis, paper, cells = [], [], [], [], []
    tables: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES}
    for r in runs:
        tag = {"run": r.name, "condition": r.condition}
        damaged = verify_run(r.path, None if is_locked(r.path) else (read_summary(r.path) or {}).get(DIGESTS_KEY))
        if damaged:  # its files are not those written: marked, and said once
            r.status, r.detail = "damaged", "; ".join(damaged)
            notes.append(f"{r.name}: damaged files ({'; '.join(damaged)}); its numbers are not to be trusted")
        m = _read_csv(r.path / METRICS, notes, ["epoch", "n_max", "solved", "wall_time_s"])
        if m is not None:
            m = _complete_rows(r.path, m, notes)
            metrics.append(m.assign(**tag))
        h = _read_csv(r.path / HEAD_METRICS, notes, ["epoch", "n", "accuracy"])
        if h is not None:
            heads.append(h.assign(**tag))
        s = _read_csv(r.path / analyze.IN_RUN / analyze.SUMMARY, notes, ["n_max"])
        if s is not None:
            analysis.append(s.assign(**tag))
        neurons = _read_csv(r.path / analyze.IN_RUN / analyze.NEURONS, notes, ["n_max", "tau_net"])
        if neurons is not None:
            paper.append(paper_tau_net(neurons).assign(**tag))
            cells.append(neurons[[c for c in ("n_max", "tau", "tau_net") if c in neurons]].assign(**tag))
        settle(r.path / "robustness")  # a robustness write killed half-way: its whole group of files
        for name, (rel, cols) in TABLES.items():
            t = _read_csv(r.path / rel, notes, cols)
            if t is not None:
                tables[name].append(t.assign(**tag))
    return ReportData(title, kind, description, varying, runs, _stack(metrics), _stack(heads), _stack(analysis),
                      _stack(paper), {k: _stack(v) for k, v in tables.items()}, notes, _stack(cells))
