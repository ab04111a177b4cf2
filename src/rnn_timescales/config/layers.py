"""Building a run configuration in layers: a preset (with the task's own layer for it), a YAML
file, ``--set`` overrides, then named fields; validated once at the end."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from rnn_timescales.config.mapping import merge, parse_override, read_yaml
from rnn_timescales.config.schema import RunConfig, _did_you_mean, validate
from rnn_timescales.errors import ConfigError

PRESETS = ("paper", "quick", "gated", "h19")


def preset_dict(name: str, task: str | None = None) -> dict[str, Any]:
    """The full configuration dictionary of preset ``name`` (one of :data:`PRESETS`).

    Every preset is ``paper.yaml`` overlaid with ``<name>.yaml``. With ``task``, a task's own layer
    for the preset, ``<name>.<task>.yaml`` (e.g. ``quick.delayed-recall.yaml``: settings that suit
    that task on a small CPU), is overlaid too when it exists.
    """
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}{_did_you_mean(name, PRESETS)}; choose one of {', '.join(PRESETS)}")
    base = _preset_layer("paper")
    if name != "paper":
        base = merge(base, _preset_layer(name))
    if task is not None:
        base = merge(base, _preset_layer(f"{name}.{task}") or {})
    return base


def _preset_layer(stem: str) -> dict[str, Any] | None:
    """The mapping in ``presets/<stem>.yaml``, or None if there is no such file."""
    path = resources.files("rnn_timescales.presets").joinpath(f"{stem}.yaml")
    return yaml.safe_load(path.read_text()) if path.is_file() else None


def build_config(
    preset: str | None = None,
    config_file: str | Path | None = None,
    overrides: list[str] | None = None,
    *,
    default_preset: str = "paper",
    **fields: Any,
) -> RunConfig:
    """Preset, then YAML file, then ``key=value`` overrides, then ``fields`` given as dotted keys
    (``{"training.max_epochs": 5}``; ``None`` values are skipped). Validated; raises ConfigError.

    The preset is ``preset``, else the one the file names (``preset: h19``), else
    ``default_preset``; a file naming another preset than ``preset`` is refused (one of the two
    would be ignored). A file without ``preset:`` is recorded as preset ``custom``; a saved run's
    ``config.yaml`` is complete, so the preset it starts from does not change it. The preset
    includes the task's own layer for it (see :func:`preset_dict`) for the task the layers above end
    up naming."""
    layers: list[dict[str, Any]] = []
    if config_file is not None:
        layer = read_yaml(config_file)
        named = layer.get("preset")
        if named is not None and named != "custom":
            if preset is not None and named != preset:
                raise ConfigError(f"preset {preset!r} and the config file {str(config_file)!r}'s preset {named!r} "
                                  "differ; give one of them (drop --preset to use the file's)")
            preset = str(named)
        layers.append(layer if "preset" in layer else {**layer, "preset": "custom"})
    preset = preset if preset is not None else default_preset
    layers += [parse_override(text) for text in overrides or []]
    layers += [parse_override(f"{key}={json.dumps(value)}") for key, value in fields.items() if value is not None]
    return layered_config(preset, layers)


def layered_config(preset: str, layers: list[dict[str, Any]], presets: dict[Any, dict[str, Any]] | None = None
                   ) -> RunConfig:
    """Preset ``preset`` (with the task's own layer for the task the layers name), then each mapping
    of ``layers`` in turn; validated. ``presets``: a memo of the preset mappings for a caller that
    builds many configurations (a sweep's plan): each preset file is then read once."""
    return validate(layered_data(preset, layers, presets))


def layered_data(preset: str, layers: list[dict[str, Any]], presets: dict[Any, dict[str, Any]] | None = None
                 ) -> dict[str, Any]:
    """The mapping :func:`layered_config` validates (same arguments), not yet validated."""
    memo = presets if presets is not None else {}

    def preset_layer(task: str | None) -> dict[str, Any]:
        if (preset, task) not in memo:
            memo[(preset, task)] = preset_dict(preset, task)
        return memo[(preset, task)]

    def assemble(data: dict[str, Any]) -> dict[str, Any]:
        for layer in layers:
            data = merge(data, layer)
        return data

    task = assemble(preset_layer(None)).get("task")
    name = task.get("name") if isinstance(task, dict) else None
    return assemble(preset_layer(name if isinstance(name, str) else None))
