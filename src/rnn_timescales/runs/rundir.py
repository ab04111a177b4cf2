"""The run directory: claiming and locking it, naming it, and the files a run writes into it.

::

    config.yaml          the validated configuration (enough to redo the run)
    metrics.csv          one row per epoch (METRIC_COLUMNS)
    head_metrics.csv     one row per epoch and head: epoch, head, n (the N it answers, if any), accuracy
    summary.json         why and when the run stopped, and the levels solved (absent while it trains)
    checkpoints/         init.safetensors, rnn_<label>.safetensors per solved level, final.safetensors
    state/               the full training state, to resume (see training/state.py)
    .lock                held by the one process training this directory; it names the holder
                         (pid and host) and its modification time is the holder's heartbeat

Every file is replaced atomically, so a reader (an analysis of a run still training) never sees
half of one.

The lock and its heartbeat: the trainer takes ``.lock`` (``flock``) before it writes anything and
releases it however it stops; while it trains, a thread touches the lock file every
:data:`HEARTBEAT_S` seconds. A lock is *working* (:func:`lock_holder`) while its holder is alive and
its heartbeat is younger than :data:`STALE_AFTER_S`; a lock held by a process that is not training
the run (a leaked descriptor, a child that inherited it) is not waited for.

A directory that holds only a lock and the temporary files of a first write that was interrupted
(``.config.yaml.*.tmp``: a run killed while it started) is a run that has not started: it is cleaned
and started again (:meth:`RunDirectory.claim`).

:func:`decide_run` is the one decision about a directory that should hold a given run (``train
--resume`` through :func:`decide_resume`, sweeps,
compare-models, robustness retraining): new, the same run to resume or reuse, or refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd

from rnn_timescales.config import RunConfig, config_difference, read_yaml, resumable_changes, resume_config
from rnn_timescales.errors import ConfigError, StateError
from rnn_timescales.io import atomic_write_text, check_output_dir, is_temporary, remove_stale, write_error
from rnn_timescales.runs.files import CHECKPOINTS, CONFIG, HEAD_METRICS, METRICS, SUMMARY
from rnn_timescales.runs.checkpoints import SUFFIX, checkpoint_name
from rnn_timescales.runs.state import STATE_DIR, load_latest_state

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: runs are not locked
    fcntl = None  # type: ignore[assignment]

METRIC_COLUMNS = [
    "epoch", "n_min", "n_max", "n_heads", "loss", "accuracy_mean", "accuracy_newest", "accuracy_min",
    "tau_mean", "tau_median", "tau_std", "tau_min", "tau_max", "lr", "solved", "wall_time_s", "epoch_time_s",
    "step", "level_name", "level",
]
"""Columns of ``metrics.csv``. ``n_min``/``n_max``: the N range trained (N curricula; empty
otherwise); ``step``: training steps done so far; ``level_name``/``level``: the parameter the
curriculum changes and its value in that epoch (``n_max`` for the N curricula)."""
TIMING_COLUMNS = ["wall_time_s", "epoch_time_s"]
HEAD_COLUMNS = ["epoch", "head", "n", "accuracy"]
LOCK_NAME = ".lock"
HEARTBEAT_S = 2.0
"""Seconds between two touches of a training run's lock file (its heartbeat)."""
STALE_AFTER_S = 30.0
"""A lock whose heartbeat is older than this (seconds) is held by a process that is not training
the run; a sweep does not wait for it."""


def prepare_run_dir(run_dir: str | Path) -> Path:
    """Check that ``run_dir`` is free to hold a new run (missing, empty, or a run that never got past
    its first write: :func:`interrupted_start`); does not create it."""
    return check_output_dir(run_dir, "run", ours=interrupted_start,
                            foreign="already holds files; choose a new --out (or --resume it)")


def interrupted_start(p: str | Path) -> bool:
    """Whether directory ``p`` holds nothing but a lock and temporary files (``.NAME.*.tmp``): a run
    killed while it started (before its config.yaml was in place), free to take and start again."""
    return all(q.name == LOCK_NAME or is_temporary(q.name) for q in Path(p).iterdir())


def default_run_dir(config: RunConfig, root: str | Path = "runs") -> Path:
    """A fresh directory name under ``root`` that names the run (task, curriculum, model unless it is
    the leaky RNN, hidden size, seed, time). Creating it is left to :meth:`RunDirectory.claim`,
    which adds a suffix if another run takes the name first."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    model = "" if config.model.type == "leaky_rnn" else f"_{config.model.type}"
    base = f"{config.task.name}_{config.curriculum.kind}{model}_h{config.model.hidden_size}_seed{config.seed}_{stamp}"
    candidate = Path(root) / base
    k = 1
    while candidate.exists():
        k += 1
        candidate = Path(root) / f"{base}-{k}"
    return candidate


class RunDirectory:
    """The directory one training run owns. ``auto_name``: the path is a generated name; if another
    process takes it first, :meth:`claim` adds ``-2``, ``-3``, ... instead of failing."""

    def __init__(self, path: str | Path, auto_name: bool = False) -> None:
        self.path = Path(path)
        self.auto_name = auto_name
        self._lock_fd: int | None = None
        self.cleaned: list[str] = []  # temporary files of an interrupted start that claim() removed

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def state(self) -> Path:
        return self.path / STATE_DIR

    def checkpoint(self, label: str | None) -> Path:
        """Path of the checkpoint of a solved level (``label``), or of the untrained network (None)."""
        return self.checkpoints / checkpoint_name(label)

    @property
    def final_checkpoint(self) -> Path:
        return self.checkpoints / f"final{SUFFIX}"

    # --- owning it -------------------------------------------------------------------------------
    def claim(self) -> None:
        """Create the directory for a new run and lock it; ConfigError if it is taken, WriteError
        (one line) if it cannot be created. The temporary files of an interrupted start
        (:func:`interrupted_start`) are removed and listed in :attr:`cleaned`."""
        p = self.path
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            if self.auto_name:
                base, k = p, 1
                while True:
                    try:
                        p.mkdir()
                        break
                    except FileExistsError:
                        k += 1
                        p = base.with_name(f"{base.name}-{k}")
                self.path = p
            else:
                prepare_run_dir(p)
                p.mkdir(exist_ok=True)
        except OSError as e:
            raise write_error(p, e) from None
        self.lock()
        self.cleaned = sorted(q.name for q in remove_stale(p))  # their writer held this lock: it is gone
        if any(q.name != LOCK_NAME for q in p.iterdir()):
            self.release()
            raise ConfigError(f"output directory {str(p)!r} was just taken by another process; choose a new --out")

    def lock(self) -> None:
        """Hold the directory's lock, naming this process in it; ConfigError if another process
        holds it, WriteError (one line) if the lock file cannot be made."""
        if fcntl is None:
            return
        try:
            fd = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise write_error(self.path / LOCK_NAME, e) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(f"run directory {str(self.path)!r} is being trained by another process") from None
        self._lock_fd = fd
        with contextlib.suppress(OSError):  # a full disk: the lock holds without its holder's name
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        self.beat()

    def beat(self) -> None:
        """Touch the lock file (its modification time is the heartbeat); harmless if not locked."""
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.utime(self._lock_fd)

    @contextlib.contextmanager
    def heartbeat(self, every_s: float = HEARTBEAT_S) -> Iterator[None]:
        """Touch the lock file every ``every_s`` seconds while the block runs (the trainer's block:
        the lock is working while the run is trained, and only then)."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(every_s):
                self.beat()

        thread = threading.Thread(target=beat, name="run-heartbeat", daemon=True)
        self.beat()
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the lock
            self._lock_fd = None

    # --- its files -------------------------------------------------------------------------------
    def remove_stale(self) -> None:
        """Remove the temporary files a killed process left here (those whose writer is gone)."""
        for d in (self.path, self.checkpoints, self.state):
            remove_stale(d)

    def write_config(self, config: RunConfig) -> None:
        """config.yaml, then the folders: from then on the directory is a run ``--resume`` accepts."""
        atomic_write_text(self.path / CONFIG, config.to_yaml())
        self.checkpoints.mkdir(exist_ok=True)
        self.state.mkdir(exist_ok=True)

    def write_metrics(self, rows: list[dict[str, Any]], head_rows: list[dict[str, Any]]) -> None:
        """metrics.csv and head_metrics.csv from the rows so far (none: a run resumed before its first
        epoch ended, whose rows of the lost epoch are dropped)."""
        if not rows:
            (self.path / METRICS).unlink(missing_ok=True)
            (self.path / HEAD_METRICS).unlink(missing_ok=True)
            return
        atomic_write_text(self.path / METRICS, pd.DataFrame(rows, columns=METRIC_COLUMNS).to_csv(index=False))
        atomic_write_text(self.path / HEAD_METRICS, pd.DataFrame(head_rows, columns=HEAD_COLUMNS).to_csv(index=False))

    def write_summary(self, summary: dict[str, Any]) -> None:
        atomic_write_text(self.path / SUMMARY, json.dumps(summary, indent=2))

    def remove_summary(self) -> None:
        (self.path / SUMMARY).unlink(missing_ok=True)  # it is training again


def is_locked(run_dir: str | Path) -> bool:
    """Whether a process holds the run directory's training lock (it is training now)."""
    if fcntl is None:
        return False
    try:
        fd = os.open(Path(run_dir) / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return False
    try:
        # A shared lock only: it never blocks a trainer that has taken the exclusive one.
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@dataclass(frozen=True)
class LockHolder:
    """Who holds a run's lock (:func:`lock_holder`). pid, host: as the holder wrote them (None if
    unknown); beat_age_s: seconds since its last heartbeat; alive: whether that process exists
    (None: another host, or unknown)."""

    run_dir: Path
    pid: int | None
    host: str | None
    beat_age_s: float
    alive: bool | None

    @property
    def working(self) -> bool:
        """Whether the holder is training the run: alive (where that can be known) and its
        heartbeat younger than :data:`STALE_AFTER_S`. A lock that names no holder was taken by a
        version without heartbeats (a campaign stage pinned at an older revision): held is working."""
        if self.pid is None:
            return True
        return self.alive is not False and self.beat_age_s <= STALE_AFTER_S

    def describe(self) -> str:
        """One line: why this lock is not waited for (or that it is being trained)."""
        who = f"pid {self.pid} on {self.host}" if self.pid is not None else "a process"
        if self.working:
            return f"being trained by {who}"
        why = "which has ended" if self.alive is False else f"no heartbeat for {self.beat_age_s:.0f} s"
        return (f"its lock ({str(self.run_dir / LOCK_NAME)!r}) is held by {who}, which is not training it ({why}); "
                "stop that process, then run the sweep again")


def lock_holder(run_dir: str | Path) -> LockHolder | None:
    """Who holds the training lock of ``run_dir``, or None if no process does."""
    if not is_locked(run_dir):
        return None
    path = Path(run_dir) / LOCK_NAME
    try:
        text = path.read_text(errors="replace")
        age = max(0.0, time.time() - path.stat().st_mtime)
    except OSError:
        return None
    pid = host = None
    parts = text.split()
    if len(parts) >= 4 and parts[0] == "pid" and parts[1].isdigit() and parts[2] == "on":
        pid, host = int(parts[1]), parts[3]
    alive = None
    if pid is not None and host == socket.gethostname():
        alive = Path(f"/proc/{pid}").exists() if Path("/proc/self").exists() else _pid_exists(pid)
    return LockHolder(Path(run_dir), pid, host, age, alive)


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_summary(run_dir: str | Path) -> dict[str, Any] | None:
    """A run's summary.json, or None if it has none (still training, killed) or it is unreadable."""
    try:
        return json.loads((Path(run_dir) / SUMMARY).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def solved_text(summary: dict[str, Any]) -> str:
    """How far a run got, for a status line: ``N = 17`` (the largest N solved), ``max_delay 18
    passed`` (the last level a delay or vocabulary curriculum advanced from, by accuracy or on its
    schedule), else ``nothing solved``."""
    if summary.get("n_max_solved") is not None:
        return f"N = {summary['n_max_solved']}"
    if summary.get("level_solved") is not None and summary.get("level_name"):
        return f"{summary['level_name']} {summary['level_solved']} passed"
    return "nothing solved"


# --- new, resume or reuse ----------------------------------------------------------------------------
FINAL_STOPS = ("target_n", "target_level", "solved", "heads_exhausted", "max_epochs", "time_budget", "imported")
"""Stop reasons after which a run has done what its configuration asks; only a larger budget
continues it (an ``imported`` run never). ``interrupted`` resumes; ``diverged`` failed."""


def state_mismatch(run_dir: str | Path) -> str | None:
    """How a run directory's config.yaml differs from its saved training state (edited by hand since
    the run was trained); None when they fit, or it has no readable state (a corrupt state is that
    run's failure, found when it is resumed)."""
    try:
        state, _, _ = load_latest_state(run_dir)
    except StateError:
        return None
    if state is None:
        return None
    difference = config_difference(state.config, read_yaml(Path(run_dir) / CONFIG),
                                   where=("in its training state", "in config.yaml"))
    return f"config.yaml differs from its training state ({difference})" if difference else None


@dataclass(frozen=True)
class RunDecision:
    """What to do with a run directory to have the run a caller wants in it (:func:`decide_run`).

    action: ``new`` (no run there yet: train it from the start), ``resume`` (the same run, not
    finished, or finished with a budget the wanted configuration changes: continue it from its
    saved state) or ``reuse`` (the same run, finished as wanted: read it back).
    changes: the settings a resumed run may change (``config.RESUMABLE``) on which the run's
    config.yaml and the wanted configuration differ, setting -> wanted value.
    summary: the run's summary.json (None: it never stopped, or is training now).
    """

    run_dir: Path
    action: str
    changes: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] | None = None

    @property
    def stop_reason(self) -> str | None:
        return None if self.summary is None else self.summary.get("stop_reason")

    @property
    def overrides(self) -> list[str]:
        """:attr:`changes` as the ``key=value`` overrides a resumed run takes."""
        return [f"{key}={json.dumps(value)}" for key, value in self.changes.items()]


Refusal = Callable[[str], Exception]


def decide_run(
    run_dir: str | Path,
    wanted: RunConfig,
    *,
    different: Refusal | None = None,
    where: tuple[str, str] = ("there", "now"),
    unreadable: Callable[[ConfigError], Exception] | None = None,
    foreign: Callable[[ConfigError], Exception] | None = None,
    edited: Refusal | None = None,
) -> RunDecision:
    """Whether ``run_dir`` is to hold a new run of ``wanted``, holds that run to resume, or holds it
    finished (to reuse); the callers word the refusals, each a one-line exception they make.

    - No config.yaml: ``new``. A directory that holds other files (or a file at ``run_dir``) is
      refused with ``foreign(error)`` (``error``: the ConfigError of :func:`prepare_run_dir`) if
      ``foreign`` is given; otherwise the trainer refuses it when it claims the directory.
    - config.yaml that is not a valid configuration: ``unreadable(error)`` (default: the error).
    - A run that differs from ``wanted`` outside the resumable settings: ``different(difference)``
      (:func:`~rnn_timescales.config.config_difference`, ``where`` naming the run's side and the
      wanted one); not checked when ``different`` is None (a status, not a decision to train).
    - config.yaml that no longer fits the run's training state (edited by hand):
      ``edited(difference)``, checked only when ``edited`` is given.
    - Otherwise the same run: ``reuse`` when its summary.json has a stop reason of
      :data:`FINAL_STOPS` and the wanted configuration changes none of its resumable settings (an
      imported run is never extended), else ``resume``.
    """
    run_dir = Path(run_dir)
    if not (run_dir.is_dir() and (run_dir / CONFIG).is_file()):
        if foreign is not None:
            try:
                prepare_run_dir(run_dir)
            except ConfigError as e:
                raise foreign(e) from None
        return RunDecision(run_dir, "new")
    try:
        saved = RunConfig.load(run_dir / CONFIG)
    except ConfigError as e:
        raise (unreadable(e) if unreadable is not None else e) from None
    if different is not None:
        difference = config_difference(saved, wanted, where=where)
        if difference is not None:
            raise different(difference)
    if edited is not None:
        mismatch = state_mismatch(run_dir)
        if mismatch is not None:
            raise edited(mismatch)
    summary = read_summary(run_dir)
    reason = None if summary is None else summary.get("stop_reason")
    changes = {} if reason == "imported" else resumable_changes(saved, wanted)
    action = "reuse" if reason in FINAL_STOPS and not changes else "resume"
    return RunDecision(run_dir, action, changes, summary)


def existing_run_dir(run_dir: str | Path) -> Path:
    """``run_dir`` as a Path, checked to be a run directory (a folder with a config.yaml);
    ConfigError with a one-line message otherwise."""
    p = Path(run_dir)
    if not p.exists():
        raise ConfigError(f"run directory {str(p)!r} does not exist")
    if not p.is_dir():
        raise ConfigError(f"{str(p)!r} is a file, not a run directory")
    if not (p / CONFIG).is_file():
        raise ConfigError(f"{str(p)!r} is not a run directory (it has no config.yaml)")
    return p


def decide_resume(run_dir: str | Path, overrides: list[str] | None = None) -> RunDecision:
    """What ``train --resume RUN_DIR`` does: :func:`decide_run` for the run's own configuration with
    ``overrides`` (``key=value``; only :data:`~rnn_timescales.config.RESUMABLE` settings may change):
    ``resume`` (not finished, or finished with a budget the overrides extend) or ``reuse`` (finished
    as asked, or imported: nothing to train). ConfigError or StateError (one line) for a path that
    is not a run directory, a setting that may not change, or a config.yaml edited by hand since its
    training state was saved."""
    p = existing_run_dir(run_dir)
    wanted = resume_config(RunConfig.load(p / CONFIG), overrides)
    return decide_run(p, wanted, edited=lambda mismatch: StateError(
        f"run directory {str(p)!r} was edited by hand: {mismatch}; put config.yaml back as it was written, or train "
        "a new run"))
