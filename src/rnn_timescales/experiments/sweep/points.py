"""A sweep's points: every combination of its grid and runs, each with its validated configuration
and a directory name made from the settings that vary between points (:func:`plan`)."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from rnn_timescales.config import PRESETS, RunConfig, build_config, flatten, merge, parse_override
from rnn_timescales.config.layers import layered_config
from rnn_timescales.config.mapping import nest
from rnn_timescales.errors import ConfigError
from rnn_timescales.experiments.sweep.spec import SweepSpec, _canonical

# Names of often-varied settings in run directory names; any other setting is named by its last part.
SHORT_LABELS = MappingProxyType({
    "task.name": "task", "curriculum.kind": "curriculum", "model.hidden_size": "h", "model.type": "model",
    "model.precision": "precision",
})


@dataclass(frozen=True)
class SweepPoint:
    """One run of a sweep. ``settings``: its grid values and run settings (dotted); ``varying``:
    the settings that differ between the sweep's points, with this run's resolved values."""

    name: str
    settings: dict[str, Any]
    varying: dict[str, Any]
    config: RunConfig


def count_points(spec: SweepSpec) -> int:
    """How many points the spec has (its grid's combinations times its runs), without making them."""
    n = 1
    for values in spec.grid.values():
        n *= len(values)
    return n * max(1, len(spec.runs))


def expand(spec: SweepSpec) -> list[dict[str, Any]]:
    """Each point's own settings: every grid combination, combined with every explicit run.
    ConfigError (before anything is made) if there are more than ``spec.max_points``."""
    n = count_points(spec)
    if n > spec.max_points:
        raise ConfigError(f"the sweep has {n:,} points, more than the limit of {spec.max_points:,}; check its grid and "
                          f"runs, or raise the limit with --max-points {n} (or resources.max_points)")
    keys = list(spec.grid)
    grid_points = [dict(zip(keys, combo)) for combo in itertools.product(*(spec.grid[k] for k in keys))]
    return [{**g, **r} for g in grid_points for r in (spec.runs or [{}])]


def point_config(spec: SweepSpec, settings: Mapping[str, Any],
                 memo: dict[Any, Any] | None = None) -> RunConfig:
    """The validated configuration of one point (layers as in the package docstring). ``memo``: what
    a plan of many points shares (the preset files, the parsed overrides), so each is read once.

    A boolean or a string where the setting is a number (``seed: true``, ``hidden_size: "16"``) is
    refused rather than converted."""
    memo = memo if memo is not None else {}
    if "overrides" not in memo:
        memo["overrides"] = [parse_override(o) for o in spec.overrides]
        memo["base"] = flatten(spec.base)
    base = memo["base"]
    preset = settings.get("preset", base.get("preset", "paper"))
    layered = {k: v for k, v in {**base, **settings}.items() if k != "preset"}
    layer: dict[str, Any] = {}
    for key, value in layered.items():
        layer = merge(layer, nest(key, value))
    try:
        if preset == "custom":  # a saved config.yaml: complete, so the starting preset does not matter
            config = layered_config("paper", [layer, *memo["overrides"], {"preset": "custom"}], memo)
        else:
            if preset not in PRESETS:
                build_config(str(preset))  # raises the usual "unknown preset" message
            config = layered_config(preset, [layer, *memo["overrides"]], memo)
    except ConfigError as e:
        where = ", ".join(f"{k}={v}" for k, v in settings.items()) or "base"
        raise ConfigError(f"sweep point ({where}): {e}") from None
    loose = {k: v for k, v in layered.items() if isinstance(v, (bool, str))}
    if loose:
        resolved = flatten(config.to_dict())
        for key, value in loose.items():
            meant = resolved.get(key)
            if isinstance(meant, (int, float)) and not isinstance(meant, bool) and type(value) is not type(meant):
                where = ", ".join(f"{k}={v}" for k, v in settings.items()) or "base"
                fix = ("write the number you mean" if isinstance(value, bool)
                       else f"write it without quotes ({key}: {meant})")
                raise ConfigError(f"sweep point ({where}): {key}: {_canonical(value)} is "
                                  f"{'a boolean' if isinstance(value, bool) else 'a string'} where a number is meant; "
                                  f"{fix}")
    return config


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
    configs, resolved, same = _configurations(spec, raw)
    seen: dict[Any, int] = {}
    for i, key in enumerate(same):
        if key in seen:
            a = ", ".join(f"{k}={v}" for k, v in raw[seen[key]].items())
            b = ", ".join(f"{k}={v}" for k, v in raw[i].items())
            raise ConfigError(f"sweep points ({a}) and ({b}) are the same run; remove one")
        seen[key] = i
    keys = list(dict.fromkeys(k for s in raw for k in s))

    def value(i: int, key: str) -> Any:
        return resolved[i].get(key, raw[i].get(key))

    varying = [k for k in keys if len({_identity(value(i, k)) for i in range(len(raw))}) > 1]
    labels = setting_labels(varying)
    points, used = [], Counter()
    for i, (settings, config) in enumerate(zip(raw, configs)):
        name = "_".join(f"{labels[k]}-{_format_value(value(i, k))}" for k in varying) or "run"
        used[name] += 1
        if used[name] > 1:  # different values that read the same once made safe for a file name
            name = f"{name}-{used[name]}"
        points.append(SweepPoint(name, dict(settings), {k: value(i, k) for k in varying}, config))
    return points


def _identity(value: Any) -> Any:
    """A hashable stand-in for a setting's value, equal only for equal values of the same type (as
    :func:`_canonical`, faster for plain values)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return type(value).__name__, value
    return _canonical(value)


def _configurations(spec: SweepSpec, raw: list[dict[str, Any]]) -> tuple[list[RunConfig], list[dict[str, Any]], list[Any]]:
    """Each point's configuration, its settings flattened, and a key equal for equal configurations.

    Linear in the points, and fast: points that differ only in their seed (which nothing else in a
    configuration depends on) share one validation, the seed (a non-negative integer) set on a copy."""
    memo: dict[Any, Any] = {}
    point_config(spec, raw[0], memo)  # reads the presets and overrides into the memo (and checks the first point)
    seed_overridden = any("seed" in layer for layer in memo["overrides"])
    templates: dict[str, tuple[RunConfig, dict[str, Any], str]] = {}
    configs, flats, keys = [], [], []
    for settings in raw:
        seed = settings.get("seed")
        fast = type(seed) is int and seed >= 0 and not seed_overridden
        rest = repr([(k, _identity(v)) for k, v in settings.items() if k != "seed"]) if fast else None
        if rest is not None and rest in templates:
            template, flat, text = templates[rest]
            config, flat = template.model_copy(update={"seed": seed}), {**flat, "seed": seed}
        else:
            config = point_config(spec, settings, memo)
            flat = flatten(config.to_dict())
            text = repr(sorted((k, v) for k, v in flat.items() if k != "seed"))  # values are JSON data
            if rest is not None:
                templates[rest] = (config, flat, text)
        configs.append(config)
        flats.append(flat)
        keys.append((text, flat.get("seed")))
    return configs, flats, keys


def parse_only(items: Iterable[str]) -> dict[str, list[str]]:
    """``--only KEY=V1,V2`` arguments as {KEY: [V1, V2]}; ConfigError for one without ``=`` or values.
    A key given twice keeps the values of both."""
    only: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        parts = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not key.strip() or not parts:
            raise ConfigError(f"--only takes KEY=VALUE[,VALUE...] (e.g. seed=0,1,2), got {item!r}")
        if any(c in values for c in "[]{}"):
            raise ConfigError(f"--only takes values separated by commas, without brackets (e.g. seed=0,1), got {item!r}")
        only.setdefault(key.strip(), []).extend(parts)
    return only


def select_points(points: list[SweepPoint], only: Mapping[str, Iterable[str]]) -> list[SweepPoint]:
    """The points whose resolved setting KEY is one of the given values, for every KEY of ``only``
    (``seed``, ``curriculum.kind``, ``model.tau_init``, or a short name of a setting the sweep varies,
    such as ``curriculum``). Values are read as YAML and compared as the run names show them, so
    ``1`` and ``1.0`` select the same τ. ConfigError for a key no point has, or a value no point has
    (the message lists the values there are)."""
    if not only:
        return list(points)
    resolved = [flatten(p.config.to_dict()) for p in points]
    short = {label: key for key, label in setting_labels(points[0].varying if points else {}).items()}
    chosen = list(range(len(points)))
    for key, values in only.items():
        dotted = key if any(key in r for r in resolved) else short.get(key)
        if dotted is None:
            raise ConfigError(f"--only {key}=...: no setting {key!r} in this sweep; give a dotted setting such as "
                              "seed or curriculum.kind")
        have = {_format_value(r.get(dotted)): r.get(dotted) for r in resolved}
        wanted = {_format_value(_yaml_value(v)) for v in values}
        missing = sorted(wanted - set(have))
        if missing:
            raise ConfigError(f"--only {key}={missing[0]}: no run of this sweep has it (its values: "
                              f"{', '.join(sorted(have))})")
        chosen = [i for i in chosen if _format_value(resolved[i].get(dotted)) in wanted]
    if not chosen:
        given = " ".join(f"--only {k}={','.join(v)}" for k, v in only.items())
        raise ConfigError(f"{given}: no run of this sweep has all of these values; drop one --only (or pick values "
                          "that occur together, see runs.csv)")
    return [points[i] for i in chosen]


def _yaml_value(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text
