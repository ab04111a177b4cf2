"""How a sweep runs a study on the latest network of each finished run (``evaluate``,
``extrapolate``, ``recall-memory``, ``robustness``, ``speed-regularization``): one rule for all.

A study declares a :class:`LatestNetwork`: the folder of the run's analysis it writes
(``RUN_DIR/analysis/<folder>``, :data:`~rnn_timescales.runs.files.ANALYSIS`), the table that
shows it was done, a dataclass of its settings (validated from a spec's ``analyze.NAME`` by
:func:`validate_settings`), the function that writes its files for one checkpoint, the tables
``sweep collect`` gathers and the task property it needs (``recall``, ``streaming``). Its
:meth:`LatestNetwork.run_study` is the study's :class:`~rnn_timescales.studies.contract.RunStudy`:
the folder is made at once (staged, then renamed) with :data:`RECORD`, the checkpoint and settings
it was made from, so "is this analysis current?" is the same question for every such study: was it
made from the run's latest network (and not before it was written), with these settings?
"""

from __future__ import annotations

import json
import shutil
import types
import typing
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Mapping

from rnn_timescales.errors import ConfigError
from rnn_timescales.io import atomic_write_text, write_directory
from rnn_timescales.runs.files import ANALYSIS
from rnn_timescales.studies.contract import RunStudy

RECORD = "made_from.json"
"""In each study's folder of a run: ``{"checkpoint": file name, "settings": {...}}``, written last."""


def _kind(hint: Any) -> tuple[tuple[type, ...], bool, str]:
    """(accepted types, None allowed, how a message names them) of a settings field's annotation."""
    args = typing.get_args(hint)
    optional = type(None) in args
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(a for a in args if a is not type(None))
    origin = typing.get_origin(hint) or hint
    if origin in (tuple, list):
        return (list, tuple), optional, "a list"
    if origin is dict:
        return (dict,), optional, "a mapping"
    if hint is float:
        return (int, float), optional, "a number"
    if hint is int:
        return (int,), optional, "an integer"
    if hint is bool:
        return (bool,), optional, "true or false"
    return (str,), optional, "a string"


def validate_settings(cls: type, raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The settings dataclass ``cls`` made from ``raw`` (a spec's ``analyze.NAME``), as plain data
    (lists, not tuples; what ``sweep.yaml`` holds). ConfigError (one line, naming ``where``) for an
    unknown setting, a value of the wrong type, or one the dataclass refuses."""
    names = [f.name for f in fields(cls)]
    unknown = [k for k in raw if k not in names]
    if unknown:
        raise ConfigError(f"{where}: unknown setting {unknown[0]!r}; choose from {', '.join(names)}")
    hints = typing.get_type_hints(cls)
    for key, value in raw.items():
        kinds, optional, noun = _kind(hints[key])
        if value is None and optional:
            continue
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            raise ConfigError(f"{where}: {key} must be {noun}{' or null' if optional else ''}, got {value!r}")
    try:
        made = cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {str(e).strip().splitlines()[0]}") from None
    return json.loads(json.dumps(asdict(made), default=str))


def settings_object(cls: type, settings: Mapping[str, Any]) -> Any:
    """The dataclass ``cls`` back from validated plain data (lists become tuples)."""
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()})


@dataclass(frozen=True)
class LatestNetwork:
    """A study of a run's latest network (:func:`~rnn_timescales.runs.checkpoints.latest_checkpoint`)
    as a sweep runs it.

    folder: ``RUN_DIR/analysis/<folder>``. marker: its table that shows the study was done.
    settings: the dataclass of its settings. write(checkpoint path, directory, settings object):
    writes the study's files into ``directory`` (an empty staged folder, or with ``staged=False``
    the folder itself, emptied first: for a study that trains run directories of its own inside it).
    tables: file names (or glob patterns) in the folder that ``sweep collect`` gathers.
    requires: the task property the study needs (a task class attribute, e.g. ``recall``).
    """

    folder: str
    marker: str
    settings: type
    write: Callable[[Path, Path, Any], None]
    tables: tuple[str, ...] = ()
    requires: str = ""
    staged: bool = True

    def out(self, run_dir: Path) -> Path:
        return Path(run_dir) / ANALYSIS / self.folder

    def is_current(self, run_dir: Path, settings: Mapping[str, Any]) -> bool:
        """Made from the run's latest network, not before it was written, with ``settings``, and
        its table is there (a run without a network yet has nothing to study: current)."""
        from rnn_timescales.runs.checkpoints import latest_checkpoint

        ckpt = latest_checkpoint(run_dir)
        if ckpt is None:
            return True
        out = self.out(run_dir)
        try:
            made = json.loads((out / RECORD).read_text())
        except (OSError, ValueError):
            return False
        return (isinstance(made, dict) and made.get("checkpoint") == ckpt.name
                and made.get("settings") == json.loads(json.dumps(dict(settings)))
                and (out / self.marker).is_file() and (out / RECORD).stat().st_mtime >= ckpt.stat().st_mtime)

    def run(self, run_dir: Path, settings: Mapping[str, Any]) -> None:
        """Study the run's latest network and write the folder with its :data:`RECORD`."""
        from rnn_timescales.runs.checkpoints import latest_checkpoint

        ckpt = latest_checkpoint(run_dir)
        if ckpt is None:
            return
        made = settings_object(self.settings, settings)
        record = json.dumps({"checkpoint": ckpt.name, "settings": dict(settings)}, indent=1)

        def fill(directory: Path) -> None:
            self.write(ckpt, directory, made)
            atomic_write_text(directory / RECORD, record)

        out = self.out(run_dir)
        if self.staged:
            write_directory(out, fill)
        else:  # the folder is the study's alone: what an interrupted study left is redone
            if out.exists():
                shutil.rmtree(out)
            out.mkdir(parents=True)
            fill(out)

    def run_study(self) -> RunStudy:
        """The study as a sweep runs it."""
        return RunStudy(f"{ANALYSIS}/{self.folder}/{self.marker}",
                        lambda raw, where: validate_settings(self.settings, raw, where), self.is_current, self.run,
                        tables=tuple(f"{ANALYSIS}/{self.folder}/{t}" for t in self.tables), requires=self.requires)
