"""Faults a long campaign meets (issue 20): kills at seeded random moments of the sweep driver, its
workers and the writing commands; a full disk; two drivers on one sweep; a hung worker; a run
directory edited by hand. The full fault-injection set is ``benchmarks/fault_injection.py``; here a small
seeded subset of it (see ``faults.py``)."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest
import yaml
from faults import DiskFull, Starter, command_campaign, kill_tree, mtimes, sweep_campaign, trained_runs
from sweep_testing import write_spec
from conftest import assert_refused, assert_same_run

from rnn_timescales.cli import main
from rnn_timescales.config import build_config
from rnn_timescales.errors import WriteError
from rnn_timescales.backends import LocalPool
from rnn_timescales.errors import RunTimedOut
from rnn_timescales.experiments.sweep import load_spec, read_failure, sweep_status
from rnn_timescales.io import atomic_write_text, settle, write_files_together
from rnn_timescales.runs.state import load_latest_state
from rnn_timescales.training.trainer import train


@pytest.fixture(scope="module")
def start():
    old = os.environ.get("OMP_NUM_THREADS")
    yield Starter()
    if old is None:
        os.environ.pop("OMP_NUM_THREADS", None)
    else:
        os.environ["OMP_NUM_THREADS"] = old


def _report(tally) -> str:
    return f"kills {tally.kills}, runs {tally.runs_compared}, files {tally.files_checked}: {tally.differences}"


# --- kills ----------------------------------------------------------------------------------------
def test_a_sweep_killed_at_seeded_moments_ends_as_the_uninterrupted_one(tmp_path, start):
    """The driver, then a worker, each killed with SIGKILL at a seeded moment: every run ends exactly
    as in the uninterrupted sweep, nothing finished is redone, nothing is left half-written."""
    tally = sweep_campaign(tmp_path, start, ["driver", "worker"], seed=20, points=2, workers=1)
    assert tally.kills >= 1, tally.notes
    assert tally.runs_compared == 2 and tally.files_checked > 20
    assert not tally.differences, _report(tally)


def test_writing_commands_killed_while_writing_leave_the_old_or_the_whole_new_output(tmp_path, start):
    runs = trained_runs(tmp_path, start)
    tally = command_campaign(runs / "run", runs, start, kills_each=1, seed=21)
    assert tally.kills >= 3, tally.notes
    assert not tally.differences, _report(tally)


def test_a_group_of_files_is_replaced_whole_wherever_its_writer_stops(tmp_path, monkeypatch):
    """write_files_together (robustness tables) stopped at each of its renames, as by SIGKILL: what
    a reader sees (after io.settle, which every reader calls) is the old group or the new one."""
    from rnn_timescales import io as io_module

    old = {"a.csv": b"x\n1\n", "b.csv": b"y\n1\n", "summary.json": b'{"v": 1}'}
    new = {"a.csv": b"x\n2\n", "b.csv": b"y\n2\n", "summary.json": b'{"v": 2}'}
    real_replace, real_rename = os.replace, os.rename
    for stop_at in range(1, 12):
        out = tmp_path / f"out{stop_at}"
        write_files_together(out, old)
        calls = {"n": 0}

        class Killed(BaseException):
            pass

        def counted(real):
            def op(a, b):
                calls["n"] += 1
                if calls["n"] == stop_at:
                    raise Killed
                return real(a, b)
            return op

        monkeypatch.setattr(io_module.os, "replace", counted(real_replace))
        monkeypatch.setattr(io_module.os, "rename", counted(real_rename))
        try:
            write_files_together(out, new)
            stopped = False
        except Killed:
            stopped = True
        monkeypatch.setattr(io_module.os, "replace", real_replace)
        monkeypatch.setattr(io_module.os, "rename", real_rename)
        settle(out)
        seen = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
        assert seen == (old if stopped and stop_at <= 4 else new), (stop_at, seen)
        if not stopped:
            break
    assert stop_at == 8  # it stopped at each rename of the write (3 staged files, the commit, 3 moves)


# --- a full disk ----------------------------------------------------------------------------------
def test_a_full_disk_leaves_the_old_file_and_names_the_path(tmp_path, monkeypatch):
    target = tmp_path / "table.csv"
    atomic_write_text(target, "old\n")
    with DiskFull(tmp_path, after=0).active(monkeypatch), pytest.raises(WriteError) as info:
        atomic_write_text(target, "new\n" * 1000)
    message = str(info.value)
    assert "\n" not in message and str(target) in message and "No space left on device (ENOSPC)" in message
    assert info.value.errno == errno.ENOSPC
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["table.csv"]


SETTINGS = ["model.hidden_size=16", "model.n_heads=8", "training.batch_size=16", "training.steps_per_epoch=5",
            "training.eval_batches=1", "curriculum.threshold=0.6", "curriculum.kind=single", "device=cpu",
            "training.max_epochs=5", "seed=3"]


@pytest.mark.parametrize("after", [9, 16])  # the write refused: a checkpoint (9), a training state (16)
def test_a_full_disk_stops_training_with_one_line_and_the_resumed_run_is_identical(tmp_path, monkeypatch, capsys,
                                                                                    after):
    import torch

    torch.set_num_threads(1)
    train(build_config("paper", overrides=SETTINGS), tmp_path / "ref", progress=False)
    run = tmp_path / "run"
    argv = ["train", "--no-progress", "--preset", "paper", "--out", str(run)]
    for s in SETTINGS:
        argv += ["--set", s]
    capsys.readouterr()
    with DiskFull(run, after=after).active(monkeypatch) as disk:
        assert main(argv) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("rnn-timescales: error")]
    # one line (after the run's header line), naming the file the full disk refused
    assert len(errors) == 1 and errors[0].startswith(f"rnn-timescales: error: could not write {str(run)!r}"[:-1])
    assert "No space left on device (ENOSPC)" in errors[0] and disk.failed
    written = errors[0].split("'")[1]
    assert Path(disk.failed[0]).name.startswith(f".{Path(written).name}.")
    assert not [p for p in run.rglob("*") if p.name.endswith(".tmp")]  # the temporary file is gone
    state, _, _ = load_latest_state(run)  # the previous state is loadable
    assert state is not None
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    assert_same_run(tmp_path / "ref", run)


def test_a_full_disk_during_an_analysis_keeps_the_previous_analysis(tmp_path, monkeypatch, capsys):
    import torch

    torch.set_num_threads(1)
    run = train(build_config("paper", overrides=SETTINGS), tmp_path / "run", progress=False).run_dir
    argv = ["analyze", str(run), "--trials", "1", "--steps", "300", "--max-lag", "40", "--fit-lag", "20", "--no-progress"]
    assert main(argv) == 0
    before = {p: p.read_bytes() for p in (run / "analysis").rglob("*") if p.is_file()}
    capsys.readouterr()
    with DiskFull(run, after=2).active(monkeypatch):
        assert main(argv + ["--seed", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "could not write" in err[0] and "ENOSPC" in err[0] and str(run) in err[0]
    assert {p: p.read_bytes() for p in (run / "analysis").rglob("*") if p.is_file()} == before
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]


# --- two drivers ----------------------------------------------------------------------------------
def test_a_second_driver_on_the_same_sweep_is_refused_in_one_line(tmp_path, start, capsys):
    spec = write_spec(tmp_path / "spec.yaml", base={"training": {"steps_per_epoch": 20, "max_epochs": 8}},
                      grid={"seed": [0, 1]})
    root = tmp_path / "sweep"
    argv = ["sweep", str(spec), "--out", str(root), "--workers", "1", "--no-progress"]
    first = start(argv)
    try:
        deadline = time.monotonic() + 120
        while not (root / "runs.csv").is_file():
            assert first.is_alive() and time.monotonic() < deadline, "the first driver did not start"
            time.sleep(0.02)
        before = {p: p.stat().st_mtime_ns for p in root.iterdir() if p.is_file()}
        capsys.readouterr()
        for second in (argv, ["sweep", "analyze", str(root), "--no-progress"]):
            line = assert_refused(second, capsys)
            assert f"sweep directory {str(root)!r} is being run by another driver (pid " in line
        assert {p: p.stat().st_mtime_ns for p in root.iterdir() if p.is_file()} == before  # nothing written
        first.join(300)
        assert first.exitcode == 0
    finally:
        if first.is_alive():
            kill_tree(first.pid)
    done = {p.name: mtimes(p) for p in root.iterdir() if p.is_dir() and p.name.startswith("seed")}
    assert main(argv) == 0  # once the first has finished, the second runs (and redoes nothing)
    assert {name: mtimes(root / name) for name in done} == done


# --- a hung worker --------------------------------------------------------------------------------
def test_a_hung_task_is_killed_at_its_time_limit_and_the_pool_goes_on():
    from hanging import hang_on_three

    # 8 s: the clock of a task runs from its submission until its worker reports the start, and a
    # spawned worker can take seconds to start on a loaded machine
    with LocalPool(2, timeout_s=8.0) as pool:
        results = dict(pool.run(hang_on_three, [1, 3, 2, 4]))
        assert isinstance(results[3], RunTimedOut) and "8 s" in str(results[3])
        assert {k: v for k, v in results.items() if k != 3} == {1: 2, 2: 4, 4: 8}
        assert dict(pool.run(hang_on_three, [5])) == {5: 10}  # a fresh pool replaced the broken one


def test_a_run_past_the_sweep_run_timeout_is_recorded_as_failed_and_the_sweep_goes_on(tmp_path, capsys):
    spec = write_spec(tmp_path / "spec.yaml", runs=[{"seed": 0}, {"seed": 1, "training.steps_per_epoch": 10**7}],
                      resources={"timeout_s": 12})
    root = tmp_path / "sweep"
    assert main(["sweep", str(spec), "--out", str(root), "--workers", "1", "--no-progress"]) == 1
    statuses = {s.name: s for s in sweep_status(root)}
    hung = next(n for n in statuses if "1e+07" in n or "10000000" in n)
    assert statuses[hung].status == "failed" and "RunTimedOut: no result after 12 s" in statuses[hung].detail
    assert read_failure(root, hung)["phase"] == "train"
    assert [s.status for n, s in statuses.items() if n != hung] == ["done"]
    assert load_spec(root).timeout_s == 12
    assert "failed" in capsys.readouterr().out


def test_run_timeout_is_checked(tmp_path, capsys):
    spec = write_spec(tmp_path / "spec.yaml", grid={"seed": [0]}, resources={"timeout_s": -1})
    assert "resources.timeout_s must be a positive number of seconds (or null), got -1" in assert_refused(
        ["sweep", spec, "--out", tmp_path / "new", "--no-progress"], capsys, tmp_path)
    assert assert_refused(["sweep", spec, "--out", tmp_path / "new", "--run-timeout", "0"], capsys, tmp_path) == (
        "rnn-timescales: error: rnn-timescales sweep: argument --run-timeout: expected a positive number, got '0' "
        "(see --help)")


DOCS = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


def test_every_fault_and_its_message_is_in_the_docs():
    text = DOCS.read_text().split("## Faults of long work")[1].split("\n## ")[0]
    ids = ["disk-full", "second-driver", "run-edited", "run-timeout-recorded", "bad-run-timeout", "zero-run-timeout"]
    assert not [i for i in ids if f"| `{i}` |" not in text]
    for fault in ("killed", "disk fills up", "two drivers", "hangs", "edited by hand"):
        assert fault in text, fault


# --- a run directory edited by hand ---------------------------------------------------------------
def test_a_run_directory_edited_by_hand_is_refused_in_one_line(tmp_path, capsys):
    spec = write_spec(tmp_path / "spec.yaml", grid={"seed": [0]})
    root = tmp_path / "sweep"
    assert main(["sweep", str(spec), "--out", str(root), "--workers", "1", "--no-progress"]) == 0
    config = root / "run" / "config.yaml"
    original = config.read_text()
    # config.yaml edited: it no longer is the sweep's point
    edited = yaml.safe_load(original)
    edited["model"]["hidden_size"] = 24
    config.write_text(yaml.safe_dump(edited))
    assert assert_refused(["sweep", root, "--no-progress"], capsys, root) == (
        f"rnn-timescales: error: run directory {str(root / 'run')!r} was made with another configuration "
        "(model.hidden_size: 24 there, 16 in the sweep); choose another --out or remove it")
    # config.yaml and sweep.yaml both edited to agree: the training state still tells
    (root / "sweep.yaml").write_text((root / "sweep.yaml").read_text().replace("hidden_size: 16", "hidden_size: 24"))
    assert assert_refused(["sweep", root, "--no-progress"], capsys, root) == (
        f"rnn-timescales: error: run directory {str(root / 'run')!r} was edited by hand: config.yaml differs from its "
        "training state (model.hidden_size: 16 in its training state, 24 in config.yaml); restore it or remove the "
        "run directory")
    config.write_text(original)
    (root / "sweep.yaml").write_text((root / "sweep.yaml").read_text().replace("hidden_size: 24", "hidden_size: 16"))
    assert main(["sweep", str(root), "--no-progress"]) == 0
