"""Fault injection for long campaigns, shared by the tests (a small seeded subset) and
``benchmarks/fault_injection.py`` (the full set): SIGKILL at seeded random moments for the sweep driver and
its workers (local pool or Ray) and for the writing commands (``analyze``, ``robustness``,
``slow-points``, ``report``); a full disk (``ENOSPC``) injected into this process's writes.

Every kill is followed by the checks the issue asks for (issue 20): the re-run ends every run exactly
as the uninterrupted sweep did (metrics, checkpoints, training state, summary, analysis), no finished
run or analysis is redone (its files' modification times are unchanged), no temporary or half-written
file is left (no ``*.tmp``, ``.old-*``, ``.commit`` names; every CSV, JSON, YAML, safetensors and PNG
file parses), and a writing command leaves the old output or the whole new one, never a mix.

Processes are started from a forkserver that has imported the package once (as in
``tests/test_resume.py``), so each costs milliseconds rather than an interpreter start-up; only the
processes started here, and their descendants, are ever killed.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import hashlib
import json
import multiprocessing
import os
import random
import re
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd
import yaml
from safetensors import safe_open
from sweep_testing import TINY_ANALYSIS, write_spec

from rnn_timescales.cli import main
from rnn_timescales.experiments.sweep import ANALYSES, load_spec, plan, run_status

TEMPORARY_MARKS = (".tmp", ".old-", ".commit", ".pending")
# A sweep that takes a few seconds: three runs that save mid-epoch states, each analysed.
KILL_BASE = {"training": {"steps_per_epoch": 20, "max_epochs": 6, "state_every_s": 0.05},
             "curriculum": {"kind": "single"}}


@dataclass
class Tally:
    """What a fault-injection campaign did and found."""

    kills: int = 0
    runs_compared: int = 0
    files_checked: int = 0
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> Tally:
        self.kills += other.kills
        self.runs_compared += other.runs_compared
        self.files_checked += other.files_checked
        self.differences += other.differences
        self.notes += other.notes
        return self


# --- processes ----------------------------------------------------------------------------------
class Starter:
    """Runs ``rnn_timescales.cli.main(argv)`` in processes forked from a forkserver with the package
    imported (one torch thread each)."""

    def __init__(self) -> None:
        os.environ["OMP_NUM_THREADS"] = "1"
        self.ctx = multiprocessing.get_context("forkserver")
        self.ctx.set_forkserver_preload(["rnn_timescales.cli", "rnn_timescales.training.trainer",
                                         "rnn_timescales.experiments.sweep", "rnn_timescales.experiments.report",
                                         "rnn_timescales.studies.analyze", "torch._dynamo"])
        self.run(["--version"])  # starts the forkserver (and its imports) now, not in the first timed run

    def __call__(self, argv: list[Any]) -> multiprocessing.Process:
        p = self.ctx.Process(target=_quiet_main, args=([str(a) for a in argv],))
        p.start()
        return p

    def run(self, argv: list[Any], timeout: float = 300) -> int:
        p = self(argv)
        p.join(timeout)
        if p.is_alive():
            kill_tree(p.pid)
            p.join()
            raise TimeoutError(f"{argv[:2]} did not finish in {timeout} s")
        return p.exitcode


def _quiet_main(argv: list[str]) -> None:
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
        code = main(argv)
    os._exit(code)


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        for c in children(todo.pop()):
            out.append(c)
            todo.append(c)
    return out


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def workers_of(pid: int) -> list[int]:
    """The worker processes of a sweep driver: spawned pool workers (not multiprocessing's resource
    tracker) or Ray's task workers."""
    found = []
    for c in descendants(pid):
        line = cmdline(c)
        if ("spawn_main" in line and "resource_tracker" not in line) or "default_worker.py" in line:
            found.append(c)
    return found


def kill_tree(pid: int, sig: int = signal.SIGKILL) -> None:
    """Kill ``pid`` and every process it started (only those)."""
    for p in [pid, *descendants(pid)]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p, sig)


def wait_gone(pids: list[int], timeout: float = 60) -> bool:
    end = time.monotonic() + timeout
    while any(alive(p) for p in pids):
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


# --- what is left on disk -----------------------------------------------------------------------
def mtimes(run_dir: Path) -> dict[str, int]:
    return {str(p.relative_to(run_dir)): p.stat().st_mtime_ns for p in sorted(run_dir.rglob("*")) if p.is_file()}


def check_files(root: Path) -> tuple[int, list[str]]:
    """Every file under ``root`` complete and readable, and no temporary name anywhere: (files
    checked, problems)."""
    problems, n = [], 0
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if any(mark in part for part in rel.parts for mark in TEMPORARY_MARKS):
            problems.append(f"{rel}: a temporary file or directory was left behind")
            continue
        if not p.is_file():
            continue
        n += 1
        try:
            suffix = p.suffix
            if suffix == ".csv":
                pd.read_csv(p)
            elif suffix == ".json":
                json.loads(p.read_text())
            elif suffix == ".yaml":
                yaml.safe_load(p.read_text())
            elif suffix == ".safetensors":
                with safe_open(p, "pt") as f:
                    for k in f.keys():
                        f.get_tensor(k)
            elif suffix == ".png":
                data = p.read_bytes()
                if not (data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82")):
                    raise ValueError("not a complete PNG")
            elif suffix == ".html":
                if not p.read_text().rstrip().endswith("</html>"):
                    raise ValueError("not a complete HTML page")
            elif suffix == ".npz":
                import numpy as np

                with np.load(p) as z:
                    list(z.values())
        except Exception as e:  # anything unreadable is a finding
            problems.append(f"{rel}: unreadable ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})")
    return n, problems


def finished_runs(root: Path) -> dict[str, dict[str, int]]:
    """The runs of the sweep at ``root`` that are done with every analysis current: name -> mtimes."""
    spec = load_spec(root)
    out = {}
    for p in plan(spec):
        st = run_status(root, p)
        if st.status == "done" and all(ANALYSES[n].is_current(root / p.name, s) for n, s in spec.analyze.items()):
            out[p.name] = mtimes(root / p.name)
    return out


def _portable(table: pd.DataFrame) -> pd.DataFrame:
    """An analysis table with the checkpoints named by file (the sweeps compared lie in different places)."""
    if "checkpoint" in table:
        table = table.assign(checkpoint=[Path(str(c)).name for c in table["checkpoint"]])
    return table


def compare_runs(ref: Path, root: Path) -> tuple[int, list[str]]:
    """Every run of the sweep at ``root`` against the uninterrupted sweep at ``ref``: (runs compared,
    differences)."""
    from conftest import assert_same_run

    differences, n = [], 0
    for p in plan(load_spec(ref)):
        n += 1
        try:
            assert_same_run(ref / p.name, root / p.name)
            for table in ("summary.csv", "neurons.csv"):
                a, b = ref / p.name / "analysis" / table, root / p.name / "analysis" / table
                if a.is_file() or b.is_file():
                    pd.testing.assert_frame_equal(_portable(pd.read_csv(a)), _portable(pd.read_csv(b)))
        except (AssertionError, OSError, ValueError, KeyError) as e:
            differences.append(f"{p.name}: differs from the uninterrupted run ({str(e).splitlines()[0] if str(e) else type(e).__name__})")
    return n, differences


# --- the sweep driver and its workers -----------------------------------------------------------
def sweep_campaign(work: Path, start: Starter, targets: list[str], seed: int, backend: str = "local",
                   points: int = 3, workers: int = 2, per_round: int = 2,
                   log: Callable[[str], None] = lambda line: None) -> Tally:
    """Run a tiny sweep of ``points`` runs uninterrupted; then, in rounds of ``per_round`` kills, run
    it again in a fresh directory with a SIGKILL of each of ``targets`` in turn ("driver" or
    "worker") at a seeded random moment of what is left to do, each kill followed by a re-run; at
    the end of a round run it to the end and compare everything with the uninterrupted sweep."""
    tally = Tally()
    work.mkdir(parents=True, exist_ok=True)
    spec = write_spec(work / "spec.yaml", base=KILL_BASE, grid={"seed": list(range(points))}, analyze=TINY_ANALYSIS)
    common = ["--workers", str(workers), "--no-progress"] + (["--backend", "ray"] if backend == "ray" else [])
    ref = work / "ref"
    t0 = time.monotonic()
    code = start.run(["sweep", spec, "--out", ref, *common])
    duration = time.monotonic() - t0
    if code != 0:
        tally.differences.append(f"the uninterrupted sweep exited with {code}")
        return tally
    rng = random.Random(seed)
    for first in range(0, len(targets), per_round):
        root = work / f"killed{first // per_round}"
        tally.add(_sweep_round(root, spec, common, ref, duration, targets[first:first + per_round], points, rng,
                               start, backend, log))
    return tally


def _sweep_round(root: Path, spec: Path, common: list[str], ref: Path, duration: float, targets: list[str],
                 points: int, rng: random.Random, start: Starter, backend: str,
                 log: Callable[[str], None]) -> Tally:
    tally = Tally()
    argv = ["sweep", spec, "--out", root, *common]
    finished: dict[str, dict[str, int]] = {}
    for target in targets:
        left = 1 - len(finished) / points  # the share of the sweep still to do (start-up aside)
        driver = start(argv)
        delay = rng.uniform(0.05, 0.9) * duration * max(left, 0.4)
        end = time.monotonic() + delay
        while time.monotonic() < end and driver.is_alive():
            time.sleep(0.01)
        if not driver.is_alive():
            tally.notes.append(f"{target} kill after {delay:.2f} s: the sweep had already ended")
            continue
        pool = workers_of(driver.pid)
        tree = descendants(driver.pid)
        if target == "worker" and pool:
            victim = rng.choice(pool)
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
            tally.kills += 1
            log(f"killed a worker (pid {victim}) after {delay:.2f} s")
            driver.join(300)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(driver.pid, signal.SIGKILL)
            driver.join()
            tally.kills += 1
            log(f"killed the driver after {delay:.2f} s ({len(pool)} workers)")
            if backend == "ray":  # the whole job ends with its driver (as under a scheduler)
                for p in tree:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(p, signal.SIGKILL)
            if not wait_gone(pool):
                tally.differences.append(f"workers of a killed driver outlived it: {[p for p in pool if alive(p)]}")
                for p in pool:
                    kill_tree(p)
        if (root / "sweep.yaml").is_file():
            for name, files in finished.items():  # nothing finished was touched by the killed work
                if mtimes(root / name) != files:
                    tally.differences.append(f"{name}: a finished run was redone or changed")
            finished.update({k: v for k, v in finished_runs(root).items() if k not in finished})
    code = start.run(argv)
    if code != 0:
        tally.differences.append(f"the re-run exited with {code}")
    for name, files in finished.items():
        if mtimes(root / name) != files:
            tally.differences.append(f"{name}: a finished run was redone or changed")
    n, diffs = compare_runs(ref, root)
    tally.runs_compared += n
    tally.differences += diffs
    n, problems = check_files(root)
    tally.files_checked += n
    tally.differences += problems
    return tally


# --- the writing commands -----------------------------------------------------------------------
def _snapshot(out: Path) -> dict[str, Any]:
    """What an output directory holds: file -> its table (CSV), its data (JSON) or its SHA-256."""
    from rnn_timescales.io import settle

    settle(out)  # what every reader sees (a robustness write killed after its commit)
    snap: dict[str, Any] = {}
    for p in sorted(out.rglob("*")):
        parts = p.relative_to(out).parts
        # retraining runs are not part of the output; a killed writer's temporary files are checked
        # (and must be gone) after the re-run
        if not p.is_file() or parts[0] == "runs" or any(m in q for q in parts for m in TEMPORARY_MARKS):
            continue
        rel = str(p.relative_to(out))
        if p.suffix == ".csv":
            snap[rel] = pd.read_csv(p)
        elif p.suffix == ".json":
            snap[rel] = json.loads(p.read_text())
        elif p.suffix == ".html":  # the page names the time it was made: its words, without digits
            snap[rel] = hashlib.sha256(re.sub(r"\d", "", p.read_text()).encode()).hexdigest()
        elif p.suffix == ".png":  # figures are compared through the tables they draw
            snap[rel] = "present"
        else:
            snap[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return snap


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, pd.DataFrame) or isinstance(y, pd.DataFrame):
            try:
                pd.testing.assert_frame_equal(x, y)
            except (AssertionError, TypeError):
                return False
        elif x != y:
            return False
    return True


def writing_commands(run_dir: Path, sweep_root: Path) -> dict[str, tuple[Path, list[Any], list[Any]]]:
    """Each writing command: (its output directory, its arguments for output A, for output B)."""
    ckpt = sorted((run_dir / "checkpoints").glob("rnn_*.safetensors"))[-1].stem
    analyze = ["analyze", run_dir, "--trials", "1", "--steps", "300", "--max-lag", "40", "--fit-lag", "20",
               "--no-progress"]
    slow = ["slow-points", run_dir, "--initial", "24", "--trials", "2", "--steps", "60", "--burn-in", "10",
            "--no-progress"]
    robust = ["robustness", run_dir, "--kind", "perturb-w", "--kind", "ablation", "--ablate-count", "4", "--repeats", "1",
              "--length", "60",
              "--warmup", "20", "--w-epsilons", "0.1", "0.5", "--no-progress"]
    return {
        "analyze": (run_dir / "analysis", analyze + ["--seed", "0"], analyze + ["--seed", "1"]),
        "slow-points": (run_dir / "slow_points" / ckpt, slow + ["--seed", "0"], slow + ["--seed", "1"]),
        "robustness": (run_dir / "robustness", robust + ["--seed", "0"], robust + ["--seed", "1"]),
        "report": (sweep_root / "report", ["report", sweep_root, "--ci", "sem"], ["report", sweep_root, "--ci", "bootstrap"]),
    }


def _temporaries(out: Path) -> list[Path]:
    where = [out.parent, out] if out.is_dir() else [out.parent]
    return [p for d in where if d.is_dir() for p in d.iterdir() if p.name.startswith(".") and
            any(m in p.name for m in TEMPORARY_MARKS)]


def _run_measured(start: Starter, argv: list[Any], out: Path) -> tuple[int, float, float]:
    """Run a writing command: (exit code, seconds until its temporary output appeared, seconds in all)."""
    t0 = time.monotonic()
    p = start(argv)
    appeared = None
    while p.is_alive():
        if appeared is None and _temporaries(out):
            appeared = time.monotonic() - t0
        time.sleep(0.002)
    total = time.monotonic() - t0
    return p.exitcode, appeared if appeared is not None else total, total


def command_campaign(run_dir: Path, runs_root: Path, start: Starter, kills_each: int, seed: int,
                     commands: list[str] | None = None, log: Callable[[str], None] = lambda line: None) -> Tally:
    """For each writing command: write output A (measuring how long its write takes); then
    ``kills_each`` times, run the command for the other output (B, A, ...), SIGKILL it at a seeded
    random moment of its writing, and run it again to the end. After each kill the output must be the
    previous one or the whole new one (as the re-run writes it); the re-run leaves nothing behind."""
    tally = Tally()
    rng = random.Random(seed)
    for name, (out, args_a, args_b) in writing_commands(run_dir, runs_root).items():
        if commands is not None and name not in commands:
            continue
        code, appeared, total = _run_measured(start, args_a, out)
        if code != 0:
            tally.differences.append(f"{name}: output A failed")
            continue
        write_s = max(total - appeared, 0.01)
        previous, args, new = _snapshot(out), {"A": args_a, "B": args_b}, "B"
        for _ in range(kills_each):
            p = start(args[new])
            t0 = time.monotonic()
            # kill while it writes: after its temporary output appears (else at a random moment)
            delay = rng.uniform(0.0, 1.1 * write_s)
            while p.is_alive() and not _temporaries(out) and time.monotonic() - t0 < 2 * total + 5:
                time.sleep(0.002)
            time.sleep(delay)
            if p.is_alive():
                kill_tree(p.pid)
                tally.kills += 1
                log(f"killed {name} {delay:.3f} s into its writing")
            else:
                tally.notes.append(f"{name}: finished before its kill")
            p.join()
            seen = _snapshot(out)
            if start.run(args[new]) != 0:
                tally.differences.append(f"{name}: the re-run failed")
            complete = _snapshot(out)
            if _same(previous, complete):
                tally.notes.append(f"{name}: the old and the new output are the same; the check cannot tell them apart")
            if not (_same(seen, previous) or _same(seen, complete)):
                tally.differences.append(f"{name}: after a kill the output is neither the old nor the whole new one")
            left = _temporaries(out)
            if left:
                tally.differences.append(f"{name}: left {[q.name for q in left]}")
            n, problems = check_files(out)
            tally.files_checked += n
            tally.differences += [f"{name}: {q}" for q in problems]
            tally.runs_compared += 1
            previous, new = complete, "A" if new == "B" else "B"
    return tally


def trained_runs(work: Path, start: Starter) -> Path:
    """A directory holding one small trained run (``RUNS/run``), for the writing commands."""
    runs = work / "runs"
    argv = ["train", "--no-progress", "--preset", "paper", "--out", runs / "run", "--max-epochs", "6",
            "--curriculum", "single"]
    for key, value in {"model.hidden_size": 16, "model.n_heads": 8, "training.batch_size": 16,
                       "training.steps_per_epoch": 20, "training.eval_batches": 1, "curriculum.threshold": 0.6,
                       "device": "cpu"}.items():
        argv += ["--set", f"{key}={value}"]
    code = start.run(argv)
    assert code == 0, f"the training for the writing commands exited with {code}"
    return runs


# --- a full disk --------------------------------------------------------------------------------
class DiskFull:
    """Writes to files under ``under`` fail with ENOSPC once ``after`` writes have gone through:
    ``os.write`` (the atomic writers) and files opened for writing with ``open`` (tables, figures)."""

    def __init__(self, under: Path, after: int) -> None:
        self.under = str(Path(under).resolve())
        self.after = after
        self.writes = 0
        self.failed: list[str] = []

    def _hit(self, path: str) -> None:
        if not path.startswith(self.under):
            return
        self.writes += 1
        if self.writes > self.after:
            self.failed.append(path)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    @contextlib.contextmanager
    def active(self, monkeypatch: Any) -> Iterator[DiskFull]:
        real_write, real_open = os.write, builtins.open

        def write(fd: int, data: Any) -> int:
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                target = ""
            self._hit(target)
            return real_write(fd, data)

        def open_(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            if isinstance(file, (str, os.PathLike)) and any(m in mode for m in "wax+"):
                self._hit(str(Path(os.fspath(file)).resolve()))
            return real_open(file, mode, *args, **kwargs)

        monkeypatch.setattr(os, "write", write)
        monkeypatch.setattr(builtins, "open", open_)
        try:
            yield self
        finally:
            monkeypatch.setattr(os, "write", real_write)
            monkeypatch.setattr(builtins, "open", real_open)
