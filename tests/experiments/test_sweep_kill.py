"""A sweep driver killed with SIGKILL mid-way: re-running it completes the remaining runs, exactly,
without touching the finished ones."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sweep_testing import train_directly, write_spec
from test_resume import assert_same_run

from rnn_timescales.cli import main
from rnn_timescales.experiments.sweep import load_spec, plan, read_summary, sweep_status


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
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    time.sleep(0.2)
    finished = {name: _mtimes(root / name) for name in done}
    unfinished = [p for p in points if p.name not in finished]
    assert unfinished, "every run finished before the kill"

    assert main(argv) == 0  # waits for the orphaned workers to save their state, then resumes
    assert {name: _mtimes(root / name) for name in finished} == finished
    assert all(s.status == "done" for s in sweep_status(root))
    for p in unfinished:  # resumed (or restarted) runs end exactly as uninterrupted ones
        assert_same_run(train_directly(p.config, tmp_path / "direct" / p.name), root / p.name)
