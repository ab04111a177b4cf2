"""The tables of every sweep analysis of a run, as ``sweep collect`` gathers them across runs: each
study declares its tables (:attr:`~rnn_timescales.studies.contract.RunStudy.tables`), and each is
written once for all runs as :func:`~rnn_timescales.studies.contract.collected_name` names it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from rnn_timescales.errors import ConfigError
from rnn_timescales.io import atomic_write_text
from rnn_timescales.studies.contract import collected_name
from rnn_timescales.studies.registry import sweep_analyses


def add_run_tables(found: dict[str, tuple[str, list[pd.DataFrame]]], run_dir: Path, ids: Mapping[str, Any]) -> None:
    """Add to ``found`` (collected name -> (sweep analysis, tables)) every table a sweep analysis
    wrote in ``run_dir``, each row led by ``ids`` (the run's identifying columns and ``run``,
    replacing columns of the same names). Tables not there (an analysis not run) are left out;
    ConfigError (one line) for one that cannot be read."""
    for name, study in sweep_analyses().items():
        for pattern in study.tables:
            for path in sorted(run_dir.glob(pattern)):
                try:
                    table = pd.read_csv(path)
                except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
                    raise ConfigError(f"cannot read {str(path)!r} ({type(e).__name__}); rerun `rnn-timescales sweep "
                                      f"analyze` on its sweep to write it again") from None
                lead = pd.DataFrame({k: [v] * len(table) for k, v in ids.items()})
                rows = pd.concat([lead, table.drop(columns=[c for c in ids if c in table])], axis=1)
                found.setdefault(collected_name(name, pattern), (name, []))[1].append(rows)


def write_run_tables(found: Mapping[str, tuple[str, list[pd.DataFrame]]], out: Path) -> dict[str, Path]:
    """Write each gathered table into ``out`` (atomically, one file for all runs); their paths by name."""
    paths = {}
    for file, (_, parts) in found.items():
        paths[file] = out / file
        atomic_write_text(paths[file], pd.concat(parts, ignore_index=True).to_csv(index=False))
    return paths


def analysis_provenance(found: Mapping[str, tuple[str, Any]], roots: list[dict], command: str) -> dict[str, dict]:
    """provenance.json's entries of the collected analysis tables: the command, each root's analysis
    revision and where the settings are (its ``sweep.yaml``)."""
    return {file: {"command": f"rnn-timescales sweep ROOT (analyze.{name}) (per root), then {command}".strip(),
                   "revision": {r["path"]: r.get("analysis_revision") or r["revision"] for r in roots},
                   "settings": {r["path"]: f"{r['path']}/sweep.yaml: analyze.{name}" for r in roots}}
            for file, (name, _) in found.items()}
