"""Sweeps on the local process pool, end to end with tiny runs: the runs are the configured runs and
are analysed, finished ones and current analyses are skipped, a failing run is recorded while the
others finish, a dying worker is reported, and the report of the sweep is written."""

from __future__ import annotations

import json
import re
from concurrent.futures.process import BrokenProcessPool

import pandas as pd
import pytest
from dying import die_on_three
from sweep_testing import TINY_ANALYSIS, train_directly, write_spec
from conftest import assert_same_run

from rnn_timescales.cli import main
from rnn_timescales.backends import LocalPool, WorkerDied
from rnn_timescales.experiments.sweep import (
    error_files,
    load_spec,
    plan,
    prepare_sweep,
    sweep_status,
)


def _mtimes(run_dir):
    return {p.relative_to(run_dir): p.stat().st_mtime_ns for p in sorted(run_dir.rglob("*")) if p.is_file()}


def test_a_sweep_trains_the_configured_runs_analyses_them_and_skips_what_is_done(tmp_path, capsys):
    spec_file = write_spec(tmp_path / "tiny.yaml", grid={"curriculum.kind": ["single", "multi"]}, analyze=TINY_ANALYSIS)
    root = tmp_path / "sweep"
    assert main(["sweep", str(spec_file), "--out", str(root), "--workers", "2", "--no-progress"]) == 0
    points = plan(load_spec(root))
    assert [p.name for p in points] == ["curriculum-single", "curriculum-multi"]
    for p in points:  # each run is exactly the run its configuration describes, and it was analysed
        assert_same_run(train_directly(p.config, tmp_path / "direct" / p.name), root / p.name)
        assert (root / p.name / "analysis" / "summary.csv").is_file()
    assert (root / "runs.csv").read_text().splitlines() == ["name,curriculum.kind", "curriculum-single,single",
                                                            "curriculum-multi,multi"]
    before = {p.name: _mtimes(root / p.name) for p in points}

    capsys.readouterr()
    assert main(["sweep", str(root), "--no-progress"]) == 0  # the sweep directory continues its own sweep
    assert "2 done, 0 failed, 0 unfinished (0 runs worked on" in capsys.readouterr().out
    assert {p.name: _mtimes(root / p.name) for p in points} == before

    # other analysis settings make the analyses stale: sweep analyze redoes them, and only once
    argv = ["sweep", "analyze", str(root), "--set", "analyze.timescales.n_trials=2", "--no-progress"]
    assert main(argv) == 0
    assert "2 done, 0 failed, 0 unfinished (2 runs worked on" in capsys.readouterr().out
    for p in points:
        assert (pd.read_csv(root / p.name / "analysis" / "summary.csv")["n_trials"] == 2).all()
    assert main(argv) == 0
    assert "(0 runs worked on" in capsys.readouterr().out

    assert main(["report", str(root)]) == 0
    assert (root / "report" / "index.html").is_file() and (root / "report" / "tau_net_vs_n.png").is_file()


def test_a_failing_run_is_recorded_and_the_others_finish(tmp_path, capsys):
    spec_file = write_spec(tmp_path / "fail.yaml", runs=[{"seed": 0}, {"seed": 1}, {"seed": 2, "optimizer.lr": 1.0e30},
                                                         {"seed": 3}])
    root = tmp_path / "sweep"
    _, points = prepare_sweep(load_spec(spec_file), root)
    assert [p.name for p in points] == ["seed-0_lr-0.05", "seed-1_lr-0.05", "seed-2_lr-1e+30", "seed-3_lr-0.05"]
    # seed 1 was interrupted earlier, and its saved training state has since been corrupted
    broken = train_directly(points[1].config, root / points[1].name)
    (broken / "summary.json").unlink()
    state = broken / "state" / "epoch.safetensors"
    state.write_bytes(state.read_bytes()[:-10])

    assert main(["sweep", str(spec_file), "--out", str(root), "--workers", "2", "--no-progress"]) == 1
    assert "2 done, 2 failed" in capsys.readouterr().out
    statuses = {s.name: s.status for s in sweep_status(root)}
    assert statuses == {"seed-0_lr-0.05": "done", "seed-1_lr-0.05": "failed", "seed-2_lr-1e+30": "failed",
                        "seed-3_lr-0.05": "done"}
    record, trace = error_files(root, "seed-1_lr-0.05")
    assert json.loads(record.read_text())["error"].startswith("StateError: training state")
    assert "Traceback (most recent call last)" in trace.read_text()
    diverged, no_trace = error_files(root, "seed-2_lr-1e+30")
    assert "training diverged at epoch 1" in json.loads(diverged.read_text())["error"] and not no_trace.exists()
    assert main(["sweep", "status", str(root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"done": 2, "running": 0, "failed": 2, "pending": 0}
    assert main(["sweep", "status", str(root)]) == 0
    assert re.search(r"seed-1_lr-0.05 +failed +train: StateError: training state", capsys.readouterr().out)

    # once the broken run is removed, re-running the sweep retries it from scratch
    import shutil

    shutil.rmtree(broken)
    assert main(["sweep", str(spec_file), "--out", str(root), "--workers", "1", "--no-progress"]) == 1
    assert {s.name: s.status for s in sweep_status(root)}["seed-1_lr-0.05"] == "done"
    assert not record.exists() and not trace.exists()


def test_a_dying_worker_is_reported_and_the_other_tasks_complete():
    with LocalPool(2) as pool:
        results = dict(pool.run(die_on_three, [1, 2, 3, 4, 5]))
    assert {k: v for k, v in results.items() if k != 3} == {1: 2, 2: 4, 4: 8, 5: 10}
    assert isinstance(results[3], WorkerDied)


def test_a_pool_whose_worker_died_while_idle_is_replaced():
    with LocalPool(1) as pool:
        killed = pool._pool().submit(die_on_three, 3)  # outside run(): no task of its own was in flight
        with pytest.raises(BrokenProcessPool):
            killed.result()
        assert dict(pool.run(die_on_three, [1, 2])) == {1: 2, 2: 4}


def test_only_trains_the_selected_points_and_a_later_call_does_the_rest(tmp_path, capsys):
    """--only seed=1 --only curriculum=multi trains one run of four; the sweep is still recorded whole,
    and a call without --only trains the other three."""
    spec_file = write_spec(tmp_path / "tiny.yaml", grid={"seed": [0, 1], "curriculum.kind": ["single", "multi"]})
    root = tmp_path / "sweep"
    argv = ["sweep", str(spec_file), "--out", str(root), "--workers", "1", "--no-progress", "--no-analyze"]
    assert main([*argv, "--only", "seed=1", "--only", "curriculum=multi"]) == 0
    assert "1 done, 0 failed, 0 unfinished (1 runs worked on" in capsys.readouterr().out
    names = [p.name for p in plan(load_spec(root))]
    assert len(pd.read_csv(root / "runs.csv")) == 4 and len(names) == 4
    assert [n for n in names if (root / n).is_dir()] == ["seed-1_curriculum-multi"]
    # values are compared as the run names show them; several values, and a dotted key
    from rnn_timescales.experiments.sweep import parse_only, select_points

    points = plan(load_spec(root))
    assert [p.name for p in select_points(points, parse_only(["curriculum.kind=single,multi", "seed=0.0"]))] == [
        "seed-0_curriculum-single", "seed-0_curriculum-multi"]
    assert main(["sweep", "status", str(root)]) == 0
    assert "1 done, 0 running, 0 failed, 3 pending" in capsys.readouterr().out
    assert main(argv) == 0
    assert "4 done, 0 failed, 0 unfinished (3 runs worked on" in capsys.readouterr().out
