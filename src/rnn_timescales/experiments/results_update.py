"""Adding freshly collected result tables to a results directory that holds others
(``rnn-timescales sweep collect ROOTS --out RESULTS --update``).

A campaign outlives its machines: the run directories behind ``results/k24`` were collected on
machines that are gone, and a later session collects new stages (or the same networks trained
further) on a fresh one. :func:`update_results` merges a fresh collection into the committed
tables instead of replacing them:

- a run the fresh tables hold replaces its earlier rows;
- an earlier run that the fresh tables continue (a run of the same identifying columns, ID_COLUMNS,
  with at least as many steps, the only such run among them: a stage that trained the same network
  further) is listed under the fresh run's name, its rows kept where the fresh tables have none for
  the same N (its timescales at N = 17 stay beside the continued network's at N = 25);
- every other earlier row is kept as it was.

A run collected again under its own name with fewer steps than the results hold (a retrace
stopped partway, say) is refused before anything is written: its rows would replace the longer
run's record.

``provenance.json`` keeps the earlier roots and table records beside the fresh ones, and
``continued`` names every earlier run listed under another.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Iterable

import pandas as pd

from rnn_timescales.errors import ConfigError
from rnn_timescales.io import atomic_write_text
from rnn_timescales.studies.reproduction import ID_COLUMNS


def _same_ids(runs: pd.DataFrame, row: pd.Series) -> pd.DataFrame:
    """The rows of ``runs`` whose identifying columns equal ``row``'s (NaN equal to NaN)."""
    def text(frame):  # missing values as "" (a string dtype would keep NaN, which equals nothing)
        return frame.astype(object).where(frame.notna(), "").astype(str)

    return runs[(text(runs[ID_COLUMNS]) == text(row[ID_COLUMNS]).to_numpy()).all(axis=1)]


def continued_runs(earlier: pd.DataFrame, fresh: pd.DataFrame) -> dict[str, str]:
    """Earlier run name -> the fresh run that continues it: the one fresh run (not of the same name)
    with the same identifying columns and at least as many steps. A run collected again under its
    own name is replaced, not continued; an earlier run that two fresh runs could continue is kept
    apart (nothing tells which)."""
    out = {}
    for _, row in earlier[~earlier["run"].isin(fresh["run"])].iterrows():
        match = _same_ids(fresh, row)
        steps = pd.to_numeric(match["steps"], errors="coerce").fillna(-1)
        if len(match) == 1 and steps.iloc[0] >= (row["steps"] if pd.notna(row["steps"]) else -1):
            out[row["run"]] = match["run"].iloc[0]
    return out


LEVEL_COLUMNS = ("n_max", "checkpoint_n", "n")
"""The column that names the network's level (the largest N of the checkpoint) a row was measured at,
by preference: ``n_max`` where ``n`` is a head's N (continuous, retraining), ``checkpoint_n`` where it is
an earlier N tested (forgetting), else ``n`` (timescales, robustness)."""


def shorter_copies(earlier: pd.DataFrame, fresh: pd.DataFrame) -> list[tuple[str, float, float]]:
    """(run, fresh steps, earlier steps) for each run of ``fresh`` that ``earlier`` holds under the same
    name with more steps (a run with no steps recorded counts 0)."""
    if "run" not in earlier or "run" not in fresh or "steps" not in earlier or "steps" not in fresh:
        return []
    before = dict(zip(earlier["run"].astype(str), pd.to_numeric(earlier["steps"], errors="coerce").fillna(0)))
    now = zip(fresh["run"].astype(str), pd.to_numeric(fresh["steps"], errors="coerce").fillna(0))
    return [(run, float(steps), float(before[run])) for run, steps in now if run in before and steps < before[run]]


def merge_table(earlier: pd.DataFrame, fresh: pd.DataFrame, rename: dict[str, str], whole_runs: bool) -> pd.DataFrame:
    """``fresh`` and the rows of ``earlier`` (runs renamed by ``rename``) it does not replace: with
    ``whole_runs`` (runs.csv, curves.csv) every earlier row of a run the fresh table has; else those
    of the same run and network level (:data:`LEVEL_COLUMNS`: the first both tables have; else of the
    same run)."""
    if "run" not in earlier or "run" not in fresh:
        return fresh
    earlier = earlier.assign(run=earlier["run"].replace(rename))
    level = next((c for c in LEVEL_COLUMNS if c in earlier and c in fresh), None)
    key = ["run", level] if not whole_runs and level is not None else ["run"]
    fresh_keys = set(_keys(fresh, key))
    kept = earlier[[k not in fresh_keys for k in _keys(earlier, key)]]
    return pd.concat([kept, fresh], ignore_index=True) if not kept.empty else fresh


def _keys(table: pd.DataFrame, key: list[str]) -> list[tuple]:
    """Each row's values of ``key`` (N as a number, whether the CSV wrote 17 or 17.0)."""
    columns = [table[k].astype(str) if k == "run" else pd.to_numeric(table[k], errors="coerce") for k in key]
    return list(zip(*columns))


def _read_nonempty(path: Path) -> pd.DataFrame | None:
    """The table at ``path``, or None where there is no file or an empty one (no header)."""
    return pd.read_csv(path) if path.is_file() and path.stat().st_size else None


def update_results(fresh: str | Path, out: str | Path) -> dict[str, Path]:
    """Merge the tables of the collection ``fresh`` (a directory ``collect`` wrote) into the results
    directory ``out`` (module docstring); tables ``out`` does not have are copied; of the tables
    ``fresh`` does not have, those that name a continued run are rewritten with its new name, the
    rest left as they are. Each file is replaced atomically. Returns the paths written; ConfigError
    (nothing written) for a run collected again with fewer steps (:func:`shorter_copies`)."""
    fresh, out = Path(fresh), Path(out)
    earlier_runs = _read_nonempty(out / "runs.csv")
    fresh_runs = pd.read_csv(fresh / "runs.csv")
    shorter = shorter_copies(earlier_runs, fresh_runs) if earlier_runs is not None else []
    if shorter:
        run, steps, before = shorter[0]
        raise ConfigError(f"run {run!r} has {steps:.0f} steps in the sweep collected but {before:.0f} in "
                          f"{str(out / 'runs.csv')!r}, whose rows it would replace; train it to its end first "
                          "(rnn-timescales train --resume RUN_DIR) or collect without its sweep")
    rename = continued_runs(earlier_runs, fresh_runs) if earlier_runs is not None else {}
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for path in sorted(fresh.glob("*.csv")):
        table = pd.read_csv(path)
        target = out / path.name
        if target.is_file() and target.stat().st_size:
            table = merge_table(pd.read_csv(target), table, rename, whole_runs=path.name in ("runs.csv", "curves.csv"))
        atomic_write_text(target, table.to_csv(index=False))
        paths[path.stem] = target
    for target in sorted(out.glob("*.csv")):  # the earlier tables the fresh collection has none of
        if target.stem in paths or not target.stat().st_size:
            continue
        table = pd.read_csv(target)
        if "run" in table and table["run"].isin(rename).any():
            atomic_write_text(target, table.assign(run=table["run"].replace(rename)).to_csv(index=False))
            paths[target.stem] = target
    provenance = json.loads((fresh / "provenance.json").read_text())
    if (out / "provenance.json").is_file():
        earlier = json.loads((out / "provenance.json").read_text())
        paths_now = {r["path"] for r in provenance.get("roots", [])}
        provenance["roots"] = [r for r in earlier.get("roots", []) if r.get("path") not in paths_now] + \
            provenance.get("roots", [])
        provenance["tables"] = {**earlier.get("tables", {}), **provenance.get("tables", {})}
        provenance["continued"] = {**earlier.get("continued", {}), **rename, **provenance.get("continued", {})}
        provenance["updates"] = [*earlier.get("updates", []), provenance.get("command", "")]
    atomic_write_text(out / "provenance.json", json.dumps(provenance, indent=2))
    paths["provenance"] = out / "provenance.json"
    return paths


def collect_update(roots: Iterable[str | Path], out: str | Path, *, revision: str | None = None,
                   command: str = "") -> dict[str, Path]:
    """:func:`~rnn_timescales.experiments.results.collect` the sweep ``roots`` beside ``out`` (a
    temporary directory, removed after), then :func:`update_results` into ``out``: a collection that
    is refused or fails changes nothing there. The robustness rows of networks that only ``out``'s
    runs.csv lists (compared by a robustness stage beside the collected ones) are identified from it.
    Returns the paths written."""
    from rnn_timescales.experiments.results import collect

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output path {str(out)!r} is a file; give a directory for the result tables")
    out.parent.mkdir(parents=True, exist_ok=True)
    known = {}  # the runs the results list already: a robustness stage may have compared them too
    earlier = _read_nonempty(out / "runs.csv")
    if earlier is not None:
        earlier = earlier.astype(object).where(earlier.notna(), None)
        if {"run", *ID_COLUMNS} <= set(earlier.columns):
            known = {str(r["run"]): r for r in earlier.to_dict("records")}
    fresh = Path(tempfile.mkdtemp(prefix=f".{out.name}.collect-", dir=out.parent))
    try:
        collect(roots, fresh, revision=revision, command=command, known_runs=known)
        return update_results(fresh, out)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
