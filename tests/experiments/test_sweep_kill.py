"""A sweep driver killed with SIGKILL mid-way: re-running it completes the remaining runs, exactly,
without touching the finished ones. A sweep that asks for more extends its finished runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sweep_testing import train_directly, write_spec
from conftest import assert_same_run

from rnn_timescales.cli import main
from rnn_timescales.experiments.sweep import load_spec, plan, read_summary, run_sweep, sweep_status


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc; empty where there is none)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _mtimes(run_dir):
    return {p.relative_to(run_dir): p.stat().st_mtime_ns for p in sorted(run_dir.rglob("*")) if p.is_file()}


def test_a_killed_driver_is_resumed_without_redoing_finished_runs(tmp_path):
    spec_file = write_spec(tmp_path / "kill.yaml",
                           base={"training": {"steps_per_epoch": 20, "max_epochs": 10, "state_every_s": 0.05},
                                 "curriculum": {"kind": "single"}},
                           grid={"seed": list(range(4))})
    root = tmp_path / "sweep"
    argv = ["sweep", str(spec_file), "--out", str(root), "--workers", "2", "--no-progress"]
    driver = subprocess.Popen([sys.executable, "-m", "rnn_timescales.cli", *argv], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
    points = None
    deadline = time.monotonic() + 120
    while True:
        assert driver.poll() is None, "the sweep ended before it could be killed"
        assert time.monotonic() < deadline, "no run finished in time"
        if (root / "sweep.yaml").is_file():
            points = points or plan(load_spec(root))
            done = [p.name for p in points if (read_summary(root / p.name) or {}).get("stop_reason") == "max_epochs"]
            if done:
                break
        time.sleep(0.05)
    workers = _children(driver.pid)
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    finished = {name: _mtimes(root / name) for name in done}
    unfinished = [p for p in points if p.name not in finished]
    assert unfinished, "every run finished before the kill"

    assert main(argv) == 0  # waits for the orphaned workers to save their state, then resumes
    end = time.monotonic() + 30
    while any(_alive(w) for w in workers) and time.monotonic() < end:
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers), "the killed driver's workers outlived it"
    assert {name: _mtimes(root / name) for name in finished} == finished
    assert all(s.status == "done" for s in sweep_status(root))
    for p in unfinished:  # resumed (or restarted) runs end exactly as uninterrupted ones
        assert_same_run(train_directly(p.config, tmp_path / "direct" / p.name), root / p.name)


def test_finished_runs_are_extended_exactly_when_the_sweep_asks_for_more(tmp_path):
    root = tmp_path / "sweep"
    spec = load_spec(write_spec(tmp_path / "two.yaml", grid={"curriculum.kind": ["single", "multi"]}))
    assert run_sweep(spec, root, workers=2, progress=False).counts["done"] == 2
    # asking for more epochs extends the finished runs from their saved state, exactly
    longer = load_spec(root).with_overrides(["training.max_epochs=5"])
    result = run_sweep(longer, root, workers=2, progress=False)
    assert result.ran == 2 and result.counts["done"] == 2
    for p in plan(longer):
        assert read_summary(root / p.name)["epochs"] == 5
        assert_same_run(train_directly(p.config, tmp_path / "direct5" / p.name), root / p.name, same_config=False)

