"""A sweep's points: every combination of its grid and runs, each with its validated configuration
and a directory name made from the settings that vary between points (:func:`plan`)."""

from __future__ import annotations

import gc
import itertools
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from rnn_timescales.config import (
    PRESETS,
    RunConfig,
    build_config,
    flatten,
    merge,
    parse_override,
)
from rnn_timescales.config.layers import layered_config, layered_data
from rnn_timescales.config.mapping import nest
from rnn_timescales.config.schema import ModelConfig, OptimizerConfig, TrainingConfig
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
    preset, layers, layered = _layering(spec, settings, memo)
    try:
        config = layered_config(preset, layers, memo)
    except ConfigError as e:
        raise ConfigError(f"sweep point ({_where(settings)}): {e}") from None
    loose = {k: v for k, v in layered.items() if isinstance(v, (bool, str))}
    if loose:
        resolved = flatten(config.to_dict())
        for key, value in loose.items():
            meant = resolved.get(key)
            if isinstance(meant, (int, float)) and not isinstance(meant, bool) and type(value) is not type(meant):
                fix = ("write the number you mean" if isinstance(value, bool)
                       else f"write it without quotes ({key}: {meant})")
                raise ConfigError(f"sweep point ({_where(settings)}): {key}: {_canonical(value)} is "
                                  f"{'a boolean' if isinstance(value, bool) else 'a string'} where a number is meant; "
                                  f"{fix}")
    return config


def _where(settings: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items()) or "base"


def _layering(spec: SweepSpec, settings: Mapping[str, Any], memo: dict[Any, Any]
              ) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """The preset and layers :func:`layered_config` builds a point from, and the point's dotted
    settings over the sweep's base (``layered``). ConfigError (naming the point) for an unknown preset."""
    if "overrides" not in memo:
        memo["overrides"] = [parse_override(o) for o in spec.overrides]
        memo["base"] = flatten(spec.base)
    base = memo["base"]
    preset = settings.get("preset", base.get("preset", "paper"))
    layered = {k: v for k, v in {**base, **settings}.items() if k != "preset"}
    layer: dict[str, Any] = {}
    for key, value in layered.items():
        layer = merge(layer, nest(key, value))
    if preset == "custom":  # a saved config.yaml: complete, so the starting preset does not matter
        return "paper", [layer, *memo["overrides"], {"preset": "custom"}], layered
    if preset not in PRESETS:
        try:
            build_config(str(preset))  # raises the usual "unknown preset" message
        except ConfigError as e:
            raise ConfigError(f"sweep point ({_where(settings)}): {e}") from None
    return preset, [layer, *memo["overrides"]], layered


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
    with _collector_paused():
        return _plan(spec)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """CPython's cycle collector paused, and restored after. A plan makes about ten objects per point,
    none in a cycle, and kept until it returns; each few hundred of them would otherwise start a
    collection, and the older generations' scan the whole heap (torch's included): over half of a
    10^4-point plan's time, for nothing to collect."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _plan(spec: SweepSpec) -> list[SweepPoint]:
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
    columns = {k: [r.get(k, s.get(k)) for r, s in zip(resolved, raw)] for k in keys}  # each point's resolved value
    varying = [k for k in keys if len({_identity(v) for v in columns[k]}) > 1]
    labels = setting_labels(varying)
    parts = {k: _name_parts(labels[k], columns[k]) for k in varying}
    points, used = [], Counter()
    for i, (settings, config) in enumerate(zip(raw, configs)):
        name = "_".join(parts[k][i] for k in varying) or "run"
        used[name] += 1
        if used[name] > 1:  # different values that read the same once made safe for a file name
            name = f"{name}-{used[name]}"
        points.append(SweepPoint(name, dict(settings), {k: columns[k][i] for k in varying}, config))
    return points


def _name_parts(label: str, values: list[Any]) -> list[str]:
    """``label-value`` for each of ``values`` (:func:`_format_value`, formatted once per distinct value)."""
    done: dict[Any, str] = {}
    out = []
    for value in values:
        plain = value is None or isinstance(value, (bool, int, float, str))
        key = (type(value), repr(value)) if plain else None
        if key not in done or key is None:
            done[key] = f"{label}-{_format_value(value)}"
        out.append(done[key])
    return out


def _identity(value: Any) -> Any:
    """A hashable stand-in for a setting's value, equal only for equal values of the same type (as
    :func:`_canonical`, faster for plain values)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return type(value).__name__, value
    return _canonical(value)


# RunConfig._resolve is the one validator that reads more than one section. Beyond the whole task and
# curriculum sections it reads (and writes) only these settings; keep this list in step with it (a test
# reads _resolve's source and fails when it reads another model or training setting).
_RESOLVE_READS = frozenset({"model.type", "model.encoder", "model.n_heads", "training.target_n",
                            "training.speed_regularization"})
_SECTIONS = MappingProxyType({"model": ModelConfig, "optimizer": OptimizerConfig, "training": TrainingConfig})


def _free_keys(spec: SweepSpec, memo: dict[Any, Any]) -> frozenset[str]:
    """The grid and run settings (``section.field``) that a plan may validate within their section
    alone: in a model, optimizer or training section, not read by ``RunConfig._resolve``, in a section
    no override sets, and that no other setting of the spec replaces or extends (``model: {...}``,
    ``model.hidden_size.x``)."""
    keys = set(spec.grid) | {k for run in spec.runs for k in run}
    every = keys | set(memo["base"])
    overridden = {name for layer in memo["overrides"] for name in layer}
    free = set()
    for key in keys:
        section, _, name = key.partition(".")
        if (section in _SECTIONS and name and "." not in name and key not in _RESOLVE_READS
                and section not in overridden and section not in every
                and not any(k.startswith(key + ".") for k in every)):
            free.add(key)
    return frozenset(free)


def _key_text(flat: dict[str, Any], sections: list[str]) -> tuple[str, ...]:
    """A key equal for equal configurations (seed aside): the settings outside ``sections``, then
    those of each of ``sections``, sorted (values are JSON data)."""
    parts = {s: [] for s in sections}
    rest = []
    for item in flat.items():
        if item[0] != "seed":
            parts.get(item[0].partition(".")[0], rest).append(item)
    return (repr(sorted(rest)), *(repr(sorted(parts[s])) for s in sections))


def _section(template: RunConfig, data: dict[str, Any], section: str, values: tuple[tuple[str, Any], ...]
             ) -> tuple[Any, dict[str, Any], str] | None:
    """Section ``section`` of the template's validation input ``data`` with ``values`` (dotted key,
    value) put in, validated as ``RunConfig`` would: its validated object (with the readout
    heads ``_resolve`` fills in), its dotted settings and their text; None if it is invalid."""
    cls = _SECTIONS[section]
    try:
        validated = cls.model_validate(merge(data.get(section) or {}, {k.partition(".")[2]: v for k, v in values}))
    except Exception:  # noqa: BLE001 - the whole point is validated again, and fails as it fails
        return None
    if section == "model" and validated.n_heads is None:  # what _resolve does (the task is the template's)
        validated = validated.model_copy(update={"n_heads": template.model.n_heads})
    flat = flatten({section: validated.model_dump(mode="json")})
    return validated, flat, repr(sorted(flat.items()))


def _configurations(spec: SweepSpec, raw: list[dict[str, Any]]) -> tuple[list[RunConfig], list[dict[str, Any]], list[Any]]:
    """Each point's configuration, its settings flattened, and a key equal for equal configurations.

    Linear in the points, and fast: points are grouped by everything but their seed (a non-negative
    integer no override sets) and their numbers in free settings (:func:`_free_keys`, e.g. ``optimizer.lr``,
    ``model.hidden_size``). The first point of a group is validated in full (the template); another
    one is the template with its seed set and each section holding free settings validated on its own,
    from the template's validation input with the point's numbers put in (one validation per distinct
    section). This is what full validation gives: ``RunConfig`` validates each section on its own, then
    ``_resolve`` reads only the task, the curriculum and the settings of ``_RESOLVE_READS``, which are
    the template's, so it passes as it did for the template and writes what it wrote there (the
    curriculum, kept; the readout heads of a model section without them, filled in by :func:`_section`).
    The layers put a point's number at its setting's place in the input, as the template's (no override
    or other setting touches it), and a number needs no check of its type. A section that fails is
    validated again with the whole point, whose error names it."""
    memo: dict[Any, Any] = {}
    point_config(spec, raw[0], memo)  # reads the presets and overrides into the memo (and checks the first point)
    seed_overridden = any("seed" in layer for layer in memo["overrides"])
    free = _free_keys(spec, memo)
    sections = sorted({k.partition(".")[0] for k in free})
    groups: dict[str, tuple] = {}  # template, its settings, its input, its key, its free sections, their memo
    configs, flats, keys = [], [], []
    for settings in raw:
        seed = settings.get("seed")
        seed_free = type(seed) is int and seed >= 0 and not seed_overridden
        mine = {k: v for k, v in settings.items() if k in free and type(v) in (int, float)}
        rest = repr(([(k, _identity(v)) for k, v in settings.items() if k not in mine and not (k == "seed" and seed_free)],
                     sorted(mine), seed_free))
        group = groups.get(rest)
        config = None
        if group is not None:
            template, tflat, data, ttext, layout, cache = group
            update: dict[str, Any] = {"seed": seed} if seed_free else {}
            flat, text = dict(tflat), list(ttext)
            for section, names, at in layout:
                values = tuple((k, mine[k]) for k in names)
                look = (section, repr(values))  # repr: 1 and 1.0, 0.0 and -0.0 differ
                hit = cache[look] if look in cache else cache.setdefault(look, _section(template, data, section, values))
                if hit is None:
                    break
                update[section] = hit[0]
                flat.update(hit[1])
                text[at] = hit[2]
            else:
                config = template.model_copy(update=update)
                if seed_free:
                    flat["seed"] = seed
        if config is None:
            config = point_config(spec, settings, memo)  # the template of a group, or a failing section's point
            flat = flatten(config.to_dict())
            text = _key_text(flat, sections)
            if group is None:
                data = layered_data(*_layering(spec, settings, memo)[:2], memo) if mine else None
                layout = [(s, tuple(k for k in mine if k.startswith(s + ".")), 1 + sections.index(s))
                          for s in sorted({k.partition(".")[0] for k in mine})]
                groups[rest] = (config, flat, data, text, layout, {})
        configs.append(config)
        flats.append(flat)
        keys.append((tuple(text), flat.get("seed")))
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
