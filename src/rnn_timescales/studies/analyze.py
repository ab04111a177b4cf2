"""Analyse checkpoints: tables for notebooks (:func:`analyze_checkpoint`) and files on disk
(:func:`write_analysis`, used by ``rnn-timescales analyze``), and the same as a sweep runs it
(:data:`RUN_STUDY`)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from rnn_timescales.analysis.dimensionality import dimensionality_from_covariance
from rnn_timescales.analysis.gates import (
    CELL, RETENTION, autocorrelated_signals, gate_signals, gate_timescales, retention_gate)
from rnn_timescales.dynamics.jacobian import jacobian_timescales
from rnn_timescales.analysis.simulation import SimulationStats, simulate_statistics
from rnn_timescales.analysis.timescales import METHODS, fit_timescales
from rnn_timescales.io import OutputDir
from rnn_timescales.errors import ConfigError
from rnn_timescales.runtime import torch_threads
from rnn_timescales.studies.contract import RunStudy



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


def _spread(values: np.ndarray) -> dict[str, float]:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return {"mean": np.nan, "median": np.nan, "std": np.nan, "q25": np.nan, "q75": np.nan}
    return {"mean": v.mean(), "median": np.median(v), "std": v.std(), "q25": np.quantile(v, 0.25),
            "q75": np.quantile(v, 0.75)}


def analyze_checkpoint(
    ckpt,
    settings: AnalysisSettings | None = None,
    progress: Callable[[int], None] | None = None,
    keep_stats: bool = False,
) -> CheckpointAnalysis:
    """Trained tau (leaky RNN), gate timescales (GRU, LSTM), tau_net (and the LSTM cell state's),
    population autocorrelation, dimensionality and Jacobian timescales.

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
    # Long on purpose: simulate once, then every estimate of one checkpoint from the same statistics.
    s = settings or AnalysisSettings()
    model = ckpt.model.cpu()
    stats = simulate_statistics(model, s.n_trials, s.n_steps, s.burn_in, s.max_lag, seed=s.seed,
                                n_points=s.n_points, progress=progress, task=ckpt.make_task(),
                                signals=gate_signals(model), autocorrelate=autocorrelated_signals(model))
    table = fit_timescales(stats.ac, s.fit_lag, s.method, bias_correction=s.bias_correction, n_steps=s.n_steps)
    pop = fit_timescales(stats.population_ac[:, None, :], s.fit_lag, s.method,
                         bias_correction=s.bias_correction, n_steps=s.n_steps)
    trained = model.timescales()
    tau = trained.detach().cpu().numpy().astype(np.float64) if trained is not None else np.full(len(table), np.nan)
    if RETENTION in stats.signal_means:
        gates = gate_timescales(stats.signal_means[RETENTION])
    else:
        gates = pd.DataFrame(np.nan, index=range(len(table)), columns=["gate_mean", "tau_gate", "tau_gate_log"])
    tau_net_cell = np.full(len(table), np.nan)
    if CELL in stats.signal_ac:
        tau_net_cell = fit_timescales(stats.signal_ac[CELL], s.fit_lag, s.method, bias_correction=s.bias_correction,
                                      n_steps=s.n_steps)["tau_net"].to_numpy()
    with torch_threads(1):  # small eigenproblems: threads only add overhead on a busy machine
        jac = jacobian_timescales(model, stats.states, stats.inputs, s.n_slowest) if len(stats.states) else None
    per_point = jac["per_point"] if jac else np.zeros((0, s.n_slowest))
    mean_j = jac["mean_jacobian"] if jac else np.full(s.n_slowest, np.nan)

    level_name, level = checkpoint_level(ckpt)
    neurons = table.rename(columns={"unit": "neuron"})
    neurons.insert(0, "n_max", ckpt.n_max)
    neurons.insert(1, "level", level)
    neurons.insert(2, "tau", tau)
    for k, column in enumerate(("tau_gate", "tau_gate_log", "gate_mean")):
        neurons.insert(3 + k, column, gates[column].to_numpy())
    neurons.insert(neurons.columns.get_loc("tau_net") + 1, "tau_net_cell", tau_net_cell)
    if s.tau_net_intervals:
        from rnn_timescales.analysis.tau_net_intervals import tau_net_interval

        low, high = tau_net_interval(stats.ac, s.fit_lag, s.method, s.tau_net_intervals, seed=s.seed,
                                     bias_correction=s.bias_correction, n_steps=s.n_steps)
        at = neurons.columns.get_loc("tau_net") + 1
        neurons.insert(at, "tau_net_low", low)
        neurons.insert(at + 1, "tau_net_high", high)
    dim = dimensionality_from_covariance(stats.covariance, 0.9)
    summary = {"checkpoint": str(ckpt.path), "n_min": ckpt.n_min, "n_max": ckpt.n_max, "level_name": level_name,
               "level": level, "model_type": ckpt.config.model.type, "gate": retention_gate(model)}
    for name in ("tau", "tau_gate", "tau_net", "tau_net_cell"):
        for stat, v in _spread(neurons[name].to_numpy()).items():
            summary[f"{name}_{stat}"] = float(v)
    summary.update(
        tau_gate_log_median=float(np.median(gates["tau_gate_log"])),
        tau_max=float(np.nanmax(tau)) if np.isfinite(tau).any() else np.nan,
        tau_net_max=float(np.nanmax(neurons["tau_net"])) if neurons["tau_net"].notna().any() else np.nan,
        frac_double=float((neurons["model"] == 2).mean()),
        n_no_fit=int((neurons["model"] == 0).sum()),
        population_tau_net=float(pop["tau_net"].iloc[0]),
        population_model=int(pop["model"].iloc[0]),
        dimensionality=dim,
        dimensionality_zero_based=dim - 1,
        jacobian_tau_max=float(np.median(per_point[:, 0])) if len(per_point) else np.nan,
        jacobian_tau_max_spread=float(per_point[:, 0].max() - per_point[:, 0].min()) if len(per_point) else np.nan,
        jacobian_mean_tau_max=float(mean_j[0]),
        jacobian_spectral_radius=float(np.median(jac["spectral_radius"])) if jac else np.nan,
        method=s.method,
        n_trials=s.n_trials,
        n_steps=s.n_steps,
    )
    for i in range(min(s.n_slowest, per_point.shape[1])):
        summary[f"jacobian_tau_{i + 1}"] = float(np.median(per_point[:, i]))
    return CheckpointAnalysis(
        neurons=neurons,
        summary=summary,
        ac=stats.ac.mean(axis=0),
        population_ac=stats.population_ac.mean(axis=0),
        jacobian=per_point,
        jacobian_mean=mean_j,
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
_NAME = re.compile(r"rnn_N(\d+)_N(\d+)")


def run_checkpoints_to_analyze(run_dir: Path, include_init: bool) -> list[Path]:
    """A run's checkpoints of solved levels (after the untrained network with ``include_init``);
    for a run that solved none, its final weights."""
    from rnn_timescales.runs.checkpoints import list_run_checkpoints

    return list_run_checkpoints(run_dir, include_init, final="if_unsolved")


def checkpoints_to_analyze(paths: Sequence[str | Path], ns: Iterable[int] | None = None,
                           include_init: bool = False) -> list[Path]:
    """Checkpoint files from run directories, directories of checkpoints, or files; filtered to
    the given N (largest N of each checkpoint), ordered by N."""
    from rnn_timescales.runs.checkpoints import CheckpointError, is_run_dir

    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise CheckpointError(f"{str(p)!r} does not exist; give a run directory or a checkpoint file")
        if p.is_dir():
            found = run_checkpoints_to_analyze(p, include_init) if is_run_dir(p) else [
                q for q in p.iterdir() if q.is_file() and (_NAME.match(q.name) or (include_init and q.name.startswith("rnn_init")))
            ]
            if not found:
                raise CheckpointError(f"{str(p)!r} holds no checkpoints (rnn_N*_N* files)")
            files.extend(found)
        else:
            files.append(p)

    def n_of(q: Path) -> int:
        m = _NAME.match(q.name)
        return int(m.group(2)) if m else 0

    if ns:
        wanted = set(ns)
        files = [q for q in files if n_of(q) in wanted]
        if not files:
            raise CheckpointError(f"no checkpoint with N in {sorted(wanted)} among the given paths")
    return sorted(dict.fromkeys(files), key=n_of)


def default_out_dir(path: str | Path) -> Path:
    """``RUN_DIR/analysis`` for a run directory (or a checkpoint inside one), else
    ``./analysis/<name>`` in the working directory (never next to someone else's files)."""
    from rnn_timescales.runs.checkpoints import is_run_dir

    p = Path(path).resolve()
    for cand in (p, p.parent, p.parent.parent):
        if is_run_dir(cand):
            return cand / "analysis"
    return Path("analysis") / (p.parent.name + "_" + p.name if p.is_file() else p.name)


SUMMARY = "summary.csv"


OUTPUT = OutputDir("analysis", marker=SUMMARY, kind="an analysis")
check_out_dir = OUTPUT.check  # ``out`` if an analysis may be written there (a previous one is replaced)


def write_analysis(results: list[CheckpointAnalysis], out: str | Path, settings: AnalysisSettings,
                   n_examples: int = 6) -> dict[str, Path]:
    """Write ``summary.csv``, ``neurons.csv``, ``jacobian.csv``, ``autocorrelations.npz`` and
    ``figures/*.png`` into ``out``; return the paths written.

    The files are assembled in a temporary directory beside ``out`` and renamed into place, so a
    reader sees the previous analysis or the whole new one, two analyses writing to the same place
    never mix their files, and a failure leaves nothing behind. A previous analysis in ``out`` is
    replaced; a directory holding anything else is refused (see :func:`check_out_dir`).
    """
    names = OUTPUT.write(out, lambda tmp: _write_files(results, tmp, settings, n_examples))
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

    fig_dir = out / "figures"
    fig_dir.mkdir()
    summary = pd.DataFrame([r.summary for r in results])
    neurons = pd.concat([r.neurons for r in results], ignore_index=True)
    jac_rows = [
        {"n_max": r.summary["n_max"], "level": r.summary["level"], "point": i, "rank": k + 1, "tau": float(v)}
        for r in results for i, row in enumerate(r.jacobian) for k, v in enumerate(row)
    ]
    names = {"summary": SUMMARY, "neurons": "neurons.csv", "jacobian": "jacobian.csv",
             "autocorrelations": "autocorrelations.npz"}
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
        names[name] = f"figures/{name}.png"

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


def _timescales_current(run_dir: Path, settings: Mapping[str, Any]) -> bool:
    """Up to date: ``analysis/summary.csv`` is newer than the newest checkpoint, has one row per
    checkpoint, and was made with the same number of trials and steps and the same method."""
    ckpts = run_checkpoints_to_analyze(run_dir, settings["include_init"])
    if not ckpts:
        return True  # nothing solved: nothing to analyse
    out = run_dir / "analysis" / "summary.csv"
    if not out.is_file() or out.stat().st_mtime < max(c.stat().st_mtime for c in ckpts):
        return False
    try:
        summary = pd.read_csv(out)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return False
    if len(summary) != len(ckpts):
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
        write_analysis(results, run_dir / "analysis", analysis_settings)


RUN_STUDY = RunStudy("analysis/" + SUMMARY, _timescales_settings, _timescales_current, _run_timescales)
