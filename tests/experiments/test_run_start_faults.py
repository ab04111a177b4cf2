"""Faults while a run starts (issue 32): a failure while the run directory is opened (a full disk, a
missing permission) releases its lock and records the run as failed; a lock whose holder is not
training the run is never waited for; a run directory left holding only a lock and the temporary
files of an interrupted first write is cleaned and started again, in a sweep and in ``train --out``."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest
from faults import DiskFull
from sweep_testing import TINY_BASE, write_spec
from conftest import assert_same_run

from rnn_timescales.cli import main
from rnn_timescales.config import build_config
from rnn_timescales.errors import WriteError
from rnn_timescales.experiments.sweep import (
    RunTask,
    SweepSpec,
    execute,
    plan,
    prepare_sweep,
    read_failure,
    run_status,
    run_sweep,
)
from rnn_timescales.runs.rundir import LOCK_NAME, STALE_AFTER_S, RunDirectory, is_locked, lock_holder
from rnn_timescales.training.trainer import Trainer, train

SETTINGS = ["model.hidden_size=16", "model.n_heads=8", "training.batch_size=16", "training.steps_per_epoch=5",
            "training.eval_batches=1", "curriculum.threshold=0.6", "device=cpu", "training.max_epochs=3", "seed=1"]


@pytest.fixture(autouse=True)
def one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Refused(DiskFull):
    """:class:`DiskFull` with another errno (EACCES: a permission the file system refuses)."""

    def __init__(self, under: Path, after: int, code: int) -> None:
        super().__init__(under, after)
        self.code = code

    def _hit(self, path: str) -> None:
        try:
            super()._hit(path)
        except OSError as e:
            raise OSError(self.code, os.strerror(self.code), e.filename) from None


# --- the lock is released however the start fails ---------------------------------------------------
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES])
@pytest.mark.parametrize("after", [0, 1])  # the refused write: config.yaml (0), the first checkpoint (1)
def test_a_failure_while_a_run_starts_releases_its_lock(tmp_path, monkeypatch, code, after):
    run = tmp_path / "run"
    trainer = Trainer(build_config("paper", overrides=SETTINGS), run, progress=False)
    with Refused(run, after=after, code=code).active(monkeypatch) as disk, pytest.raises(WriteError) as info:
        trainer.run()
    assert disk.failed and "\n" not in str(info.value) and os.strerror(code) in str(info.value)
    assert (run / LOCK_NAME).is_file() and not is_locked(run) and lock_holder(run) is None
    assert not [p for p in run.rglob("*") if p.name.endswith(".tmp")]
    # nothing is left in the way: the same command trains it (a config.yaml without a state restarts)
    assert main(["train", "--no-progress", "--preset", "paper", "--out", str(run),
                 *[a for s in SETTINGS for a in ("--set", s)]] if after == 0 else
                ["train", "--resume", str(run), "--no-progress"]) == 0
    assert_same_run(train(build_config("paper", overrides=SETTINGS), tmp_path / "ref", progress=False).run_dir, run)


def test_a_failure_while_a_sweep_run_starts_is_recorded_and_its_lock_released(tmp_path, monkeypatch):
    spec = SweepSpec.from_mapping({"base": TINY_BASE, "grid": {"seed": [0]}})
    root, points = prepare_sweep(spec, tmp_path / "sweep")
    task = RunTask(points[0].name, str(root), points[0].config.to_dict(), True, {}, ())
    with DiskFull(root / points[0].name, after=0).active(monkeypatch):
        outcome = execute(task)
    assert outcome["status"] == "failed" and "ENOSPC" in outcome["error"] and "\n" not in outcome["error"]
    assert not is_locked(root / points[0].name)
    status = run_status(root, points[0])
    assert status.status == "failed" and "No space left on device (ENOSPC)" in status.detail
    assert read_failure(root, points[0].name)["phase"] == "train"
    assert execute(task)["status"] == "done"  # space freed: the retry trains it


# --- a lock whose holder is not training the run ------------------------------------------------------
def _held(run: Path, age_s: float = 0.0, pid: int | None = None) -> RunDirectory:
    """``run``'s lock held by this process, its heartbeat ``age_s`` seconds old (and naming ``pid``)."""
    run.mkdir(parents=True, exist_ok=True)
    holder = RunDirectory(run)
    holder.lock()
    if pid is not None:
        (run / LOCK_NAME).write_text(f"pid {pid} on {os.uname().nodename}\n")
    then = time.time() - age_s
    os.utime(run / LOCK_NAME, (then, then))
    return holder


def _dead_pid() -> int:
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_lock_is_working_only_while_its_holder_lives_and_beats(tmp_path):
    fresh = _held(tmp_path / "fresh")
    assert lock_holder(tmp_path / "fresh").working and lock_holder(tmp_path / "fresh").pid == os.getpid()
    old = _held(tmp_path / "old", age_s=STALE_AFTER_S + 5)
    stale = lock_holder(tmp_path / "old")
    assert not stale.working and f"no heartbeat for {STALE_AFTER_S + 5:.0f} s" in stale.describe()
    gone = _held(tmp_path / "gone", pid=_dead_pid())
    assert not lock_holder(tmp_path / "gone").working and "which has ended" in lock_holder(tmp_path / "gone").describe()
    with old.heartbeat(every_s=0.05):  # the trainer's heartbeat makes it current again
        time.sleep(0.3)
        assert lock_holder(tmp_path / "old").working
    # a lock taken by a version without heartbeats names nobody: held is working (a campaign stage
    # pinned at an older revision is trained, not failed, whatever its lock file's age)
    legacy = _held(tmp_path / "legacy", age_s=STALE_AFTER_S + 3600)
    (tmp_path / "legacy" / LOCK_NAME).write_text("")
    then = time.time() - STALE_AFTER_S - 3600
    os.utime(tmp_path / "legacy" / LOCK_NAME, (then, then))
    assert lock_holder(tmp_path / "legacy").pid is None and lock_holder(tmp_path / "legacy").working
    for h in (fresh, old, gone, legacy):
        h.release()
    assert lock_holder(tmp_path / "fresh") is None


def test_the_driver_does_not_wait_for_a_lock_nobody_trains_under(tmp_path, capsys):
    spec = SweepSpec.from_mapping({"base": TINY_BASE, "grid": {"seed": [0, 1]}})
    root, points = prepare_sweep(spec, tmp_path / "sweep")
    leaked = _held(root / points[0].name, age_s=STALE_AFTER_S + 60)  # e.g. an idle worker's leaked descriptor
    lines: list[str] = []
    try:
        t0 = time.monotonic()
        result = run_sweep(spec, root, workers=1, progress=False, log=lines.append, poll_s=0.2)
        assert time.monotonic() - t0 < 120
        assert result.counts == {"done": 1, "running": 0, "failed": 1, "pending": 0}
        failed = run_status(root, points[0])
        assert failed.status == "failed" and "which is not training it (no heartbeat for" in failed.detail
        assert "not training it" in read_failure(root, points[0].name)["error"]
        assert len([line for line in lines if line.startswith(f"{points[0].name}: failed")]) == 1
        capsys.readouterr()
        assert main(["sweep", "status", str(root)]) == 0
        assert "failed   train: its lock" in capsys.readouterr().out
    finally:
        leaked.release()
    assert run_sweep(spec, root, workers=1, progress=False).counts["done"] == 2  # released: retried and trained


# --- a run directory that never got past its first write ----------------------------------------------
def _interrupted_start(run: Path) -> None:
    """What a run killed while it wrote its config.yaml leaves: its lock and a temporary file."""
    run.mkdir(parents=True)
    (run / LOCK_NAME).write_text("pid 1 on elsewhere\n")
    (run / ".config.yaml.k2x9q1.tmp").write_text("preset: cus")


def test_train_out_on_an_interrupted_start_cleans_it_and_starts_again(tmp_path, capsys):
    run = tmp_path / "run"
    _interrupted_start(run)
    capsys.readouterr()
    assert main(["train", "--no-progress", "--preset", "paper", "--out", str(run),
                 *[a for s in SETTINGS for a in ("--set", s)]]) == 0
    said = [line for line in capsys.readouterr().out.splitlines() if "interrupted" in line]
    assert said == [f"rnn-timescales: {str(run)!r} held only the lock and the temporary files of a start that was "
                    "interrupted (.config.yaml.k2x9q1.tmp); removed them, starting the run again"]
    assert not (run / ".config.yaml.k2x9q1.tmp").exists()
    assert_same_run(train(build_config("paper", overrides=SETTINGS), tmp_path / "ref", progress=False).run_dir, run)


def test_a_sweep_run_on_an_interrupted_start_is_pending_then_trained(tmp_path, capsys):
    spec_file = write_spec(tmp_path / "spec.yaml", grid={"seed": [0, 1]})
    root = tmp_path / "sweep"
    points = plan(SweepSpec.from_mapping({"base": TINY_BASE, "grid": {"seed": [0, 1]}}))
    prepare_sweep(SweepSpec.from_mapping({"base": TINY_BASE, "grid": {"seed": [0, 1]}}), root)
    _interrupted_start(root / points[1].name)
    assert run_status(root, points[1]).detail == "not started"
    capsys.readouterr()
    assert main(["sweep", str(spec_file), "--out", str(root), "--workers", "1", "--no-progress"]) == 0
    assert (root / points[1].name / "summary.json").is_file()
    assert not list(root.rglob("*.tmp"))
