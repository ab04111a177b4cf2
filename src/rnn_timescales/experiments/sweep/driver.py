"""The sweep's driver (:func:`run_sweep`): check and write the sweep root, hold its lock, hand each
point's remaining work to a backend and keep the statuses, until nothing is left or Ctrl-C.

Long functions on purpose: the driver's loop (plan, pool, statuses, signals) reads best top to bottom.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import pandas as pd
import yaml
from tqdm.auto import tqdm

from rnn_timescales.errors import ConfigError
from rnn_timescales.experiments.sweep.analyses import ANALYSES
from rnn_timescales.experiments.sweep.points import SweepPoint, plan, select_points
from rnn_timescales.experiments.sweep.spec import SPEC_FILE, SweepSpec, _canonical
from rnn_timescales.experiments.sweep.status import (
    ERRORS_DIR,
    RunStatus,
    read_failure,
    record_failure,
    run_status,
    status_counts,
)
from rnn_timescales.experiments.sweep.worker import RunTask, execute
from rnn_timescales.io import atomic_write_text, check_output_dir, remove_stale, write_error
from rnn_timescales.runs.rundir import decide_run

RUNS_FILE = "runs.csv"


@dataclass
class SweepResult:
    """What one call of :func:`run_sweep` did: final statuses, counts and the wall time (s)."""

    root: Path
    statuses: list[RunStatus]
    counts: dict[str, int]
    wall_time_s: float
    ran: int
    interrupted: bool = False


def check_root(root: str | Path) -> Path:
    """``root`` if a sweep may be written there: missing, empty, or a sweep root; ConfigError
    otherwise. Nothing is created."""
    def ours(p: Path) -> bool:  # a sweep root, or one holding only a driver's lock
        return (p / SPEC_FILE).is_file() or all(q.name == DRIVER_LOCK for q in p.iterdir())

    return check_output_dir(root, "sweep", ours=ours,
                            foreign=f"holds files that are not a sweep (no {SPEC_FILE}); choose another --out")


def prepare_sweep(spec: SweepSpec, root: str | Path, write: bool = True) -> tuple[Path, list[SweepPoint]]:
    """Plan the sweep, check that every existing run directory under ``root`` was made with its
    point's configuration (and that its config.yaml still fits its training state), then write
    ``sweep.yaml`` and ``runs.csv`` (unless ``write`` is False). ConfigError (nothing written) if
    anything does not fit."""
    root = check_root(root)
    points = plan(spec)
    check_applicable(spec, points)
    for p in points:
        run_dir = root / p.name
        if run_dir.exists() and not run_dir.is_dir():
            raise ConfigError(f"{str(run_dir)!r} is a file where the sweep's run directory {p.name} belongs")
        where = str(run_dir)
        decide_run(run_dir, p.config, where=("there", "in the sweep"),
                   different=lambda difference: ConfigError(
                       f"run directory {where!r} was made with another configuration ({difference}); "
                       "choose another --out or remove it"),
                   edited=lambda mismatch: ConfigError(
                       f"run directory {where!r} was edited by hand: {mismatch}; restore it or remove the run directory"))
    if not write:
        return root, points
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(root / SPEC_FILE, yaml.safe_dump(spec.to_mapping(), sort_keys=False))
    table = pd.DataFrame([{"name": p.name, **{k: _csv_value(v) for k, v in p.varying.items()}} for p in points])
    atomic_write_text(root / RUNS_FILE, table.to_csv(index=False))
    return root, points


def check_applicable(spec: SweepSpec, points: list[SweepPoint]) -> None:
    """ConfigError (one line) if the spec asks for an analysis on runs of a task it does not apply
    to (its ``requires``: e.g. ``analyze.recall_memory`` on a parity run), naming the first such run."""
    from rnn_timescales.studies.registry import tasks_with

    for name in spec.analyze:
        requires = ANALYSES[name].requires
        if not requires:
            continue
        tasks = tasks_with(requires)
        bad = next((p for p in points if p.config.task.name not in tasks), None)
        if bad is not None:
            raise ConfigError(f"analyze.{name} applies to runs of {', '.join(tasks)} only, and run {bad.name} trains "
                              f"{bad.config.task.name}; remove analyze.{name} or those runs from the spec")


def _csv_value(value: Any) -> Any:
    return _canonical(value) if isinstance(value, (dict, list)) else value


def run_sweep(
    spec: SweepSpec,
    root: str | Path,
    *,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    train: bool = True,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    poll_s: float = 2.0,
    only: Mapping[str, Iterable[str]] | None = None,
) -> SweepResult:
    """Train (``train=True``) and analyse every point of ``spec`` under ``root``; skip what is done.

    SIGINT (Ctrl-C) stops the sweep: nothing new starts, runs in progress save their state and
    stop (they receive the same Ctrl-C), and the result says ``interrupted``; a second SIGINT
    raises KeyboardInterrupt at once.

    Finished runs are skipped, interrupted ones resumed from their saved state, failed ones retried;
    a run that fails is recorded in ``errors/`` and the others go on. Runs held by another process
    (their lock) are waited for. ``train=False`` only analyses the runs that are done. One driver at
    a time: a second one on the same ``root`` gets a ConfigError (:func:`driver_lock`). A run
    without a result after ``spec.timeout_s`` seconds has its worker killed and is recorded as failed.
    backend: ``local`` (a process pool of ``workers``, default one per ``spec.threads`` cores) or
    ``ray`` (``address`` of a cluster, else a local instance). ``log`` receives one line per event.
    ``only`` ({setting: values}, :func:`~rnn_timescales.experiments.sweep.points.select_points`)
    restricts the work, and the counts, to the points that have those values (e.g. ``{"seed": ["0",
    "1"]}``); the whole sweep is still checked and recorded, and a later call without it does the rest.
    """
    from rnn_timescales.backends import make_backend

    pool = make_backend(backend, workers=workers, address=address, threads=spec.threads, gpus=spec.gpus,
                        timeout_s=spec.timeout_s)
    _, points = prepare_sweep(spec, root, write=False)  # everything checked before the first file is written
    select_points(points, only or {})
    with driver_lock(root):
        return _drive(spec, Path(root), pool, train, progress, log, poll_s, only or {})


def _drive(spec: SweepSpec, root: Path, pool: Any, train: bool, progress: bool,
           log: Callable[[str], None] | None, poll_s: float, only: Mapping[str, Iterable[str]]) -> SweepResult:
    """:func:`run_sweep` once this driver holds the sweep's lock."""
    root, points = prepare_sweep(spec, root)
    points = select_points(points, only)
    for d in (root, root / ERRORS_DIR):  # what a killed driver or worker was writing
        remove_stale(d)
    say = log or (lambda line: None)
    analyses = tuple(spec.analyze.items())
    by_name = {p.name: p for p in points}
    statuses = {p.name: run_status(root, p) for p in points}
    attempted: set[str] = set()
    unrecorded: dict[str, str] = {}  # failures errors/ could not hold (a full disk): name -> error
    ran = 0
    t0 = time.monotonic()
    bar = tqdm(total=len(points), desc="sweep", unit="run", disable=not progress, dynamic_ncols=True)

    def refresh() -> None:
        counts = status_counts(statuses.values())
        bar.n = counts["done"] + counts["failed"]
        bar.set_postfix_str(", ".join(f"{k} {v}" for k, v in counts.items() if k != "done"))

    refresh()
    stop = threading.Event()
    with pool, _stop_on_sigint(stop):
        while not stop.is_set():
            todo, waiting = [], 0
            for p in points:
                if p.name in attempted:
                    continue
                st = statuses[p.name] = run_status(root, p)
                if st.status == "running":
                    waiting += 1
                    continue
                if st.stale_lock:  # held by a process that is not training it: not waited for
                    if not record_failure(root, p.name, "train", st.detail.removeprefix("train: ")):
                        unrecorded[p.name] = st.detail
                    say(f"{p.name}: failed ({st.detail})")
                    attempted.add(p.name)
                    continue
                task = _task_for(root, p, st, analyses, train, spec.threads)
                if task is None:
                    attempted.add(p.name)
                else:
                    todo.append(task)
            refresh()
            if not todo and not waiting:
                break
            if not todo:
                bar.set_postfix_str(f"waiting for {waiting} runs trained by another process")
                stop.wait(poll_s)
                continue
            for task, outcome in pool.run(execute, todo, stop.is_set):
                if isinstance(outcome, BaseException):  # the worker died (or the task could not be run)
                    message = f"{type(outcome).__name__}: {(str(outcome).strip().splitlines() or [''])[0]}"
                    record_failure(root, task.name, "train" if task.train else "analyze", message)
                    outcome = {"name": task.name, "status": "failed", "error": message}
                if outcome["status"] == "failed" and read_failure(root, task.name) is None:
                    unrecorded[task.name] = f"train: {outcome.get('error')} (errors/ could not record it either)"
                if outcome["status"] != "busy":
                    attempted.add(task.name)
                    ran += 1
                if outcome["status"] == "failed":
                    say(f"{task.name}: failed ({outcome.get('error')}); see {root / ERRORS_DIR}")
                statuses[task.name] = run_status(root, by_name[task.name])
                refresh()
    bar.close()
    final = [run_status(root, p) for p in points]
    for st in final:
        if st.name in unrecorded and st.status != "failed":
            st.status, st.detail = "failed", unrecorded[st.name]
    return SweepResult(root, final, status_counts(final), time.monotonic() - t0, ran, stop.is_set())


DRIVER_LOCK = ".sweep.lock"


@contextlib.contextmanager
def driver_lock(root: str | Path) -> Iterator[None]:
    """Hold the sweep's driver lock (``ROOT/.sweep.lock``) while the block runs: a second driver on
    the same sweep directory (``sweep`` or ``sweep analyze``) is refused with a ConfigError naming
    the holder. The lock ends with its process, however it ends."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: drivers are not locked
        yield
        return
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise write_error(root, e) from None
    path = root / DRIVER_LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise write_error(path, e) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
            raise ConfigError(f"sweep directory {str(root)!r} is being run by another driver ({holder}); wait for "
                              "it to finish or stop it, then run this again") from None
        with contextlib.suppress(OSError):  # a full disk: the lock holds without its holder's name
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {os.uname().nodename}, since {time.strftime('%Y-%m-%d %H:%M:%S')}"
                      .encode(), 0)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def _stop_on_sigint(stop: threading.Event) -> Iterator[None]:
    """The first SIGINT sets ``stop``; a second one acts as usual (KeyboardInterrupt)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        stop.set()
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _task_for(root: Path, point: SweepPoint, status: RunStatus, analyses: tuple[tuple[str, dict], ...],
              train: bool, threads: int) -> RunTask | None:
    """The work a point still needs, or None."""
    run_dir = root / point.name
    config = point.config.to_dict()
    if status.trained:
        stale = tuple((n, s) for n, s in analyses if not ANALYSES[n].is_current(run_dir, s))
        if not stale:
            return None
        return RunTask(point.name, str(root.resolve()), config, False, {}, stale, threads)
    if not train:
        return None
    return RunTask(point.name, str(root.resolve()), config, True, dict(status.extend), analyses, threads)
