"""Where each point of a sweep stands (done, running, failed, pending; definitions in the package
docstring), and the failure records under ``errors/``.

What a run directory holds is decided by :func:`rnn_timescales.runs.rundir.decide_run`, as for
compare-models and robustness retraining; this module words it for a sweep.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from rnn_timescales.config import RunConfig, config_difference, read_yaml, resumable_changes
from rnn_timescales.experiments.sweep.points import SweepPoint, plan
from rnn_timescales.experiments.sweep.spec import SweepSpec, load_spec
from rnn_timescales.io import atomic_write_text
from rnn_timescales.runs.files import CONFIG
from rnn_timescales.runs.rundir import decide_run, lock_holder
from rnn_timescales.runs.verify import DIGESTS_KEY, verify_run
# names the sweep exported before runs/ held them
from rnn_timescales.runs.rundir import FINAL_STOPS, is_locked, read_summary, solved_text, state_mismatch  # noqa: F401

ERRORS_DIR = "errors"
STATUSES = ("done", "running", "failed", "pending")


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
    stale_lock: bool = False  # failed because its lock is held by a process that is not training it


def stopping_differences(run_dir: Path, planned: RunConfig) -> dict[str, Any]:
    """Settings a resumed run may change (training.max_epochs, target_n, time_budget_s, ...) on
    which the run's config.yaml and the planned configuration differ: setting -> planned value."""
    return resumable_changes(read_yaml(run_dir / CONFIG), planned)


def configuration_mismatch(run_dir: Path, planned: RunConfig) -> str | None:
    """The first setting (other than those a resumed run may change) on which an existing run
    directory's config.yaml differs from the planned configuration, or None
    (:func:`~rnn_timescales.config.config_difference`)."""
    return config_difference(read_yaml(run_dir / CONFIG), planned, where=("there", "in the sweep"))


def error_files(root: Path, name: str) -> tuple[Path, Path]:
    """Where the failure of run ``name`` is recorded: (``errors/NAME.json``, ``errors/NAME.traceback.txt``)."""
    return root / ERRORS_DIR / f"{name}.json", root / ERRORS_DIR / f"{name}.traceback.txt"


def record_failure(root: Path, name: str, phase: str, error: str, trace: str | None = None) -> bool:
    """Write ``errors/NAME.json`` ({phase, error, time}) and, if given, the traceback beside it.

    On a full disk the record is written without its traceback, and if even that fails nothing is
    written and False is returned (the caller still reports the failure); never raises for that."""
    record, tb_file = error_files(root, name)
    for with_trace in ((True, False) if trace else (False,)):
        try:
            record.parent.mkdir(parents=True, exist_ok=True)
            if with_trace:
                atomic_write_text(tb_file, trace or "")
            else:
                tb_file.unlink(missing_ok=True)
            atomic_write_text(record, json.dumps({"phase": phase, "error": error,
                                                  "time": time.strftime("%Y-%m-%d %H:%M:%S"),
                                                  "traceback": tb_file.name if with_trace else None}, indent=2))
            return True
        except OSError:
            continue
    return False


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


def run_status(root: Path, point: SweepPoint) -> RunStatus:
    """The status of one point (definitions in the module docstring)."""
    run_dir = root / point.name
    holder = lock_holder(run_dir)
    if holder is not None:
        if holder.working:
            return RunStatus(point.name, "running", f"training (its lock is held, {holder.describe()})")
        return RunStatus(point.name, "failed", f"train: {holder.describe()}", stale_lock=True)
    st = _training_status(run_dir, point)
    failure = read_failure(root, point.name)
    if failure is not None:
        st.status, st.detail = "failed", f"{failure.get('phase')}: {failure.get('error')}"
    return st


def _training_status(run_dir: Path, point: SweepPoint) -> RunStatus:
    decision = decide_run(run_dir, point.config)
    summary = decision.summary
    if summary is None:
        if decision.action != "new":
            return RunStatus(point.name, "pending", "interrupted (resumes from its saved state)")
        return RunStatus(point.name, "pending", "not started")
    info = dict(stop_reason=summary.get("stop_reason"), n_solved=summary.get("n_max_solved"),
                epochs=summary.get("epochs"), wall_time_s=summary.get("wall_time_s"))
    reason = info["stop_reason"]
    solved = solved_text(summary)
    if reason == "diverged":
        return RunStatus(point.name, "failed", f"train: {summary.get('message') or 'diverged'}", **info)
    if reason not in FINAL_STOPS:
        return RunStatus(point.name, "pending", f"{reason} after {info['epochs']} epochs, {solved} (resumes)", **info)
    if decision.action == "resume":
        extend = decision.changes
        what = ", ".join(f"{k}={v}" for k, v in extend.items())
        return RunStatus(point.name, "pending", f"{reason}, {solved}; to be extended ({what})", extend=extend, **info)
    return RunStatus(point.name, "done", f"{reason} after {info['epochs']} epochs, {solved}", trained=True, **info)


def verify_sweep(root: str | Path, spec: SweepSpec | None = None) -> dict[str, list[str]]:
    """Re-hash every checkpoint and training state of the sweep at ``root`` against the SHA-256
    recorded when it was written (:func:`~rnn_timescales.runs.verify.verify_run`): run name -> its
    problems, for the damaged runs only. A run being trained has only its files' own digests checked."""
    root = Path(root)
    damaged = {}
    for p in plan(spec or load_spec(root)):
        run_dir = root / p.name
        summary = None if is_locked(run_dir) else read_summary(run_dir)
        problems = verify_run(run_dir, (summary or {}).get(DIGESTS_KEY))
        if problems:
            damaged[p.name] = problems
    return damaged


def sweep_status(root: str | Path, spec: SweepSpec | None = None) -> list[RunStatus]:
    """The status of every point of the sweep at ``root`` (its saved spec unless ``spec`` is given)."""
    root = Path(root)
    spec = spec or load_spec(root)
    return [run_status(root, p) for p in plan(spec)]


def status_counts(statuses: Iterable[RunStatus]) -> dict[str, int]:
    """``{"done": n, "running": n, "failed": n, "pending": n}``."""
    counts = Counter(s.status for s in statuses)
    return {k: counts.get(k, 0) for k in STATUSES}
