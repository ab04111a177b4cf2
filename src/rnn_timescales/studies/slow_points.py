"""Slow points of a trained [K24] network (parity / DMS) under the task's mean input, beside its
timescales: tables for notebooks (:func:`analyze_slow_points`) and files on disk
(:func:`write_slow_points`, used by ``rnn-timescales slow-points``).

Recipe (``docs/slow_points.md``): simulate the network on its task's input stream; draw initial
states from those trajectories and add Gaussian noise; minimise the speed q under the constant mean
input x̄ (0.5 for both tasks); at every distinct point report q, stability and the slowest
Jacobian timescales, next to the network's trained τ and, when ``rnn-timescales analyze`` has
been run on it, its τ_net.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
import torch

from rnn_timescales.analysis.dimensionality import principal_axes
from rnn_timescales.dynamics.slow_points import SlowPointHyperparameters, SlowPoints, find_slow_points, sample_states
from rnn_timescales.io import OutputDir
from rnn_timescales.errors import ConfigError
from rnn_timescales.studies.contract import RunStudy, Study

POINTS = "slow_points.csv"
SUMMARY = "slow_points_summary.csv"
RESULT = "slow_points.npz"
# the network-level timescales copied from `rnn-timescales analyze`'s summary.csv
TAU_NET_COLUMNS = ("tau_net_median", "tau_net_mean", "tau_net_q25", "tau_net_q75", "tau_net_max",
                   "population_tau_net", "jacobian_tau_max")


@dataclass
class SlowPointSettings:
    """The knobs of one slow-point analysis.

    n_initial : initial states drawn from the trajectories.
    noise : s.d. of the Gaussian noise added to each drawn state, as a fraction of the
        trajectories' root-mean-square per-unit s.d. (so the same value suits any activity scale).
    input_value : the constant input x̄ (the mean of the task's Bernoulli input: 0.5).
    n_trials, n_steps, burn_in : input streams simulated, steps kept per stream, steps discarded
        before them (the network forgets its initial state).
    n_timescales : Jacobian timescales reported per point (slowest first).
    n_components : principal components of the trajectories kept for the figure.
    seed : seeds the input streams, initial states, draws and noise.
    hyperparameters : overrides of the finder's settings
        (:class:`~rnn_timescales.dynamics.slow_points.SlowPointHyperparameters`).
    """

    n_initial: int = 512
    noise: float = 0.5
    input_value: float = 0.5
    n_trials: int = 16
    n_steps: int = 500
    burn_in: int = 100
    n_timescales: int = 5
    n_components: int = 3
    seed: int = 0
    hyperparameters: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("n_initial", "n_trials", "n_steps", "n_timescales", "n_components"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.burn_in < 0 or self.noise < 0:
            raise ValueError("burn_in and noise must be non-negative")


@dataclass
class SlowPointAnalysis:
    """Everything measured on one checkpoint.

    result : the finder's :class:`SlowPoints`.
    points : one row per distinct point (``result.to_frame()`` plus ``checkpoint, n_min, n_max,
        input, pc1..`` and the network's timescales).
    summary : one record for the checkpoint (counts, the slowest point, trained τ, τ_net).
    trajectory_pcs : (time, trials, components) the simulated trajectories on the top principal
        components; ``explained`` : (components,) their share of the variance.
    tau_net_source : the ``summary.csv`` the τ_net columns were read from, or None.
    """

    result: SlowPoints
    points: pd.DataFrame
    summary: dict
    trajectory_pcs: np.ndarray
    explained: np.ndarray
    tau_net_source: Path | None = None


def analyze_slow_points(
    ckpt,
    settings: SlowPointSettings | None = None,
    device: torch.device | str = "cpu",
    tau_net: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> SlowPointAnalysis:
    """Slow points of a checkpoint's network under the constant input ``settings.input_value``.

    Parameters
    ----------
    ckpt : LoadedCheckpoint
        From :func:`rnn_timescales.runs.checkpoints.load_any` (its model is not changed).
    settings : SlowPointSettings
    device : where the simulation and the search run.
    tau_net : an ``analyze`` output directory or its ``summary.csv`` to read τ_net from; None
        looks where ``rnn-timescales analyze`` writes by default (:func:`find_tau_net`).
    progress : called with the number of finder iterations done (e.g. ``tqdm.update``).
    """
    from rnn_timescales.tasks import get_task

    s = settings or SlowPointSettings()
    if s.hyperparameters.get("compute_jacobians", True) is not True:
        raise ValueError("the slow-point analysis reports Jacobian timescales; keep compute_jacobians=True")
    model = ckpt.model
    device = torch.device(device)
    if next(model.parameters()).device != device:
        model = _moved(model, device)
    gen = torch.Generator(device=device).manual_seed(s.seed)
    batch = get_task(ckpt.task).stream(ckpt.ns, s.burn_in + s.n_steps, s.n_trials, gen, device)
    with torch.no_grad():
        traj = model.run(batch.inputs.to(next(model.parameters()).dtype), model.init_state(s.n_trials, gen))
    traj = traj[s.burn_in:]
    spread = float(traj.reshape(-1, traj.shape[-1]).std(dim=0).square().mean().sqrt())
    x0, _ = sample_states(traj, s.n_initial, s.noise * spread, gen)
    result = find_slow_points(model, x0, torch.tensor([s.input_value]), progress=progress, **s.hyperparameters)

    flat = traj.reshape(-1, traj.shape[-1]).double().cpu().numpy()
    mean, components, explained = principal_axes(flat, s.n_components)
    trajectory_pcs = ((traj.double().cpu().numpy() - mean) @ components.T).astype(np.float32)
    point_pcs = (result.states - mean) @ components.T

    network = _trained_tau(model)
    tau_net_row, source = find_tau_net(ckpt, tau_net)
    network.update({k: tau_net_row.get(k, np.nan) for k in TAU_NET_COLUMNS})

    points = result.to_frame(s.n_timescales)
    points.insert(0, "checkpoint", str(ckpt.path))
    points.insert(1, "n_min", ckpt.n_min)
    points.insert(2, "n_max", ckpt.n_max)
    points.insert(3, "input", s.input_value)
    for k in range(point_pcs.shape[1]):
        points[f"pc{k + 1}"] = point_pcs[:, k]
    for key, value in network.items():
        points[key] = value
    summary = _summarize(ckpt, s, result, points, network, spread)
    return SlowPointAnalysis(result=result, points=points, summary=summary, trajectory_pcs=trajectory_pcs,
                             explained=explained, tau_net_source=source)


def _moved(model, device):
    import copy

    return copy.deepcopy(model).to(device)  # the caller's model stays where it is


def _trained_tau(model) -> dict:
    tau = model.timescales()
    if tau is None:
        return {"tau_median": np.nan, "tau_max": np.nan}
    tau = tau.detach().double().cpu().numpy()
    return {"tau_median": float(np.median(tau)), "tau_max": float(tau.max())}


def _summarize(ckpt, s: SlowPointSettings, result: SlowPoints, points: pd.DataFrame, network: dict,
               spread: float) -> dict:
    stable = points[points["stable"].astype(bool)] if len(points) else points
    slowest = stable.sort_values("q").iloc[0] if len(stable) else None
    finite = stable["timescale_max"][np.isfinite(stable["timescale_max"])] if len(stable) else pd.Series(dtype=float)
    summary = {
        "checkpoint": str(ckpt.path), "task": ckpt.task, "n_min": ckpt.n_min, "n_max": ckpt.n_max,
        "input": s.input_value, "n_initial": s.n_initial, "noise": s.noise * spread,
        "n_points": result.n_points, "n_stable": int(len(stable)),
        "n_excluded": int((result.assignment < 0).sum()),
        "converged_fraction": float(result.final_converged.mean()),
        "q_min": float(points["q"].min()) if len(points) else np.nan,
        "q_max": float(points["q"].max()) if len(points) else np.nan,
        "stable_timescale_max": float(finite.max()) if len(finite) else np.nan,
        "slowest_stable_point": int(slowest["point"]) if slowest is not None else -1,
    }
    for k in range(1, s.n_timescales + 1):
        col = f"timescale_{k}"
        summary[f"stable_{col}"] = float(slowest[col]) if slowest is not None and col in slowest else np.nan
    summary["stable_unit_timescale_max"] = float(slowest["unit_timescale_max"]) if slowest is not None else np.nan
    summary.update(network)
    return summary


# --- the network's tau_net from `rnn-timescales analyze` ------------------------------------------
def find_tau_net(ckpt, where: str | Path | None = None) -> tuple[dict, Path | None]:
    """The row of an ``analyze`` summary.csv that belongs to ``ckpt``, and the file it came from.

    ``where``: a summary.csv or a directory holding one. None tries the places ``analyze`` writes
    to by default for this checkpoint (``RUN_DIR/analysis``; ``./analysis/<folder>_<file>`` and
    ``./analysis/<folder>`` for a checkpoint outside a run). A row matches by checkpoint path, or
    else by (n_min, n_max). Returns ({}, None) when nothing matches; a given ``where`` that holds
    no summary.csv is a ValueError.
    """
    from rnn_timescales.studies.analyze import SUMMARY as ANALYSIS_SUMMARY
    from rnn_timescales.studies.analyze import default_out_dir

    path = Path(ckpt.path)
    if where is not None:
        given = Path(where)
        candidates = [given if given.is_file() else given / ANALYSIS_SUMMARY]
        if not candidates[0].is_file():
            raise ValueError(f"{str(where)!r} holds no {ANALYSIS_SUMMARY}; give an `rnn-timescales analyze` output")
    else:
        candidates = [default_out_dir(path) / ANALYSIS_SUMMARY, default_out_dir(path.parent) / ANALYSIS_SUMMARY]
    for csv in dict.fromkeys(candidates):
        if not csv.is_file():
            continue
        try:
            table = pd.read_csv(csv)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
            continue
        row = _matching_row(table, path, ckpt.n_min, ckpt.n_max)
        if row is not None:
            return row, csv
    return {}, None


def _matching_row(table: pd.DataFrame, path: Path, n_min: int, n_max: int) -> dict | None:
    if "checkpoint" in table:
        same = [i for i, p in enumerate(table["checkpoint"].astype(str)) if _same_file(Path(p), path)]
        if same:
            return table.iloc[same[0]].to_dict()
    if {"n_min", "n_max"} <= set(table):
        hits = table[(table["n_min"] == n_min) & (table["n_max"] == n_max)]
        if len(hits) == 1:
            return hits.iloc[0].to_dict()
    return None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


# --- files ----------------------------------------------------------------------------------------
def default_slow_points_dir(path: str | Path, ckpt_path: str | Path) -> Path:
    """``RUN_DIR/slow_points/<checkpoint>`` for a run directory (or a checkpoint in one), else
    ``./slow_points/<folder>_<file>`` in the working directory."""
    from rnn_timescales.runs.checkpoints import SUFFIX, is_run_dir

    p = Path(path).resolve()
    name = Path(ckpt_path).name.removesuffix(SUFFIX)
    for cand in (p, p.parent, p.parent.parent):
        if is_run_dir(cand):
            return cand / "slow_points" / name
    ck = Path(ckpt_path).resolve()
    return Path("slow_points") / f"{ck.parent.name}_{name}"


OUTPUT = OutputDir("slow points", marker=POINTS, kind="a slow-point analysis")
check_slow_points_dir = OUTPUT.check  # ``out`` if a slow-point analysis may be written there


def write_slow_points(analysis: SlowPointAnalysis, out: str | Path) -> dict[str, Path]:
    """Write ``slow_points.csv``, ``slow_points_summary.csv``, ``slow_points.npz`` (the finder's
    result, :meth:`SlowPoints.load` reads it) and ``figures/{slow_points_pca,slow_point_spectra}.png``
    into ``out``, all at once (assembled beside it and renamed into place); return the paths."""
    names = OUTPUT.write(out, lambda tmp: _write_files(analysis, tmp))
    return {key: Path(out) / name for key, name in names.items()}


def _write_files(a: SlowPointAnalysis, out: Path) -> dict[str, str]:
    import matplotlib.pyplot as plt

    from rnn_timescales.plots import figures as plotting

    names = {"points": POINTS, "summary": SUMMARY, "result": RESULT}
    a.points.to_csv(out / POINTS, index=False)
    pd.DataFrame([a.summary]).to_csv(out / SUMMARY, index=False)
    a.result.save(out / RESULT)
    (out / "figures").mkdir()
    title = f"N = {a.summary['n_min']}..{a.summary['n_max']}, input {a.summary['input']:g}"
    pc_cols = [c for c in a.points if c.startswith("pc")]
    figs = {
        "slow_points_pca": plotting.plot_slow_points_pca(
            a.trajectory_pcs, a.points[pc_cols].to_numpy(), a.points["q"].to_numpy(),
            a.points["stable"].to_numpy(bool), a.explained, title=title),
        "slow_point_spectra": plotting.plot_slow_point_spectra(
            a.result.eigenvalues, a.points, a.summary, title=title),
    }
    for name, fig in figs.items():
        fig.savefig(out / "figures" / f"{name}.png", dpi=120, bbox_inches="tight")
        plt.close(fig)
        names[name] = f"figures/{name}.png"
    return names


# --- as a sweep runs it: the slow points of each run's latest network ----------------------------
IN_RUN = "slow_points"  # RUN_DIR/slow_points/<checkpoint>, as ``slow-points RUN_DIR`` writes by default


def _sweep_settings(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    allowed = [f.name for f in fields(SlowPointSettings)]
    unknown = [k for k in raw if k not in allowed]
    if unknown:
        raise ConfigError(f"{where}: unknown setting {unknown[0]!r}; choose from {', '.join(allowed)}")
    for key, value in raw.items():
        default = getattr(SlowPointSettings(), key)
        kinds = (dict,) if isinstance(default, dict) else (int,) if isinstance(default, int) else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise ConfigError(f"{where}: {key} must be {'a mapping' if kinds == (dict,) else 'a number'}, got {value!r}")
    try:
        SlowPointHyperparameters.from_kwargs(**raw.get("hyperparameters", {}))
        return asdict(SlowPointSettings(**raw))
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from None


def _sweep_out(run_dir: Path) -> tuple[Path | None, Path | None]:
    from rnn_timescales.runs import latest_checkpoint

    ckpt = latest_checkpoint(run_dir)
    return ckpt, (default_slow_points_dir(run_dir, ckpt) if ckpt is not None else None)


def _sweep_current(run_dir: Path, settings: Mapping[str, Any]) -> bool:
    """Up to date: the latest network's ``slow_points_summary.csv`` is newer than it and was made
    from it with the same number of initial states and the same input."""
    ckpt, out = _sweep_out(run_dir)
    if ckpt is None:
        return True  # nothing trained yet: nothing to analyse
    path = out / SUMMARY
    if not path.is_file() or path.stat().st_mtime < ckpt.stat().st_mtime:
        return False
    try:
        row = pd.read_csv(path).iloc[0]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, IndexError):
        return False
    return (row.get("checkpoint") == str(ckpt) and row.get("n_initial") == settings["n_initial"]
            and row.get("input") == settings["input_value"])


def _sweep_run(run_dir: Path, settings: Mapping[str, Any]) -> None:
    from rnn_timescales.runs import load_any

    ckpt, out = _sweep_out(run_dir)
    if ckpt is not None:
        analysis = analyze_slow_points(load_any(ckpt), SlowPointSettings(**settings))
        write_slow_points(analysis, out)


STUDY = Study(
    "slow-points", "slow and fixed points of a checkpoint under its task's mean input, beside its timescales",
    SlowPointSettings, (POINTS, SUMMARY, RESULT), ("figures/slow_points_pca.png", "figures/slow_point_spectra.png"),
    sweep_name="slow_points", sweep=RunStudy(IN_RUN, _sweep_settings, _sweep_current, _sweep_run,
                                             tables=(f"{IN_RUN}/*/{SUMMARY}", f"{IN_RUN}/*/{POINTS}"),
                                             requires="streaming"),  # the task's stream gives the mean input
    tiny={"n_initial": 16, "n_trials": 2, "n_steps": 60, "burn_in": 10, "n_components": 2,
          "hyperparameters": {"max_iters": 200}})
