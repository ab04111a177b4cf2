"""What the commands share: the parser that reports a bad argument in one line, number types,
``--device`` and the slow-point finder's ``--set NAME=VALUE`` settings."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable, Iterable

from rnn_timescales.errors import UsageError

class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line instead of usage + message
        raise UsageError(f"{self.prog}: {message} (see --help)")


def number(cast, low: float, strict: bool, what: str):
    """An argparse type: ``cast(text)``, above ``low`` (``strict``) or at least ``low``."""

    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not (value > low if strict else value >= low):  # NaN fails too
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


positive_int = number(int, 0, True, "a positive integer")
non_negative_int = number(int, 0, False, "a non-negative integer")
positive_float = number(float, 0.0, True, "a positive number")


def heads_option(text: str):
    """--head: newest, all, or comma-separated N values."""
    if text in ("newest", "all"):
        return text
    try:
        ns = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected newest, all or N values like 5 or 2,5,8, got {text!r}") from None
    if any(n < 1 for n in ns):
        raise argparse.ArgumentTypeError(f"expected positive N values, got {text!r}")
    return ns


class LazyChoices:
    """Allowed values read only when argparse needs them, from ``values()`` (a function that imports
    them): the analysis modules import torch, which building the parser (for every command) should
    not pay for."""

    def __init__(self, values: Callable[[], Iterable]) -> None:
        self.values = values

    def _values(self) -> list:
        return list(self.values())

    def __contains__(self, value: object) -> bool:
        return value in self._values()

    def __iter__(self):
        return iter(self._values())


def finder_overrides(items: list[str]) -> dict:
    """``NAME=VALUE`` strings -> finder hyperparameters (values parsed as YAML scalars/lists)."""
    import yaml

    from rnn_timescales.dynamics.slow_points import SlowPointHyperparameters

    out = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--set {item!r} must look like NAME=VALUE, e.g. --set tol_q=1e-10")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise UsageError(f"--set {item!r}: cannot read the value {text!r}") from None
        if isinstance(value, str):  # YAML 1.1 reads 1e-9 (no dot) as text
            try:
                value = float(value)
            except ValueError:
                pass
        out[name.strip()] = value
    try:
        SlowPointHyperparameters.from_kwargs(**out)
    except (TypeError, ValueError) as e:
        raise UsageError(f"--set: {e}") from None
    return out


DEVICES = ("auto", "cpu", "cuda")


def add_device(p: argparse.ArgumentParser, default: str = "auto", help: str = "auto, cpu or cuda") -> None:
    """``--device``: where the command runs (resolved by :func:`rnn_timescales.runtime.resolve_device`)."""
    p.add_argument("--device", default=default, help=help)


def check_device(name: str) -> None:
    """UsageError (one line) unless ``name`` is a device ``--device`` accepts."""
    if name not in DEVICES:
        raise UsageError(f"--device must be auto, cpu or cuda, got {name!r}")


def add_out(p: argparse.ArgumentParser, help: str, metavar: str = "DIR", default: str | None = None) -> None:
    """``--out``: where the command writes."""
    p.add_argument("--out", metavar=metavar, default=default, help=help)


def add_json(p: argparse.ArgumentParser, help: str) -> None:
    """``--json``: print the result as JSON (``help`` says its shape)."""
    p.add_argument("--json", action="store_true", help=help)


def add_progress(p: argparse.ArgumentParser, help: str = "hide the progress bar") -> None:
    """``--no-progress``."""
    p.add_argument("--no-progress", action="store_true", help=help)


def check_labels(labels: list[str] | None, paths: list[str]) -> None:
    """UsageError unless ``--labels`` (if given) names as many networks as there are paths."""
    if labels is not None and len(labels) != len(paths):
        raise UsageError(f"--labels names {len(labels)} networks but {len(paths)} were given")


def default_out(paths: list[str], folder: str, names: list[str]) -> Path:
    """The default output of a command over networks: ``RUN_DIR/<folder>`` for one directory,
    else ``./<folder>/<name>_vs_<name>...``."""
    if len(paths) == 1 and Path(paths[0]).is_dir():
        return Path(paths[0]) / folder
    return Path(folder) / "_vs_".join(names)
