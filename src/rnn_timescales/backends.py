"""Where a sweep's runs execute: a local process pool (the default) or a Ray cluster.

Both offer ``run(fn, tasks, stop)``: call ``fn(task)`` for every task, each in a worker process, and
yield ``(task, result)`` as they complete, in completion order; once ``stop()`` is true no new task
starts (those in flight are waited for, or cancelled on Ray). ``result`` is what ``fn`` returned, or an
exception instance when the worker died under the task (killed, out of memory, a crash in native
code); the driver never dies with a worker.

Each task gets its own resources: ``threads`` torch threads (and, on Ray, as many CPUs) and, on
Ray, ``gpus`` GPUs. With ``timeout_s``, a task without a result after that many seconds has its
worker killed and gets a :class:`RunTimedOut` (on the local pool counted from when a worker starts
it, on Ray from when it is submitted); the other tasks go on.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import queue as queue_module
import signal
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterator, Sequence

from rnn_timescales.errors import ConfigError, RunTimedOut, WorkerDied
from rnn_timescales.runtime import limit_threads

BACKENDS = ("local", "ray")


def make_backend(name: str, *, workers: int | None = None, address: str | None = None, threads: int = 1,
                 gpus: float = 0.0, timeout_s: float | None = None) -> LocalPool | RayPool:
    """A backend by name: ``local`` (``workers`` processes, default: cores // threads) or ``ray``
    (``address`` of a running cluster, else a local instance; at most ``workers`` tasks at once).
    ``timeout_s``: the most seconds one task may run (None: no limit)."""
    if name == "local":
        if address is not None:
            raise ConfigError("--address is for --backend ray; the local pool runs on this machine")
        return LocalPool(workers or max(1, _cores() // threads), threads, timeout_s=timeout_s)
    if name == "ray":
        return RayPool(address=address, workers=workers, threads=threads, gpus=gpus, timeout_s=timeout_s)
    raise ConfigError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


def _cores() -> int:
    """CPU cores this process may use (its affinity mask where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# --- local process pool -------------------------------------------------------------------------
def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds, so temporary files are cleaned up on the way out


def _watch_parent(parent: int, main_thread: int, grace_s: float = 120.0) -> None:
    """Stop this worker when the driver is gone (e.g. killed with SIGKILL): SIGTERM makes a training
    save its state and return 'interrupted', and ends anything else cleanly. The signal is sent to
    the main thread itself, so that a wait on the pool's queues is interrupted too (a signal that
    lands on another thread would leave the main thread blocked). Whatever still runs after
    ``grace_s`` is ended."""
    while os.getppid() == parent:
        time.sleep(0.5)
    signal.pthread_kill(main_thread, signal.SIGTERM)
    time.sleep(grace_s)
    os._exit(128 + signal.SIGTERM)


_STARTED: Any = None  # in a worker of a pool with a time limit: the queue it reports (task key, pid) on


def _guarded(fn: Callable[[Any], Any], task: Any, parent: int, key: int | None = None) -> Any:
    """``fn(task)`` in a worker; if the driver died meanwhile, nobody will read the result or send
    more work, so the worker ends instead of waiting on the pool's queue. With a time limit, the
    worker first tells the driver which process runs task ``key``."""
    if _STARTED is not None and key is not None:
        _STARTED.put((key, os.getpid()))
    try:
        return fn(task)
    finally:
        if os.getppid() != parent:
            os._exit(128 + signal.SIGTERM)


def _init_worker(threads: int, parent: int, started: Any = None) -> None:
    global _STARTED
    _STARTED = started
    limit_threads(threads)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    threading.Thread(target=_watch_parent, args=(parent, threading.main_thread().ident), daemon=True).start()


_BROKEN = object()


def _result(future: Future) -> Any:
    """The task's result; the exception it raised past its own handling; or _BROKEN when the pool
    died under it."""
    try:
        return future.result()
    except BrokenProcessPool:
        return _BROKEN
    except Exception as e:
        return e


class LocalPool:
    """``workers`` worker processes on this machine, started with ``spawn`` (a clean interpreter,
    not a fork of the driver), each using ``threads`` threads.

    When a worker dies, Python's pool breaks and fails every task in flight, so the culprit is not
    known: the tasks that were in flight are run again one at a time, and the one that kills its
    worker alone is reported as dead (``WorkerDied``); the others complete normally.
    """

    def __init__(self, workers: int, threads: int = 1, timeout_s: float | None = None) -> None:
        if workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {workers}")
        self.workers = workers
        self.threads = threads
        self.timeout_s = timeout_s
        self._executor: ProcessPoolExecutor | None = None
        self._started: Any = None  # (key, pid) of each task a worker starts, with a time limit
        self._keys = itertools.count()
        self._clock: dict[Future, list[Any]] = {}  # per task in flight: key, started (monotonic), worker pid

    def __enter__(self) -> LocalPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            context = multiprocessing.get_context("spawn")
            self._started = context.Queue() if self.timeout_s is not None else None
            self._executor = ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=_init_worker,
                initargs=(self.threads, os.getpid(), self._started))
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _submit(self, running: dict[Future, Any], fn: Callable[[Any], Any], task: Any) -> bool:
        """Start ``task``; False when the pool broke since the driver last looked (a worker died
        under a task in flight: ``running`` holds its future, which the next wait collects)."""
        try:
            self._start(running, fn, task)
            return True
        except BrokenProcessPool:
            if running:
                return False
            # nothing in flight died with it (a worker killed while idle): a fresh pool
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
            self._start(running, fn, task)
            return True

    def _start(self, running: dict[Future, Any], fn: Callable[[Any], Any], task: Any) -> None:
        key = next(self._keys)
        future = self._pool().submit(_guarded, fn, task, os.getpid(), key)
        running[future] = task
        self._clock[future] = [key, time.monotonic(), None]  # key, started, worker pid

    def _kill_overdue(self, running: dict[Future, Any], timed_out: set[Future]) -> float:
        """Kill the worker of every task past the time limit (marking it in ``timed_out``); the
        seconds until the next task's limit."""
        by_key = {c[0]: f for f, c in self._clock.items()}
        while True:  # which worker started which task, and when
            try:
                key, pid = self._started.get_nowait()
            except (queue_module.Empty, OSError, ValueError):
                break
            if key in by_key:
                self._clock[by_key[key]][1:] = [time.monotonic(), pid]
        now, wait_s = time.monotonic(), 1.0
        for future in running:
            if future in timed_out:
                continue
            _, started, pid = self._clock[future]
            left = started + self.timeout_s - now
            if left > 0:
                wait_s = min(wait_s, max(left, 0.05))
                continue
            timed_out.add(future)
            # the worker running it; if it never said, every worker of the pool (the others resume)
            victims = [pid] if pid is not None else list(getattr(self._executor, "_processes", None) or {})
            for victim in victims:
                try:
                    os.kill(victim, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        return wait_s

    def run(self, fn: Callable[[Any], Any], tasks: Sequence[Any],
            stop: Callable[[], bool] = lambda: False) -> Iterator[tuple[Any, Any]]:
        queue, suspects = deque(tasks), deque()
        running: dict[Future, Any] = {}
        self._clock: dict[Future, list[Any]] = {}
        timed_out: set[Future] = set()
        alone = False  # the tasks in flight are one suspect, run by itself
        while queue or suspects or running:
            if stop():
                queue.clear()
                suspects.clear()
                if not running:
                    return
            elif suspects:
                if not running and self._submit(running, fn, suspects[0]):
                    suspects.popleft()
                    alone = True
            else:
                while queue and len(running) < self.workers and self._submit(running, fn, queue[0]):
                    queue.popleft()
                    alone = False
            wait_s = self._kill_overdue(running, timed_out) if self.timeout_s is not None and running else 1.0
            # a timeout, so that the driver's signal handlers run while it waits
            done, _ = wait(running, timeout=wait_s, return_when=FIRST_COMPLETED)
            broken = []
            for future in done:
                task = running.pop(future)
                result = _result(future)
                if result is _BROKEN:
                    broken.append((future, task))
                else:
                    yield task, result
            if not broken:
                continue
            # The pool is dead: the other tasks in flight fail the same way.
            for future, task in list(running.items()):
                result = _result(future)
                if result is _BROKEN:
                    broken.append((future, task))
                else:
                    yield task, result
            running.clear()
            self._clock.clear()
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
            overdue = [task for future, task in broken if future in timed_out]
            others = [task for future, task in broken if future not in timed_out]
            timed_out.clear()
            if overdue:  # the culprits are known: the others were stopped with the pool, and run again
                for task in overdue:
                    yield task, RunTimedOut(self.timeout_s)
                queue.extendleft(reversed(others))
            elif alone or len(broken) == 1:
                for _, task in broken:
                    yield task, WorkerDied("the worker process running it died (killed, out of memory, or a crash)")
            else:
                suspects.extend(task for _, task in broken)


# --- Ray ----------------------------------------------------------------------------------------
class RayPool:
    """Tasks on a Ray cluster, each asking for ``threads`` CPUs and ``gpus`` GPUs.

    ``address``: a running cluster (``auto``, or ``HOST:PORT``); None starts a local instance
    (``workers * threads`` CPUs when ``workers`` is given, else all) and stops it at the end. An
    already initialised Ray (e.g. by the caller) is used as it is and left running. Run
    directories are written by the workers, so the sweep root must be on a file system that every
    node sees, and every node needs rnn-timescales installed.
    """

    def __init__(self, address: str | None = None, workers: int | None = None, threads: int = 1,
                 gpus: float = 0.0, timeout_s: float | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError('--backend ray needs Ray: pip install "rnn-timescales[ray]"') from None
        if workers is not None and workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {workers}")
        self._ray = ray
        self.address, self.workers, self.threads, self.gpus = address, workers, threads, gpus
        self.timeout_s = timeout_s
        self._started = False

    def __enter__(self) -> RayPool:
        ray = self._ray
        if not ray.is_initialized():
            if self.address is not None:
                ray.init(address=self.address, logging_level="warning", log_to_driver=False)
            else:
                ray.init(num_cpus=self.workers * self.threads if self.workers else None, include_dashboard=False,
                         logging_level="warning", log_to_driver=False)
            self._started = True
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False

    def run(self, fn: Callable[[Any], Any], tasks: Sequence[Any],
            stop: Callable[[], bool] = lambda: False) -> Iterator[tuple[Any, Any]]:
        ray = self._ray
        from ray.exceptions import RayError, RayTaskError

        remote = ray.remote(fn).options(num_cpus=self.threads, num_gpus=self.gpus, max_retries=0)
        queue = deque(tasks)
        cap = self.workers or len(queue)
        running: dict[Any, Any] = {}
        submitted: dict[Any, float] = {}
        timed_out: set[Any] = set()
        cancelled = False
        while queue or running:
            if stop():
                queue.clear()
                if not cancelled:  # interrupts the tasks (KeyboardInterrupt): runs resume from their saved state
                    for ref in running:
                        ray.cancel(ref)
                    cancelled = True
            while queue and len(running) < cap:
                task = queue.popleft()
                ref = remote.remote(task)
                running[ref], submitted[ref] = task, time.monotonic()
            if not running:
                return
            if self.timeout_s is not None:
                for ref in running:
                    if ref not in timed_out and time.monotonic() - submitted[ref] > self.timeout_s:
                        ray.cancel(ref, force=True)  # kills the worker process
                        timed_out.add(ref)
            ready, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
            for ref in ready:
                task = running.pop(ref)
                submitted.pop(ref, None)
                try:
                    result = ray.get(ref)
                except RayTaskError as e:  # fn raised outside its own error handling
                    result = WorkerDied(f"the Ray task failed: {str(e).strip().splitlines()[0]}")
                except RayError as e:  # the worker died, or the node
                    result = WorkerDied(f"the Ray worker running it died ({type(e).__name__})")
                if ref in timed_out and isinstance(result, WorkerDied):
                    result = RunTimedOut(self.timeout_s)
                yield task, result
