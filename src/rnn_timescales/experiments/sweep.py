"""Sweeps: one experiment over many settings and seeds, each point a self-contained run directory.

A sweep specification is YAML::

    description: what the sweep is for (free text)
    base:                  # a run configuration, nested as config.yaml is, or preset: NAME + settings
      preset: quick
      model: {hidden_size: 256}
    grid:                  # dotted setting -> values; every combination is a point
      curriculum.kind: [single, multi]
      seed: [0, 1]
    runs:                  # explicit settings, each combined with every grid point
      - {task.name: parity}
      - {task.name: dms, training.target_n: 8}
    overrides: ["device=cpu"]           # key=value applied to every point last (--set adds here)
    analyze:               # analyses run on every finished run (see ANALYSES)
      timescales: {n_trials: 4, n_steps: 20000}
    resources: {threads: 1, gpus: 0}    # per run: torch threads (= CPUs asked of Ray), GPUs

A point's configuration is built in layers: its preset (``preset`` in the grid or a run, else in
``base``, else ``paper``), then ``base``, then the point's grid values and run settings, then
``overrides``. With only a grid, or only runs, that alone defines the points.

A sweep root holds::

    sweep.yaml             the specification as run (command-line overrides included)
    runs.csv               one row per point: its directory name and each setting that varies
    <name>/                one run directory per point, named from its varying settings,
                           e.g. curriculum-single_seed-0 (see README "What a run writes")
    errors/                <name>.json (phase, one-line error) and <name>.traceback.txt of failed runs

A run is **done** when its ``summary.json`` exists with any stop reason other than
``interrupted`` or ``diverged`` (a budget, a target, solved, heads exhausted, max_epochs, or
imported), and its stopping settings (max_epochs, target_n, time_budget_s) are those the sweep
asks for; when the sweep asks for more, the run is pending and is extended from its saved state.
It is **running** while a process holds its lock (``RUN_DIR/.lock``), **failed** when
``errors/<name>.json`` exists (an exception, a dead worker, or a divergence), and **pending**
otherwise (not started, or interrupted: it resumes from its saved state).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import threading
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Iterable, Iterator, Mapping

import pandas as pd
import yaml
from tqdm.auto import tqdm

from rnn_timescales.config import PRESETS, RESUMABLE, ConfigError, RunConfig, build_config, config_difference, flatten, read_yaml
from rnn_timescales.io import atomic_write_text, file_in_the_way

SPEC_FILE = "sweep.yaml"
RUNS_FILE = "runs.csv"
ERRORS_DIR = "errors"
STATUSES = ("done", "running", "failed", "pending")
SPEC_KEYS = ("description", "base", "grid", "runs", "overrides", "analyze", "resources")
FINAL_STOPS = ("target_n", "solved", "heads_exhausted", "max_epochs", "time_budget", "imported")
# Names of often-varied settings in run directory names; any other setting is named by its last part.
SHORT_LABELS = MappingProxyType({
    "task.name": "task", "curriculum.kind": "curriculum", "model.hidden_size": "h", "model.type": "model",
    "model.precision": "precision",
})


# --- the specification ---------------------------------------------------------------------------
@dataclass
class SweepSpec:
    """A validated sweep specification (see the module docstring). ``base`` is nested or dotted,
    ``grid`` maps dotted settings to their values, ``runs`` holds dotted settings per entry."""

    base: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    analyze: dict[str, dict[str, Any]] = field(default_factory=dict)
    threads: int = 1
    gpus: float = 0.0
    description: str = ""

    @classmethod
    def from_mapping(cls, data: Any, source: str = "sweep spec") -> SweepSpec:
        """Validate a mapping read from YAML; ConfigError naming ``source`` and what to fix."""

        def bad(msg: str) -> ConfigError:
            return ConfigError(f"{source}: {msg}")

        if not isinstance(data, dict):
            raise bad(f"must hold a mapping with keys {', '.join(SPEC_KEYS)}, not {type(data).__name__}")
        unknown = [k for k in data if k not in SPEC_KEYS]
        if unknown:
            raise bad(f"unknown key {unknown[0]!r}; a sweep spec has {', '.join(SPEC_KEYS)}")
        base = data.get("base") or {}
        if not isinstance(base, dict):
            raise bad("base must be a mapping of settings (nested as config.yaml is, or dotted)")
        grid = data.get("grid") or {}
        if not isinstance(grid, dict):
            raise bad("grid must map dotted settings to lists of values, e.g. seed: [0, 1, 2]")
        for key, values in grid.items():
            if not isinstance(values, list) or not values:
                raise bad(f"grid: {key!r} must map to a non-empty list of values, e.g. {key}: [a, b]")
            if len({_canonical(v) for v in values}) < len(values):
                raise bad(f"grid: {key!r} lists a value twice")
        runs = data.get("runs") or []
        if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
            raise bad("runs must be a list of mappings of settings, e.g. - {task.name: dms, seed: 1}")
        runs = [flatten(r) for r in runs]
        clash = sorted({k for r in runs for k in r} & set(grid))
        if clash:
            raise bad(f"{clash[0]!r} is set by both grid and runs; set it in one of them")
        overrides = data.get("overrides") or []
        if not isinstance(overrides, list) or not all(isinstance(o, str) and "=" in o for o in overrides):
            raise bad("overrides must be a list of 'section.key=value' strings")
        analyze = data.get("analyze") or {}
        if not isinstance(analyze, dict):
            raise bad(f"analyze must map analysis names ({', '.join(ANALYSES)}) to their settings")
        checked = {}
        for name, settings in analyze.items():
            if name not in ANALYSES:
                raise bad(f"analyze: unknown analysis {name!r}; choose from {', '.join(ANALYSES)}")
            if settings is not None and not isinstance(settings, dict):
                raise bad(f"analyze: {name} must map to a mapping of settings (or nothing for the defaults)")
            checked[name] = ANALYSES[name].validate(settings or {}, f"{source}: analyze.{name}")
        resources = data.get("resources") or {}
        if not isinstance(resources, dict) or set(resources) - {"threads", "gpus"}:
            raise bad("resources must be a mapping with threads (per run) and gpus (per run)")
        threads, gpus = resources.get("threads", 1), resources.get("gpus", 0)
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise bad(f"resources.threads must be a positive integer, got {threads!r}")
        if isinstance(gpus, bool) or not isinstance(gpus, (int, float)) or gpus < 0:
            raise bad(f"resources.gpus must be a non-negative number, got {gpus!r}")
        description = data.get("description") or ""
        return cls(base=base, grid=grid, runs=runs, overrides=list(overrides), analyze=checked,
                   threads=threads, gpus=float(gpus), description=str(description))

    def to_mapping(self) -> dict[str, Any]:
        """The specification as YAML-ready data (what ``sweep.yaml`` holds)."""
        data: dict[str, Any] = {}
        if self.description:
            data["description"] = self.description
        data["base"] = self.base
        if self.grid:
            data["grid"] = self.grid
        if self.runs:
            data["runs"] = self.runs
        if self.overrides:
            data["overrides"] = self.overrides
        if self.analyze:
            data["analyze"] = self.analyze
        data["resources"] = {"threads": self.threads, "gpus": self.gpus}
        return data

    def with_overrides(self, overrides: Iterable[str]) -> SweepSpec:
        """A copy with ``key=value`` overrides added: ``analyze.NAME.key=value`` changes an
        analysis setting, anything else every point's configuration."""
        from rnn_timescales.config import merge, parse_override

        runs_overrides = list(self.overrides)
        analyze = {k: dict(v) for k, v in self.analyze.items()}
        for text in overrides:
            layer = parse_override(text)
            if "analyze" in layer:
                for name, settings in layer["analyze"].items():
                    if name not in ANALYSES or not isinstance(settings, dict):
                        raise ConfigError(f"override {text!r}: expected analyze.NAME.key=value with NAME one of "
                                          f"{', '.join(ANALYSES)}")
                    analyze[name] = ANALYSES[name].validate(merge(analyze.get(name, {}), settings),
                                                             f"override {text!r}")
            else:
                runs_overrides.append(text)
        return SweepSpec(base=self.base, grid=self.grid, runs=self.runs, overrides=runs_overrides, analyze=analyze,
                         threads=self.threads, gpus=self.gpus, description=self.description)


def load_spec(path: str | Path) -> SweepSpec:
    """Read a sweep specification from a YAML file, or from a sweep root (its ``sweep.yaml``)."""
    p = Path(path)
    if p.is_dir():
        if not (p / SPEC_FILE).is_file():
            raise ConfigError(f"{str(p)!r} is a directory but not a sweep (it has no {SPEC_FILE})")
        p = p / SPEC_FILE
    elif not p.exists():
        raise ConfigError(f"sweep spec {str(p)!r} does not exist")
    return SweepSpec.from_mapping(read_yaml(p), f"sweep spec {str(p)!r}")


# --- points -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepPoint:
    """One run of a sweep. ``settings``: its grid values and run settings (dotted); ``varying``:
    the settings that differ between the sweep's points, with this run's resolved values."""

    name: str
    settings: dict[str, Any]
    varying: dict[str, Any]
    config: RunConfig


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def expand(spec: SweepSpec) -> list[dict[str, Any]]:
    """Each point's own settings: every grid combination, combined with every explicit run."""
    keys = list(spec.grid)
    grid_points = [dict(zip(keys, combo)) for combo in itertools.product(*(spec.grid[k] for k in keys))]
    return [{**g, **r} for g in grid_points for r in (spec.runs or [{}])]


def point_config(spec: SweepSpec, settings: Mapping[str, Any]) -> RunConfig:
    """The validated configuration of one point (layers as in the module docstring)."""
    base = flatten(spec.base)
    preset = settings.get("preset", base.get("preset", "paper"))
    layered = {k: v for k, v in {**base, **settings}.items() if k != "preset"}
    overrides = [f"{k}={json.dumps(v)}" for k, v in layered.items()] + list(spec.overrides)
    try:
        if preset == "custom":  # a saved config.yaml: complete, so the starting preset does not matter
            return build_config("paper", overrides=overrides + ["preset=custom"])
        if preset not in PRESETS:
            build_config(str(preset))  # raises the usual "unknown preset" message
        return build_config(preset, overrides=overrides)
    except ConfigError as e:
        where = ", ".join(f"{k}={v}" for k, v in settings.items()) or "base"
        raise ConfigError(f"sweep point ({where}): {e}") from None


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "none"
    elif isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, (dict, list)):
        text = _canonical(value)
    else:
        text = str(value)
    return re.sub(r"[^A-Za-z0-9.+]+", "-", text).strip("-") or "x"


def setting_labels(keys: Iterable[str]) -> dict[str, str]:
    """Short names of settings for run directory names and figure legends (``curriculum.kind`` ->
    ``curriculum``); a short name two settings would share falls back to the dotted setting."""
    keys = list(keys)
    short = {k: SHORT_LABELS.get(k, k.rsplit(".", 1)[-1]) for k in keys}
    counts = Counter(short.values())
    return {k: (s if counts[s] == 1 else k.replace(".", "-")) for k, s in short.items()}


def plan(spec: SweepSpec) -> list[SweepPoint]:
    """The sweep's points, named from the settings that vary (``curriculum-single_seed-0``).

    ConfigError for a point whose configuration is invalid, or two points that are the same run.
    """
    raw = expand(spec)
    configs = [point_config(spec, s) for s in raw]
    seen: dict[str, int] = {}
    for i, c in enumerate(configs):
        key = _canonical(c.to_dict())
        if key in seen:
            a = ", ".join(f"{k}={v}" for k, v in raw[seen[key]].items())
            b = ", ".join(f"{k}={v}" for k, v in raw[i].items())
            raise ConfigError(f"sweep points ({a}) and ({b}) are the same run; remove one")
        seen[key] = i
    resolved = [flatten(c.to_dict()) for c in configs]
    keys = list(dict.fromkeys(k for s in raw for k in s))

    def value(i: int, key: str) -> Any:
        return resolved[i].get(key, raw[i].get(key))

    varying = [k for k in keys if len({_canonical(value(i, k)) for i in range(len(raw))}) > 1]
    labels = setting_labels(varying)
    points, used = [], Counter()
    for i, (settings, config) in enumerate(zip(raw, configs)):
        name = "_".join(f"{labels[k]}-{_format_value(value(i, k))}" for k in varying) or "run"
        used[name] += 1
        if used[name] > 1:  # different values that read the same once made safe for a file name
            name = f"{name}-{used[name]}"
        points.append(SweepPoint(name, dict(settings), {k: value(i, k) for k in varying}, config))
    return points


# --- analyses run over a sweep ------------------------------------------------------------------
@dataclass(frozen=True)
class SweepAnalysis:
    """An analysis the sweep runs on every finished run.

    output: the table (relative to the run directory) that shows the analysis was done.
    validate(settings, where) -> settings with defaults filled in; ConfigError naming ``where``.
    is_current(run_dir, settings) -> whether the run's analysis is up to date (then it is skipped).
    run(run_dir, settings): analyse the run and write ``output`` (and whatever goes with it).
    """

    output: str
    validate: Callable[[Mapping[str, Any], str], dict[str, Any]]
    is_current: Callable[[Path, Mapping[str, Any]], bool]
    run: Callable[[Path, Mapping[str, Any]], None]


_INT_SETTINGS = {"n_trials": 1, "n_steps": 1, "burn_in": 0, "max_lag": 1, "fit_lag": 2, "n_points": 1, "n_slowest": 1,
                 "seed": 0, "tau_net_intervals": 0}


def _timescales_settings(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    from rnn_timescales.analysis.report import AnalysisSettings
    from rnn_timescales.analysis.timescales import METHODS

    allowed = [f.name for f in fields(AnalysisSettings)] + ["include_init"]
    unknown = [k for k in raw if k not in allowed]
    if unknown:
        raise ConfigError(f"{where}: unknown setting {unknown[0]!r}; choose from {', '.join(allowed)}")
    s = {**asdict(AnalysisSettings()), "include_init": False, **raw}
    for key, low in _INT_SETTINGS.items():
        v = s[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ConfigError(f"{where}: {key} must be an integer of at least {low}, got {v!r}")
    if s["method"] not in METHODS:
        raise ConfigError(f"{where}: method must be one of {', '.join(METHODS)}, got {s['method']!r}")
    if s["bias_correction"] not in (None, "analytic"):
        raise ConfigError(f"{where}: bias_correction must be null or analytic, got {s['bias_correction']!r}")
    if 0 < s["tau_net_intervals"] < 20:
        raise ConfigError(f"{where}: tau_net_intervals must be 0 (none) or at least 20, got {s['tau_net_intervals']}")
    if s["fit_lag"] > s["max_lag"]:
        raise ConfigError(f"{where}: fit_lag ({s['fit_lag']}) must not exceed max_lag ({s['max_lag']})")
    if s["n_steps"] <= s["max_lag"]:
        raise ConfigError(f"{where}: n_steps ({s['n_steps']}) must exceed max_lag ({s['max_lag']})")
    if not isinstance(s["include_init"], bool):
        raise ConfigError(f"{where}: include_init must be true or false, got {s['include_init']!r}")
    return s


def _analysed_checkpoints(run_dir: Path, include_init: bool) -> list[Path]:
    from rnn_timescales.training.checkpoints import list_run_checkpoints

    return list_run_checkpoints(run_dir, include_init=include_init)


def _timescales_current(run_dir: Path, settings: Mapping[str, Any]) -> bool:
    """Up to date: ``analysis/summary.csv`` is newer than the newest checkpoint, has one row per
    checkpoint, and was made with the same number of trials and steps and the same method."""
    ckpts = _analysed_checkpoints(run_dir, settings["include_init"])
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
    from rnn_timescales.analysis.report import AnalysisSettings, analyze_checkpoint, write_analysis
    from rnn_timescales.training.checkpoints import load_any

    s = dict(settings)
    include_init = s.pop("include_init")
    analysis_settings = AnalysisSettings(**s)
    checkpoints = [load_any(p) for p in _analysed_checkpoints(run_dir, include_init)]
    if checkpoints:
        results = [analyze_checkpoint(ckpt, analysis_settings) for ckpt in checkpoints]
        write_analysis(results, run_dir / "analysis", analysis_settings)


# Adding an analysis to the sweep is one entry here.
ANALYSES: Mapping[str, SweepAnalysis] = MappingProxyType({
    "timescales": SweepAnalysis("analysis/summary.csv", _timescales_settings, _timescales_current, _run_timescales),
})


# --- run status ---------------------------------------------------------------------------------
@dataclass
class RunStatus:
    """Where one point of a sweep stands. status: done | running | failed | pending."""

    name: str
    status: str
    detail: str
    stop_reason: str | None = None
    n_solved: int | None = None
    epochs: int | None = None
    wall_time_s: float | None = None
    extend: dict[str, Any] = field(default_factory=dict)  # stopping settings the sweep changes
    trained: bool = False  # training finished as planned (a failed analysis leaves it True)


def is_locked(run_dir: str | Path) -> bool:
    """Whether a process holds the run directory's training lock (it is training now)."""
    from rnn_timescales.training.rundir import LOCK_NAME

    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: runs are not locked
        return False
    try:
        fd = os.open(Path(run_dir) / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return False
    try:
        # A shared lock only: it never blocks a trainer that has taken the exclusive one.
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def stopping_differences(run_dir: Path, planned: RunConfig) -> dict[str, Any]:
    """Settings a resumed run may change (training.max_epochs, target_n, time_budget_s, ...) on
    which the run's config.yaml and the planned configuration differ: setting -> planned value."""
    saved = flatten(read_yaml(run_dir / "config.yaml"))
    want = flatten(planned.to_dict())
    return {k: want[k] for k in RESUMABLE if saved.get(k) != want.get(k)}


def configuration_mismatch(run_dir: Path, planned: RunConfig) -> str | None:
    """The first setting (other than those a resumed run may change) on which an existing run
    directory's config.yaml differs from the planned configuration, or None
    (:func:`~rnn_timescales.config.config_difference`)."""
    return config_difference(read_yaml(run_dir / "config.yaml"), planned, where=("there", "in the sweep"))


def error_files(root: Path, name: str) -> tuple[Path, Path]:
    """Where the failure of run ``name`` is recorded: (``errors/NAME.json``, ``errors/NAME.traceback.txt``)."""
    return root / ERRORS_DIR / f"{name}.json", root / ERRORS_DIR / f"{name}.traceback.txt"


def record_failure(root: Path, name: str, phase: str, error: str, trace: str | None = None) -> None:
    """Write ``errors/NAME.json`` ({phase, error, time}) and, if given, the traceback beside it."""
    record, tb_file = error_files(root, name)
    record.parent.mkdir(parents=True, exist_ok=True)
    if trace:
        atomic_write_text(tb_file, trace)
    else:
        tb_file.unlink(missing_ok=True)
    atomic_write_text(record, json.dumps({"phase": phase, "error": error, "time": time.strftime("%Y-%m-%d %H:%M:%S"),
                                          "traceback": tb_file.name if trace else None}, indent=2))


def clear_failure(root: Path, name: str) -> None:
    for p in error_files(root, name):
        p.unlink(missing_ok=True)


def read_failure(root: Path, name: str) -> dict[str, Any] | None:
    record = error_files(root, name)[0]
    if not record.is_file():
        return None
    try:
        return json.loads(record.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {"phase": "?", "error": f"unreadable failure record {record.name}"}


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """A run's summary.json, or None if it has none (still training, killed) or it is unreadable."""
    try:
        return json.loads((run_dir / "summary.json").read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def run_status(root: Path, point: SweepPoint) -> RunStatus:
    """The status of one point (definitions in the module docstring)."""
    run_dir = root / point.name
    if is_locked(run_dir):
        return RunStatus(point.name, "running", "training (its lock is held)")
    st = _training_status(run_dir, point)
    failure = read_failure(root, point.name)
    if failure is not None:
        st.status, st.detail = "failed", f"{failure.get('phase')}: {failure.get('error')}"
    return st


def _training_status(run_dir: Path, point: SweepPoint) -> RunStatus:
    summary = read_summary(run_dir)
    if summary is None:
        if (run_dir / "config.yaml").is_file():
            return RunStatus(point.name, "pending", "interrupted (resumes from its saved state)")
        return RunStatus(point.name, "pending", "not started")
    info = dict(stop_reason=summary.get("stop_reason"), n_solved=summary.get("n_max_solved"),
                epochs=summary.get("epochs"), wall_time_s=summary.get("wall_time_s"))
    reason = info["stop_reason"]
    solved = f"N = {info['n_solved']}" if info["n_solved"] is not None else "nothing solved"
    if reason == "diverged":
        return RunStatus(point.name, "failed", f"train: {summary.get('message') or 'diverged'}", **info)
    if reason not in FINAL_STOPS:
        return RunStatus(point.name, "pending", f"{reason} after {info['epochs']} epochs, {solved} (resumes)", **info)
    extend = stopping_differences(run_dir, point.config) if reason != "imported" else {}
    if extend:
        what = ", ".join(f"{k}={v}" for k, v in extend.items())
        return RunStatus(point.name, "pending", f"{reason}, {solved}; to be extended ({what})", extend=extend, **info)
    return RunStatus(point.name, "done", f"{reason} after {info['epochs']} epochs, {solved}", trained=True, **info)


def sweep_status(root: str | Path, spec: SweepSpec | None = None) -> list[RunStatus]:
    """The status of every point of the sweep at ``root`` (its saved spec unless ``spec`` is given)."""
    root = Path(root)
    spec = spec or load_spec(root)
    return [run_status(root, p) for p in plan(spec)]


def status_counts(statuses: Iterable[RunStatus]) -> dict[str, int]:
    """``{"done": n, "running": n, "failed": n, "pending": n}``."""
    counts = Counter(s.status for s in statuses)
    return {k: counts.get(k, 0) for k in STATUSES}


# --- the worker ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunTask:
    """What a worker does for one point: train it (new, resumed or extended) and/or analyse it.

    config: the planned configuration (``RunConfig.to_dict()``); extend: stopping settings a resumed
    run takes from the sweep; analyses: (name, settings) pairs; threads: torch threads to use.
    """

    name: str
    root: str
    config: dict[str, Any]
    train: bool
    extend: dict[str, Any]
    analyses: tuple[tuple[str, dict[str, Any]], ...]
    threads: int = 1


def limit_threads(threads: int) -> None:
    """Use ``threads`` threads for torch and the libraries under it, so that workers running side by
    side do not fight over cores (the environment variables reach processes started from here)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch

    torch.set_num_threads(threads)


def execute(task: RunTask) -> dict[str, Any]:
    """Run one task in a worker; never raises for a failure of the run itself.

    Returns ``{"name", "status", ...}`` with status ``done``, ``failed`` (recorded in the sweep's
    ``errors/``), ``interrupted`` (a signal stopped the training; its state is saved) or ``busy``
    (another process is training the run). Failures leave ``errors/NAME.json`` and the traceback.
    """
    limit_threads(task.threads)
    from rnn_timescales.training.checkpoints import is_run_dir
    from rnn_timescales.training.trainer import resume, train

    root, run_dir = Path(task.root), Path(task.root) / task.name
    if is_locked(run_dir):
        return {"name": task.name, "status": "busy"}
    clear_failure(root, task.name)
    phase = "train"
    out: dict[str, Any] = {"name": task.name, "status": "done"}
    try:
        if task.train:
            if is_run_dir(run_dir):
                extend = [f"{k}={json.dumps(v)}" for k, v in task.extend.items()]
                result = resume(run_dir, extend, progress=False)
            else:
                result = train(RunConfig.from_dict(task.config), run_dir, progress=False)
            out.update(stop_reason=result.stop_reason, n_solved=result.n_solved)
            if result.stop_reason == "diverged":
                record_failure(root, task.name, phase, result.message)
                return {**out, "status": "failed", "error": result.message}
            if result.stop_reason == "interrupted":
                return {**out, "status": "interrupted"}
        for name, settings in task.analyses:
            phase = f"analyze {name}"
            analysis = ANALYSES[name]
            if not analysis.is_current(run_dir, settings):
                analysis.run(run_dir, settings)
        return out
    except KeyboardInterrupt:  # Ctrl-C during an analysis: nothing to record, the sweep is stopping
        return {**out, "status": "interrupted"}
    except Exception as e:
        if is_locked(run_dir):  # another process took the run between our check and the trainer's lock
            return {"name": task.name, "status": "busy"}
        message = f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0]}"
        record_failure(root, task.name, phase, message, traceback.format_exc())
        return {**out, "status": "failed", "error": message}


# --- the driver ---------------------------------------------------------------------------------
@dataclass
class SweepResult:
    """What one call of :func:`run_sweep` did: final statuses, counts and the wall time (s)."""

    root: Path
    statuses: list[RunStatus]
    counts: dict[str, int]
    wall_time_s: float
    ran: int
    interrupted: bool = False


def check_root(root: str | Path) -> Path:
    """``root`` if a sweep may be written there: missing, empty, or a sweep root; ConfigError
    otherwise. Nothing is created."""
    p = Path(root)
    if p.exists() and not p.is_dir():
        raise ConfigError(f"output path {str(p)!r} is a file; give a directory for the sweep")
    if p.is_dir() and any(p.iterdir()) and not (p / SPEC_FILE).is_file():
        raise ConfigError(f"output directory {str(p)!r} holds files that are not a sweep (no {SPEC_FILE}); "
                          "choose another --out")
    blocker = file_in_the_way(p)
    if blocker is not None:
        raise ConfigError(f"output path {str(p)!r} lies under {str(blocker)!r}, which is a file")
    return p


def prepare_sweep(spec: SweepSpec, root: str | Path) -> tuple[Path, list[SweepPoint]]:
    """Plan the sweep, check that every existing run directory under ``root`` was made with its
    point's configuration, then write ``sweep.yaml`` and ``runs.csv``. ConfigError (nothing
    written) if anything does not fit."""
    root = check_root(root)
    points = plan(spec)
    for p in points:
        run_dir = root / p.name
        if run_dir.exists() and not run_dir.is_dir():
            raise ConfigError(f"{str(run_dir)!r} is a file where the sweep's run directory {p.name} belongs")
        if (run_dir / "config.yaml").is_file():
            mismatch = configuration_mismatch(run_dir, p.config)
            if mismatch:
                raise ConfigError(f"run directory {str(run_dir)!r} was made with another configuration ({mismatch}); "
                                  "choose another --out or remove it")
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(root / SPEC_FILE, yaml.safe_dump(spec.to_mapping(), sort_keys=False))
    table = pd.DataFrame([{"name": p.name, **{k: _csv_value(v) for k, v in p.varying.items()}} for p in points])
    atomic_write_text(root / RUNS_FILE, table.to_csv(index=False))
    return root, points


def _csv_value(value: Any) -> Any:
    return _canonical(value) if isinstance(value, (dict, list)) else value


def run_sweep(
    spec: SweepSpec,
    root: str | Path,
    *,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    train: bool = True,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    poll_s: float = 2.0,
) -> SweepResult:
    """Train (``train=True``) and analyse every point of ``spec`` under ``root``; skip what is done.

    SIGINT (Ctrl-C) stops the sweep: nothing new starts, runs in progress save their state and
    stop (they receive the same Ctrl-C), and the result says ``interrupted``; a second SIGINT
    raises KeyboardInterrupt at once.

    Finished runs are skipped, interrupted ones resumed from their saved state, failed ones retried;
    a run that fails is recorded in ``errors/`` and the others go on. Runs held by another process
    (their lock) are waited for. ``train=False`` only analyses the runs that are done.
    backend: ``local`` (a process pool of ``workers``, default one per ``spec.threads`` cores) or
    ``ray`` (``address`` of a cluster, else a local instance). ``log`` receives one line per event.
    """
    from rnn_timescales.experiments.backends import make_backend

    pool = make_backend(backend, workers=workers, address=address, threads=spec.threads, gpus=spec.gpus)
    root, points = prepare_sweep(spec, root)  # after the backend is known to be usable: nothing written otherwise
    say = log or (lambda line: None)
    analyses = tuple(spec.analyze.items())
    by_name = {p.name: p for p in points}
    statuses = {p.name: run_status(root, p) for p in points}
    attempted: set[str] = set()
    ran = 0
    t0 = time.monotonic()
    bar = tqdm(total=len(points), desc="sweep", unit="run", disable=not progress, dynamic_ncols=True)

    def refresh() -> None:
        counts = status_counts(statuses.values())
        bar.n = counts["done"] + counts["failed"]
        bar.set_postfix_str(", ".join(f"{k} {v}" for k, v in counts.items() if k != "done"))

    refresh()
    stop = threading.Event()
    with pool, _stop_on_sigint(stop):
        while not stop.is_set():
            todo, waiting = [], 0
            for p in points:
                if p.name in attempted:
                    continue
                st = statuses[p.name] = run_status(root, p)
                if st.status == "running":
                    waiting += 1
                    continue
                task = _task_for(root, p, st, analyses, train, spec.threads)
                if task is None:
                    attempted.add(p.name)
                else:
                    todo.append(task)
            refresh()
            if not todo and not waiting:
                break
            if not todo:
                bar.set_postfix_str(f"waiting for {waiting} runs trained by another process")
                stop.wait(poll_s)
                continue
            for task, outcome in pool.run(execute, todo, stop.is_set):
                if isinstance(outcome, BaseException):  # the worker died (or the task could not be run)
                    message = f"{type(outcome).__name__}: {outcome}"
                    record_failure(root, task.name, "train" if task.train else "analyze", message)
                    outcome = {"name": task.name, "status": "failed", "error": message}
                if outcome["status"] != "busy":
                    attempted.add(task.name)
                    ran += 1
                if outcome["status"] == "failed":
                    say(f"{task.name}: failed ({outcome.get('error')}); see {root / ERRORS_DIR}")
                statuses[task.name] = run_status(root, by_name[task.name])
                refresh()
    bar.close()
    final = [run_status(root, p) for p in points]
    return SweepResult(root, final, status_counts(final), time.monotonic() - t0, ran, stop.is_set())


@contextlib.contextmanager
def _stop_on_sigint(stop: threading.Event) -> Iterator[None]:
    """The first SIGINT sets ``stop``; a second one acts as usual (KeyboardInterrupt)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        stop.set()
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _task_for(root: Path, point: SweepPoint, status: RunStatus, analyses: tuple[tuple[str, dict], ...],
              train: bool, threads: int) -> RunTask | None:
    """The work a point still needs, or None."""
    run_dir = root / point.name
    config = point.config.to_dict()
    if status.trained:
        stale = tuple((n, s) for n, s in analyses if not ANALYSES[n].is_current(run_dir, s))
        if not stale:
            return None
        return RunTask(point.name, str(root.resolve()), config, False, {}, stale, threads)
    if not train:
        return None
    return RunTask(point.name, str(root.resolve()), config, True, dict(status.extend), analyses, threads)
