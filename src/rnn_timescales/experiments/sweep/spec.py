"""A sweep's specification: the YAML of the package docstring, validated (:class:`SweepSpec`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from rnn_timescales.config import flatten, read_yaml
from rnn_timescales.errors import ConfigError
from rnn_timescales.experiments.sweep.analyses import ANALYSES

SPEC_FILE = "sweep.yaml"
SPEC_KEYS = ("description", "base", "grid", "runs", "overrides", "analyze", "resources")
MAX_POINTS = 10_000
"""The most points a sweep may have unless it says otherwise (``resources.max_points`` or
``--max-points``): a bigger grid is most often a mistake, and is refused before anything is planned."""


def _canonical(value: Any) -> str:
    """One text per value (dict keys sorted): how two settings are compared and named."""
    return json.dumps(value, sort_keys=True, default=str)


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
    timeout_s: float | None = None
    max_points: int = MAX_POINTS

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
        if not isinstance(resources, dict) or set(resources) - {"threads", "gpus", "timeout_s", "max_points"}:
            raise bad("resources must be a mapping with threads (per run), gpus (per run) and optionally timeout_s "
                      "and max_points")
        max_points = resources.get("max_points", MAX_POINTS)
        if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 1:
            raise bad(f"resources.max_points must be a positive integer, got {max_points!r}")
        threads, gpus = resources.get("threads", 1), resources.get("gpus", 0)
        timeout_s = resources.get("timeout_s")
        if timeout_s is not None and (isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float))
                                      or not timeout_s > 0):
            raise bad(f"resources.timeout_s must be a positive number of seconds (or null), got {timeout_s!r}")
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise bad(f"resources.threads must be a positive integer, got {threads!r}")
        if isinstance(gpus, bool) or not isinstance(gpus, (int, float)) or gpus < 0:
            raise bad(f"resources.gpus must be a non-negative number, got {gpus!r}")
        description = data.get("description") or ""
        if not (base or grid or runs):
            raise bad("defines no run (its base, grid and runs are empty); for one run give its settings as base, "
                      "e.g. base: {preset: paper}")
        return cls(base=base, grid=grid, runs=runs, overrides=list(overrides), analyze=checked,
                   threads=threads, gpus=float(gpus), description=str(description),
                   timeout_s=None if timeout_s is None else float(timeout_s), max_points=max_points)

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
        if self.timeout_s is not None:
            data["resources"]["timeout_s"] = self.timeout_s
        if self.max_points != MAX_POINTS:
            data["resources"]["max_points"] = self.max_points
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
                         threads=self.threads, gpus=self.gpus, description=self.description, timeout_s=self.timeout_s,
                         max_points=self.max_points)


def load_spec(path: str | Path, root: bool = False) -> SweepSpec:
    """Read a sweep specification from a YAML file, or from a sweep root (its ``sweep.yaml``);
    ``root``: ``path`` must be a sweep root (``sweep status DIR``, ``sweep analyze DIR``)."""
    p = Path(path)
    if root and not p.is_dir():
        what = "is a file" if p.exists() else "does not exist"
        raise ConfigError(f"sweep directory {str(p)!r} {what}; give the directory a sweep wrote (its --out)")
    if p.is_dir():
        if not (p / SPEC_FILE).is_file():
            raise ConfigError(f"{str(p)!r} is a directory but not a sweep (it has no {SPEC_FILE})")
        p = p / SPEC_FILE
    elif not p.exists():
        raise ConfigError(f"sweep spec {str(p)!r} does not exist")
    return SweepSpec.from_mapping(read_yaml(p), f"sweep spec {str(p)!r}")
