"""What a worker does for one point of a sweep (:func:`execute`): train it (new, resumed or extended)
and/or run its analyses, recording a failure instead of raising it. Top-level so that worker
processes (the local pool, Ray) can run it."""

from __future__ import annotations

import json
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnn_timescales.config import RunConfig
from rnn_timescales.experiments.sweep.analyses import ANALYSES
from rnn_timescales.experiments.sweep.status import clear_failure, record_failure
from rnn_timescales.runs.rundir import is_locked, lock_holder
from rnn_timescales.runtime import limit_threads


@dataclass(frozen=True)
class RunTask:
    """What a worker does for one point: train it (new, resumed or extended) and/or analyse it.

    config: the planned configuration (``RunConfig.to_dict()``); extend: stopping settings a resumed
    run takes from the sweep; analyses: (name, settings) pairs; threads: torch threads to use.
    """

    name: str
    root: str
    config: dict[str, Any]
    train: bool
    extend: dict[str, Any]
    analyses: tuple[tuple[str, dict[str, Any]], ...]
    threads: int = 1


def execute(task: RunTask) -> dict[str, Any]:
    """Run one task in a worker; never raises for a failure of the run itself.

    Returns ``{"name", "status", ...}`` with status ``done``, ``failed`` (recorded in the sweep's
    ``errors/``), ``interrupted`` (a signal stopped the training; its state is saved) or ``busy``
    (another process is training the run). Failures leave ``errors/NAME.json`` and the traceback.
    """
    limit_threads(task.threads)
    from rnn_timescales.runs.checkpoints import is_run_dir
    from rnn_timescales.training.trainer import resume, train

    root, run_dir = Path(task.root), Path(task.root) / task.name
    holder = lock_holder(run_dir)
    if holder is not None:
        if holder.working:
            return {"name": task.name, "status": "busy"}
        message = holder.describe()  # a lock nobody works under: never waited for
        record_failure(root, task.name, "train", message)
        return {"name": task.name, "status": "failed", "error": message}
    clear_failure(root, task.name)
    phase = "train"
    out: dict[str, Any] = {"name": task.name, "status": "done"}
    try:
        if task.train:
            if is_run_dir(run_dir):
                extend = [f"{k}={json.dumps(v)}" for k, v in task.extend.items()]
                result = resume(run_dir, extend, progress=False)
            else:
                result = train(RunConfig.from_dict(task.config), run_dir, progress=False)
            out.update(stop_reason=result.stop_reason, n_solved=result.n_solved)
            if result.stop_reason == "diverged":
                record_failure(root, task.name, phase, result.message)
                return {**out, "status": "failed", "error": result.message}
            if result.stop_reason == "interrupted":
                return {**out, "status": "interrupted"}
        for name, settings in task.analyses:
            phase = f"analyze {name}"
            analysis = ANALYSES[name]
            if not analysis.is_current(run_dir, settings):
                analysis.run(run_dir, settings)
        return out
    except KeyboardInterrupt:  # Ctrl-C during an analysis: nothing to record, the sweep is stopping
        return {**out, "status": "interrupted"}
    except Exception as e:
        if is_locked(run_dir):  # another process took the run between our check and the trainer's lock
            return {"name": task.name, "status": "busy"}
        message = f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0]}"
        record_failure(root, task.name, phase, message, traceback.format_exc())
        return {**out, "status": "failed", "error": message}
