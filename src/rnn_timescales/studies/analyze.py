"""Analyse checkpoints: tables for notebooks (:func:`analyze_checkpoint`) and files on disk
(:func:`write_analysis`, used by ``rnn-timescales analyze``), and the same as a sweep runs it
(:data:`RUN_STUDY`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from rnn_timescales.analysis.gates import autocorrelated_signals, gate_signals, retention_gate
from rnn_timescales.analysis.simulation import SimulationStats, simulate_statistics
from rnn_timescales.analysis.timescales import METHODS
from rnn_timescales.io import OutputDir, check_output_dir, write_directory
from rnn_timescales.runs.files import ANALYSIS
from rnn_timescales.errors import ConfigError
from rnn_timescales.studies.contract import RunStudy, Study
from rnn_timescales.studies.measures import MeasureContext, measures, network_summary, neuron_table



@dataclass
class AnalysisSettings:
    """The knobs of one analysis; defaults are the paper's (docs/science.md, timescales)."""

    n_trials: int = 10
    n_steps: int = 100_000
    burn_in: int = 500
    max_lag: int = 200
    fit_lag: int = 30
    method: str = "parsimonious"
    bias_correction: str | None = None
    tau_net_intervals: int = 0  # trial resamples for an interval of tau_net (0: none; docs/timescales.md)
    n_points: int = 4
    n_slowest: int = 5
    seed: int = 0


@dataclass
class CheckpointAnalysis:
    """Everything measured on one checkpoint.

    neurons: one row per neuron (``n_max, neuron, tau, tau_gate, tau_gate_log, gate_mean, tau_net,
        tau_net_cell, model, ...``); the gate columns are NaN for the leaky RNN, ``tau`` is NaN
        for the gated models, ``tau_net_cell`` is the LSTM's.
    summary: one-row-per-checkpoint record (see :func:`summarize`).
    ac: (units, max_lag + 1) trial-averaged autocorrelation of every neuron.
    population_ac: (max_lag + 1,) trial-averaged autocorrelation of the summed activity.
    jacobian: (points, n_slowest) slowest linearised timescales at each operating point.
    jacobian_mean: (n_slowest,) slowest timescales of the average Jacobian.
    """

    neurons: pd.DataFrame
    summary: dict
    ac: np.ndarray
    population_ac: np.ndarray
    jacobian: np.ndarray
    jacobian_mean: np.ndarray
    stats: SimulationStats | None = field(default=None, repr=False)


def analyze_checkpoint(
    ckpt,
    settings: AnalysisSettings | None = None,
    progress: Callable[[int], None] | None = None,
    keep_stats: bool = False,
) -> CheckpointAnalysis:
    """Every registered measure (:mod:`rnn_timescales.studies.measures`: trained tau, gate
    timescales, tau_net, population autocorrelation, dimensionality, Jacobian timescales, ...) of one
    checkpoint, from one simulation.

    Parameters
    ----------
    ckpt : LoadedCheckpoint
        From :func:`rnn_timescales.runs.load.load_any`.
    settings : AnalysisSettings
    progress : callable, optional
        Called with the number of simulated steps as they complete.
    keep_stats : bool
        Keep the raw :class:`SimulationStats` on the result.
    """
    s = settings or AnalysisSettings()
    model = ckpt.model.cpu()
    stats = simulate_statistics(model, s.n_trials, s.n_steps, s.burn_in, s.max_lag, seed=s.seed,
                                n_points=s.n_points, progress=progress, task=ckpt.make_task(),
                                signals=gate_signals(model), autocorrelate=autocorrelated_signals(model))
    ctx = MeasureContext(ckpt, model, stats, s)
    level_name, level = checkpoint_level(ckpt)
    neurons = neuron_table(ctx, {"n_max": ckpt.n_max, "level": level})
    if s.tau_net_intervals:
        from rnn_timescales.analysis.tau_net_intervals import tau_net_interval

        low, high = tau_net_interval(stats.ac, s.fit_lag, s.method, s.tau_net_intervals, seed=s.seed,
                                     bias_correction=s.bias_correction, n_steps=s.n_steps)
        at = neurons.columns.get_loc("tau_net") + 1
        neurons.insert(at, "tau_net_low", low)
        neurons.insert(at + 1, "tau_net_high", high)
    summary = {"checkpoint": str(ckpt.path), "n_min": ckpt.n_min, "n_max": ckpt.n_max, "level_name": level_name,
               "level": level, "model_type": ckpt.config.model.type, "gate": retention_gate(model)}
    measured, late = network_summary(ctx, neurons)
    summary.update(measured)
    summary.update(method=s.method, n_trials=s.n_trials, n_steps=s.n_steps)
    summary.update(late)
    return CheckpointAnalysis(
        neurons=neurons,
        summary=summary,
        ac=stats.ac.mean(axis=0),
        population_ac=stats.population_ac.mean(axis=0),
        jacobian=ctx.jacobian_per_point,
        jacobian_mean=ctx.jacobian_mean,
        stats=stats if keep_stats else None,
    )


def checkpoint_level(ckpt) -> tuple[str, float]:
    """(name, value) of the level a checkpoint was trained at, as its curriculum counts it (``n_max``
    and N for the N curricula, e.g. ``max_delay`` for delayed recall); NaN for a curriculum
    without levels. The analyses order and label checkpoints by it."""
    from rnn_timescales.curricula import build_curriculum

    curriculum = build_curriculum(ckpt.config.curriculum, ckpt.make_task())
    value = curriculum.level_value(ckpt.level)
    return curriculum.level_name or "level", float("nan") if value is None else value


# --- files ----------------------------------------------------------------------------------------


def run_checkpoints_to_analyze(run_dir: Path, include_init: bool) -> list[Path]:
    """A run's checkpoints of solved levels (after the untrained network with ``include_init``);
    for a run that solved none, its final weights."""
    from rnn_timescales.runs.checkpoints import analysed_checkpoints

    return analysed_checkpoints(run_dir, include_init)


def checkpoints_to_analyze(paths: Sequence[str | Path], ns: Iterable[int] | None = None,
                           include_init: bool = False) -> list[Path]:
    """Checkpoint files from run directories, directories of checkpoints, or files; filtered to
    the given N (largest N of each checkpoint), ordered by N."""
    from rnn_timescales.runs.checkpoints import CheckpointError, is_run_dir, n_of, n_range

    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise CheckpointError(f"{str(p)!r} does not exist; give a run directory or a checkpoint file")
        if p.is_dir():
            found = run_checkpoints_to_analyze(p, include_init) if is_run_dir(p) else [
                q for q in p.iterdir() if q.is_file() and (n_range(q.name) or (include_init and q.name.startswith("rnn_init")))
            ]
            if not found:
                raise CheckpointError(f"{str(p)!r} holds no checkpoints (rnn_N*_N* files)")
            files.extend(found)
        else:
            files.append(p)

    if ns:
        wanted = set(ns)
        files = [q for q in files if n_of(q) in wanted]
        if not files:
            raise CheckpointError(f"no checkpoint with N in {sorted(wanted)} among the given paths")
    return sorted(dict.fromkeys(files), key=lambda q: n_of(q) or 0)


def default_out_dir(path: str | Path) -> Path:
    """``RUN_DIR/analysis`` for a run directory (or a checkpoint inside one), else
    ``./analysis/<name>`` in the working directory (never next to someone else's files)."""
    from rnn_timescales.runs.checkpoints import is_run_dir

    p = Path(path).resolve()
    for cand in (p, p.parent, p.parent.parent):
        if is_run_dir(cand):
            return cand / IN_RUN
    return Path(IN_RUN) / (p.parent.name + "_" + p.name if p.is_file() else p.name)


# The files an analysis writes (its output directory's marker first), named here only.
IN_RUN = ANALYSIS  # the analysis of a run directory: RUN_DIR/analysis
SUMMARY = "summary.csv"
NEURONS = "neurons.csv"
JACOBIAN = "jacobian.csv"
AUTOCORRELATIONS = "autocorrelations.npz"
FIGURES = "figures"
OUTPUT_FILES = (SUMMARY, NEURONS, JACOBIAN, AUTOCORRELATIONS, FIGURES + "/")


def printed_columns(summary: pd.DataFrame) -> list[str]:
    """The ``summary.csv`` columns ``analyze`` prints: the level, then every registered measure's
    headline that the checkpoints' model has (not NaN throughout), in the registry's order."""
    cols = ["n_max"]
    for m in measures():
        col = m.summary_column()
        if col is not None and col in summary and (m.shown_always or summary[col].notna().any()):
            cols.append(col)
    return cols


def printed_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """What ``analyze`` prints: :func:`printed_columns` of ``summary``, the level named by the
    curriculum (``N``'s column ``n_max``, else e.g. ``max_delay``)."""
    cols = printed_columns(summary)
    if summary["n_max"].isna().all():  # a task without N: the curriculum's level names the checkpoint
        summary = summary.assign(**{summary["level_name"].iloc[0]: summary["level"]})
        cols[0] = summary["level_name"].iloc[0]
    return summary[cols]


OUTPUT = OutputDir("analysis", marker=SUMMARY, kind="an analysis")


def _other_studies(out: Path) -> list[Path]:
    """The folders of other studies in a run's analysis (``analysis/reproduction``,
    ``analysis/<folder>`` of :mod:`~rnn_timescales.studies.per_run`): every subdirectory but figures/."""
    return [p for p in out.iterdir() if p.is_dir() and p.name != FIGURES and not p.name.startswith(".")] \
        if out.is_dir() else []  # (a killed writer's hidden temporary folders are not carried over)


def check_out_dir(out: str | Path) -> Path:
    """``out`` if an analysis may be written there: missing, empty, an earlier analysis (replaced),
    or holding only other studies' folders (kept); ConfigError (one line) otherwise."""
    def ours(p: Path) -> bool:
        return OUTPUT.is_ours(p) or all(q.is_dir() and q.name != FIGURES for q in p.iterdir())

    return check_output_dir(out, OUTPUT.what, ours=ours, foreign=f"holds files that are not {OUTPUT.kind}; "
                            "choose another --out")


def write_analysis(results: list[CheckpointAnalysis], out: str | Path, settings: AnalysisSettings,
                   n_examples: int = 6) -> dict[str, Path]:
    """Write ``summary.csv``, ``neurons.csv``, ``jacobian.csv``, ``autocorrelations.npz`` and
    ``figures/*.png`` into ``out``; return the paths written.

    The files are assembled in a temporary directory beside ``out`` and renamed into place, so a
    reader sees the previous analysis or the whole new one, two analyses writing to the same place
    never mix their files, and a failure leaves nothing behind. A previous analysis in ``out`` is
    replaced, other studies' folders in it are kept (copied into the new one); a directory holding
    anything else is refused (see :func:`check_out_dir`).
    """
    import shutil

    def fill(tmp: Path) -> dict[str, str]:
        written = _write_files(results, tmp, settings, n_examples)
        for other in _other_studies(Path(out)):
            shutil.copytree(other, tmp / other.name, symlinks=True)
        return written

    names = write_directory(check_out_dir(out), fill)
    return {key: Path(out) / name for key, name in names.items()}


def _axis_name(summary: pd.DataFrame) -> str:
    name = summary["level_name"].iloc[0]
    return "N" if name == "n_max" else name


def _level_label(summary: dict) -> str:
    """``N = 11`` for the N curricula, ``max_delay = 8`` for others, the file name without a level."""
    if summary["level_name"] == "n_max":
        return f"N = {summary['n_max']}"
    if np.isfinite(summary["level"]):
        return f"{summary['level_name']} = {int(summary['level'])}"
    return Path(summary["checkpoint"]).stem


def _write_files(results: list[CheckpointAnalysis], out: Path, settings: AnalysisSettings,
                 n_examples: int) -> dict[str, str]:
    from rnn_timescales.plots import figures as plotting

    fig_dir = out / FIGURES
    fig_dir.mkdir()
    summary = pd.DataFrame([r.summary for r in results])
    neurons = pd.concat([r.neurons for r in results], ignore_index=True)
    jac_rows = [
        {"n_max": r.summary["n_max"], "level": r.summary["level"], "point": i, "rank": k + 1, "tau": float(v)}
        for r in results for i, row in enumerate(r.jacobian) for k, v in enumerate(row)
    ]
    names = {"summary": SUMMARY, "neurons": NEURONS, "jacobian": JACOBIAN, "autocorrelations": AUTOCORRELATIONS}
    summary.to_csv(out / names["summary"], index=False)
    neurons.to_csv(out / names["neurons"], index=False)
    pd.DataFrame(jac_rows, columns=["n_max", "level", "point", "rank", "tau"]).to_csv(out / names["jacobian"], index=False)
    np.savez_compressed(
        out / names["autocorrelations"],
        n_max=np.array([r.summary["n_max"] for r in results]),
        level=np.array([r.summary["level"] for r in results], dtype=float),
        lags=np.arange(settings.max_lag + 1),
        neuron_ac=np.stack([r.ac for r in results]),
        population_ac=np.stack([r.population_ac for r in results]),
    )
    import matplotlib.pyplot as plt

    def save(name: str, fig) -> None:  # one figure open at a time, however many checkpoints
        fig.savefig(fig_dir / f"{name}.png", dpi=120, bbox_inches="tight")
        plt.close(fig)
        names[name] = f"{FIGURES}/{name}.png"

    save("tau_vs_n", plotting.plot_timescales_vs_n(summary))
    save("tau_scatter", plotting.plot_tau_vs_tau_net(neurons, "tau" if neurons["tau"].notna().any() else "tau_gate"))
    save("population_ac", plotting.plot_population_autocorrelation(
        summary["level"].to_numpy(), np.stack([r.population_ac for r in results]), _axis_name(summary)))
    for r in results:
        label = _level_label(r.summary)
        save(f"ac_fits_{label.replace(' = ', '')}",
             plotting.plot_autocorrelation_fits(r.ac, r.neurons, settings.fit_lag, n_examples=n_examples, title=label))
    return names


# --- as a sweep runs it ---------------------------------------------------------------------------
_INT_SETTINGS = {"n_trials": 1, "n_steps": 1, "burn_in": 0, "max_lag": 1, "fit_lag": 2, "n_points": 1, "n_slowest": 1,
                 "seed": 0}


def check_settings(s: Mapping[str, Any], prefix: str = "", name: Callable[[str], str] = str) -> None:
    """The one validation of :class:`AnalysisSettings` values ``s`` (a mapping of its fields):
    ConfigError (one line) naming the first bad one. ``name(key)`` is how the message names a
    setting (a flag on the command line, the key in a sweep); ``prefix`` says where it was set."""
    for key, low in _INT_SETTINGS.items():
        v = s[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ConfigError(f"{prefix}{name(key)} must be an integer of at least {low}, got {v!r}")
    if s["method"] not in METHODS:
        raise ConfigError(f"{prefix}{name('method')} must be one of {', '.join(METHODS)}, got {s['method']!r}")
    if s["bias_correction"] not in (None, "analytic"):
        raise ConfigError(f"{prefix}{name('bias_correction')} must be null or analytic, got {s['bias_correction']!r}")
    if s["fit_lag"] > s["max_lag"]:
        raise ConfigError(f"{prefix}{name('fit_lag')} must be between 2 and {name('max_lag')} ({s['max_lag']}), "
                          f"got {s['fit_lag']}")
    if s["n_steps"] <= s["max_lag"]:
        raise ConfigError(f"{prefix}{name('n_steps')} ({s['n_steps']}) must exceed {name('max_lag')} ({s['max_lag']})")
    intervals = s.get("tau_net_intervals", 0)
    if isinstance(intervals, bool) or not isinstance(intervals, int) or intervals < 0 or 0 < intervals < 20:
        raise ConfigError(f"{prefix}{name('tau_net_intervals')} needs at least 20 resamples (or 0 for none), "
                          f"got {intervals!r}")


def _timescales_settings(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    allowed = [f.name for f in fields(AnalysisSettings)] + ["include_init"]
    unknown = [k for k in raw if k not in allowed]
    if unknown:
        raise ConfigError(f"{where}: unknown setting {unknown[0]!r}; choose from {', '.join(allowed)}")
    s = {**asdict(AnalysisSettings()), "include_init": False, **raw}
    check_settings(s, prefix=f"{where}: ")
    if not isinstance(s["include_init"], bool):
        raise ConfigError(f"{where}: include_init must be true or false, got {s['include_init']!r}")
    return s


def registered_columns() -> tuple[list[str], list[str]]:
    """(``summary.csv`` columns, ``neurons.csv`` columns) that the registered measures write."""
    summary, neurons = [], []
    for m in measures():
        cols = m.columns()
        if m.per == "neuron":
            neurons.append(cols[0])
            summary.extend(cols[1:])
        else:
            summary.extend(cols)
    return summary, neurons


def _timescales_current(run_dir: Path, settings: Mapping[str, Any]) -> bool:
    """Up to date: ``analysis/summary.csv`` is newer than the newest checkpoint, has one row per
    checkpoint, was made with the same number of trials and steps and the same method, and has
    every registered measure's columns (an analysis made before a measure was added is stale)."""
    ckpts = run_checkpoints_to_analyze(run_dir, settings["include_init"])
    if not ckpts:
        return True  # nothing solved: nothing to analyse
    out = run_dir / IN_RUN / SUMMARY
    if not out.is_file() or out.stat().st_mtime < max(c.stat().st_mtime for c in ckpts):
        return False
    try:
        summary = pd.read_csv(out)
        neurons = pd.read_csv(run_dir / IN_RUN / NEURONS, nrows=0)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, FileNotFoundError):
        return False
    if len(summary) != len(ckpts):
        return False
    summary_cols, neuron_cols = registered_columns()
    if any(c not in summary for c in summary_cols) or any(c not in neurons for c in neuron_cols):
        return False
    return all(key in summary and (summary[key] == settings[key]).all() for key in ("n_trials", "n_steps", "method"))


def _run_timescales(run_dir: Path, settings: Mapping[str, Any]) -> None:
    from rnn_timescales.runs import load_any

    s = dict(settings)
    include_init = s.pop("include_init")
    analysis_settings = AnalysisSettings(**s)
    checkpoints = [load_any(p) for p in run_checkpoints_to_analyze(run_dir, include_init)]
    if checkpoints:
        results = [analyze_checkpoint(ckpt, analysis_settings) for ckpt in checkpoints]
        write_analysis(results, run_dir / IN_RUN, analysis_settings)


RUN_STUDY = RunStudy(f"{IN_RUN}/{SUMMARY}", _timescales_settings, _timescales_current, _run_timescales,
                     tables=(f"{IN_RUN}/{SUMMARY}", f"{IN_RUN}/{NEURONS}"))


STUDY = Study(
    "analyze", "every registered measure of each checkpoint: trained tau, tau_net, population autocorrelation, "
    "dimensionality, Jacobian timescales", AnalysisSettings, OUTPUT_FILES[:-1],
    (f"{FIGURES}/tau_vs_n.png", f"{FIGURES}/tau_scatter.png", f"{FIGURES}/population_ac.png",
     f"{FIGURES}/ac_fits_<level>.png"), "Timescales and dimensionality", "timescales", RUN_STUDY, measures=True,
    tiny={"n_trials": 2, "n_steps": 300, "burn_in": 10, "max_lag": 20, "fit_lag": 10, "n_points": 1})
