"""Faults at each file write of a sweep (issue 32), shared by tests/experiments/test_write_faults.py
and ``benchmarks/fault_injection.py``: SIGKILL of the sweep driver's process group, or ENOSPC, at chosen
writes (those of a new run: config.yaml, the first checkpoint, the training state, metrics.csv,
head_metrics.csv, the solved levels' checkpoints, the final checkpoint, summary.json; and the
sweep's own sweep.yaml and runs.csv), each followed by a re-run to completion, which must end as
the uninterrupted sweep did.

A write is hit exactly, not at a random moment: the processes of the sweep (its driver, and its
workers, forked from it here instead of started fresh, which would cost seconds each) carry the
audit hook of ``fault_hook/sitecustomize.py`` (also on PYTHONPATH for freshly started ones), which
names every write (phase ``open``: its temporary file is created; ``replace``: it is complete and
about to be renamed into place) and kills the process group, or fails the write with ENOSPC, at the
chosen one. The writes a sweep makes are first traced on the uninterrupted sweep.

Compared with the uninterrupted sweep, in content (:func:`conftest.assert_same_run`): metrics.csv
and head_metrics.csv but their timing columns (wall_time_s, epoch_time_s: wall-clock times); every
checkpoint's tensors and metadata; the final training state's model, generator and curriculum;
summary.json but wall_time_s, phase_times_s (wall-clock times) and sha256 (the digests of the
files' bytes: a safetensors header lists its metadata in no fixed order, and a state holds its
elapsed times); runs.csv, sweep.yaml and config.yaml byte for byte.
"""

from __future__ import annotations

import contextlib
import os
import random
import runpy
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from faults import Starter, check_files, finished_runs, kill_tree, mtimes
from sweep_testing import write_spec

HOOK_DIR = Path(__file__).resolve().parent / "fault_hook"
# Two runs of three epochs each, small enough to train in a fraction of a second; one worker, so
# that the writes of every process come in the same order in every sweep.
WRITE_BASE = {"training": {"steps_per_epoch": 5, "max_epochs": 3}}
NEW_RUN_FILES = ("config.yaml", "init.safetensors", "epoch.safetensors", "metrics.csv", "head_metrics.csv",
                 "rnn_", "final.safetensors", "summary.json")


@dataclass(frozen=True)
class Write:
    """One write of a sweep: phase (``open`` or ``replace``), run (its directory, ``ROOT`` for the
    sweep's own files), file, and k (its k-th such write in the process that makes it)."""

    phase: str
    run: str
    file: str
    k: int

    def spec(self, mode: str) -> str:
        return f"{mode}:{self.phase}:{self.run}:{self.file}:{self.k}"

    def __str__(self) -> str:
        return f"{self.phase} {self.run}/{self.file} #{self.k}"


@dataclass
class Outcome:
    """What a campaign found: the writes hit, and every difference from what was promised."""

    hits: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _faulty_main(argv: list[str], fault: str | None, root: str, log: str) -> None:
    """A sweep driver in a process group of its own, with the fault hook here and in its workers;
    its output into ``log``."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.setpgid(0, 0)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(HOOK_DIR), os.environ.get("PYTHONPATH", "")])
    os.environ.pop("RNN_TIMESCALES_TEST_FAULT", None)
    if fault is not None:
        os.environ["RNN_TIMESCALES_TEST_FAULT"] = fault
        os.environ["RNN_TIMESCALES_TEST_FAULT_ROOT"] = root
        runpy.run_path(str(HOOK_DIR / "sitecustomize.py"))  # this process started before the variable was set
    import multiprocessing

    from rnn_timescales.cli import main

    # The pool's workers are forked from this driver (which has the package imported) rather than
    # started fresh, which would cost seconds each: the faults are the same, in a tenth of the time.
    fork = multiprocessing.get_context("fork")
    multiprocessing.get_context = lambda method=None: fork
    os._exit(main(argv))


def run_sweep_with(start: Starter, spec: Path, root: Path, fault: str | None = None, timeout: float = 300,
                   log: Path | None = None) -> int:
    """Run ``sweep SPEC --out ROOT`` (one worker) with ``fault`` (see fault_hook/sitecustomize.py);
    its exit code (-9: killed). Output into ``log`` if given."""
    argv = ["sweep", str(spec), "--out", str(root), "--workers", "1", "--no-progress"]
    p = start.ctx.Process(target=_faulty_main, args=(argv, fault, str(root), str(log or os.devnull)))
    p.start()
    p.join(timeout)
    if p.is_alive():
        kill_tree(p.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        p.join()
        raise TimeoutError(f"the sweep did not end in {timeout} s (fault {fault})")
    with contextlib.suppress(ProcessLookupError):  # nothing of the group may outlive it
        os.killpg(p.pid, signal.SIGKILL)
    return p.exitcode


def reference(start: Starter, work: Path) -> tuple[Path, Path, list[Write]]:
    """The uninterrupted sweep (spec, root) and every write it made, in order."""
    work.mkdir(parents=True, exist_ok=True)
    spec = write_spec(work / "spec.yaml", base=WRITE_BASE, grid={"seed": [0, 1]})
    root = work / "ref"
    trace = work / "trace.tsv"
    code = run_sweep_with(start, spec, root, f"trace:{trace}")
    assert code == 0, f"the uninterrupted sweep exited with {code}"
    writes, seen = [], {}
    for line in trace.read_text().splitlines():
        phase, run, name = line.split("\t")
        seen[(phase, run, name)] = seen.get((phase, run, name), 0) + 1
        writes.append(Write(phase, run, name, seen[(phase, run, name)]))
    return spec, root, writes


def choose(writes: list[Write], n: int, seed: int) -> list[Write]:
    """At least ``n`` writes: the first write of each kind of file of a new run, in both phases
    (those of the sweep's first run), then one write drawn (seeded) from each of equal stretches of
    the rest of the sweep's life (the sweep's own files, later epochs, the second run)."""
    candidates = [w for w in writes if w.run != "errors"]
    first_run = next(w.run for w in candidates if w.run != "ROOT")
    chosen: list[Write] = []
    for name in NEW_RUN_FILES:
        for phase in ("open", "replace"):
            w = next((w for w in candidates if w.run == first_run and w.phase == phase and w.file.startswith(name)), None)
            if w is not None and w not in chosen:
                chosen.append(w)
    rest = [w for w in candidates if w not in chosen]
    rng = random.Random(seed)
    extra = max(0, min(len(rest), n - len(chosen)))
    for i in range(extra):  # one from each of ``extra`` equal stretches of the sweep's life
        stretch = rest[i * len(rest) // extra:(i + 1) * len(rest) // extra]
        chosen.append(rng.choice(stretch))
    return sorted(chosen, key=writes.index)


def _compare(ref: Path, root: Path) -> list[str]:
    """Differences of the sweep at ``root`` from the uninterrupted one at ``ref`` (see the module docstring)."""
    from conftest import assert_same_run

    from rnn_timescales.experiments.sweep import load_spec, plan

    differences = []
    for name in ("runs.csv", "sweep.yaml"):
        if (ref / name).read_bytes() != (root / name).read_bytes():
            differences.append(f"{name} differs")
    for p in plan(load_spec(ref)):
        try:
            assert (ref / p.name / "config.yaml").read_bytes() == (root / p.name / "config.yaml").read_bytes()
            assert_same_run(ref / p.name, root / p.name)
        except (AssertionError, OSError, ValueError, KeyError) as e:
            differences.append(f"{p.name}: differs ({str(e).splitlines()[0] if str(e) else type(e).__name__})")
    if (root / "errors").is_dir() and any((root / "errors").iterdir()):
        differences.append(f"errors/ holds {sorted(q.name for q in (root / 'errors').iterdir())}")
    _, problems = check_files(root)
    return differences + problems


def kill_campaign(start: Starter, work: Path, n: int = 20, seed: int = 32,
                  log: Callable[[str], None] = lambda line: None) -> Outcome:
    """SIGKILL of the driver's process group at ``n`` (or more) chosen writes, each in a fresh sweep,
    each followed by a re-run to completion: every run as in the uninterrupted sweep, no run that
    was finished before the kill touched again, nothing left to remove by hand."""
    t0 = time.monotonic()
    out = Outcome()
    spec, ref, writes = reference(start, work)
    for i, w in enumerate(choose(writes, n, seed)):
        root = work / f"kill{i}"
        marker = Path(f"{root}.killed")
        code = run_sweep_with(start, spec, root, w.spec("kill"))
        if code != -signal.SIGKILL or not marker.is_file():
            out.differences.append(f"{w}: the kill did not happen (exit code {code})")
            continue
        out.hits.append(str(w))
        log(f"killed at {w}")
        done = finished_runs(root) if (root / "sweep.yaml").is_file() and (root / "runs.csv").is_file() else {}
        code = run_sweep_with(start, spec, root)
        if code != 0:
            out.differences.append(f"{w}: the re-run exited with {code}")
            continue
        out.differences += [f"{w}: {name}: a run finished before the kill was trained again"
                            for name, files in done.items() if mtimes(root / name) != files]
        out.differences += [f"{w}: {d}" for d in _compare(ref, root)]
    out.seconds = time.monotonic() - t0
    return out


def enospc_campaign(start: Starter, work: Path, spec: Path, ref: Path, writes: list[Write],
                    log: Callable[[str], None] = lambda line: None) -> Outcome:
    """ENOSPC at the first write of each kind of file of a new run: the sweep ends within seconds
    (it waits for no lock), one line on stderr naming the file, exit code 1, no temporary file
    left, the run's lock released; the re-run (space freed) ends as the uninterrupted sweep."""
    from rnn_timescales.runs.rundir import STALE_AFTER_S, is_locked

    t0 = time.monotonic()
    out = Outcome()
    kinds = [w for w in choose(writes, 0, 0) if w.phase == "open"]
    for i, w in enumerate(kinds):
        root = work / f"full{i}"
        output = work / f"full{i}.log"
        t0 = time.monotonic()
        code = run_sweep_with(start, spec, root, w.spec("enospc"), log=output)
        elapsed = time.monotonic() - t0
        lines = [line for line in output.read_text().splitlines() if line.startswith("rnn-timescales:")]
        problems = []
        if elapsed > STALE_AFTER_S * 0.8:  # a lock left held would be waited for that long
            problems.append(f"it took {elapsed:.0f} s")
        if code != 1:
            problems.append(f"exit code {code}")
        if len(lines) != 1 or "No space left on device (ENOSPC)" not in lines[0] or w.file.split("_")[0] not in lines[0]:
            problems.append(f"stderr {lines}")
        left = [str(p.relative_to(root)) for p in root.rglob("*") if p.name.endswith(".tmp")]
        if left:
            problems.append(f"left {left}")
        if (root / w.run).is_dir() and is_locked(root / w.run):
            problems.append("its lock is still held")
        log(f"ENOSPC at {w}: {lines[0] if lines else 'no line'}")
        code = run_sweep_with(start, spec, root)
        if code != 0:
            problems.append(f"the re-run exited with {code}")
        else:
            problems += _compare(ref, root)
        out.hits.append(str(w))
        out.differences += [f"ENOSPC at {w}: {p}" for p in problems]
    out.seconds = time.monotonic() - t0
    return out

