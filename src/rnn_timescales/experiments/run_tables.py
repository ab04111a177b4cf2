"""The tables of every sweep analysis of a run, as ``sweep collect`` gathers them across runs: each
study declares its tables (:attr:`~rnn_timescales.studies.contract.RunStudy.tables`), and each is
written once for all runs as :func:`~rnn_timescales.studies.contract.collected_name` names it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from rnn_timescales.errors import ConfigError
from rnn_timescales.studies.contract import collected_name
from rnn_timescales.studies.registry import sweep_analyses


def analysis_tables(run_dir: Path, ids: Mapping[str, Any]) -> dict[str, tuple[str, pd.DataFrame]]:
    """Collected name -> (sweep analysis, rows) of every table a sweep analysis wrote in ``run_dir``,
    each row led by ``ids`` (the run's identifying columns and ``run``, replacing columns of the same
    names). Tables not there (an analysis not run) are left out; ConfigError (one line) for one that
    cannot be read."""
    found: dict[str, tuple[str, pd.DataFrame]] = {}
    for name, study in sweep_analyses().items():
        for pattern in study.tables:
            parts = []
            for path in sorted(run_dir.glob(pattern)):
                try:
                    table = pd.read_csv(path)
                except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
                    raise ConfigError(f"cannot read {str(path)!r} ({type(e).__name__}); rerun `rnn-timescales sweep "
                                      f"analyze` on its sweep to write it again") from None
                lead = pd.DataFrame({k: [v] * len(table) for k, v in ids.items()})
                parts.append(pd.concat([lead, table.drop(columns=[c for c in ids if c in table])], axis=1))
            if parts:
                found[collected_name(name, pattern)] = (name, pd.concat(parts, ignore_index=True))
    return found


def analysis_provenance(names: Mapping[str, str], roots: list[dict], command: str) -> dict[str, dict]:
    """provenance.json's entries of the collected analysis tables (file name -> sweep analysis):
    the command, each root's analysis revision and where the settings are (its ``sweep.yaml``)."""
    return {file: {"command": f"rnn-timescales sweep ROOT (analyze.{name}) (per root), then {command}".strip(),
                   "revision": {r["path"]: r.get("analysis_revision") or r["revision"] for r in roots},
                   "settings": {r["path"]: f"{r['path']}/sweep.yaml: analyze.{name}" for r in roots}}
            for file, name in names.items()}
