"""Settings a run resolves from its machine (precision ``auto``, device ``auto``) are compared as the
user wrote them: a quick-preset sweep that finished, or whose driver was killed, runs again.

Issue 20: a finished quick-preset sweep could not be re-run, because ``precision: auto`` was resolved
into the run's ``config.yaml`` (``bf16`` on a machine with bf16 units) and then compared with the
sweep's unresolved ``auto``. Each resolution of ``auto`` is forced here, so the tests bite on any CPU.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml
from conftest import assert_same_run

from rnn_timescales.cli import main
from rnn_timescales.config import build_config, config_difference
from rnn_timescales.experiments.sweep import load_spec, prepare_sweep, read_summary, run_sweep, sweep_status
from rnn_timescales import runtime
from rnn_timescales.training.trainer import train

# The issue's spec, as a new user wrote it: the quick preset, precision left at its 'auto'.
ISSUE_SPEC = {
    "base": {"preset": "quick", "model": {"hidden_size": 32},
             "training": {"max_epochs": 3, "steps_per_epoch": 20, "eval_batches": 2}},
    "grid": {"seed": [0]},
}


@pytest.fixture(params=["bf16", "fp32"])
def auto_resolves_to(request, monkeypatch) -> str:
    """Make ``auto`` resolve to each precision in this process, whatever the CPU has."""
    monkeypatch.setattr(runtime, "native_bf16", lambda device_type: request.param == "bf16")
    return request.param


def test_auto_on_either_side_matches_any_resolution():
    saved = build_config("quick", overrides=["model.precision=bf16", "device=cpu"])
    asked = build_config("quick")
    assert asked.model.precision == "auto" and asked.device == "auto"
    assert config_difference(saved, asked) is None
    assert config_difference(asked, saved) is None
    other = build_config("quick", overrides=["model.precision=fp32"])
    assert config_difference(saved, other) == "model.precision: 'bf16' there, 'fp32' now"
    assert config_difference(saved, other, where=("in the run", "asked")).endswith("'fp32' asked")
    assert config_difference(build_config("quick", overrides=["device=cpu"]), asked) is None
    # a stopping rule is not a difference; anything that changes a step is
    assert config_difference(saved, build_config("quick", overrides=["training.max_epochs=7"])) is None
    assert config_difference(saved, build_config("quick", overrides=["seed=1"])).startswith("seed: 0 there, 1 now")


def test_a_finished_quick_sweep_runs_again(tmp_path, auto_resolves_to):
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(ISSUE_SPEC))
    root = tmp_path / "sw"
    _, (point,) = prepare_sweep(load_spec(spec_file), root)
    assert point.config.model.precision == "auto"
    # the sweep's run, trained here so that 'auto' resolves as forced (the workers run the same code)
    train(point.config, root / point.name, progress=False)
    assert yaml.safe_load((root / point.name / "config.yaml").read_text())["model"]["precision"] == auto_resolves_to
    prepare_sweep(load_spec(spec_file), root)  # was: "made with another configuration"
    before = {p: p.stat().st_mtime_ns for p in (root / point.name).rglob("*") if p.is_file()}
    result = run_sweep(load_spec(spec_file), root, workers=1, progress=False)
    assert result.ran == 0 and result.counts == {"done": 1, "running": 0, "failed": 0, "pending": 0}
    assert {p: p.stat().st_mtime_ns for p in (root / point.name).rglob("*") if p.is_file()} == before


def test_an_interrupted_quick_run_is_resumed_by_the_sweep(tmp_path, auto_resolves_to):
    """A run whose config.yaml records the resolved precision is extended by a sweep that says auto."""
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(ISSUE_SPEC))
    root = tmp_path / "sw"
    _, (point,) = prepare_sweep(load_spec(spec_file), root)
    short = build_config("quick", overrides=[f"{k}={v}" for k, v in {
        "model.hidden_size": 32, "training.max_epochs": 1, "training.steps_per_epoch": 20,
        "training.eval_batches": 2}.items()])
    train(short, root / point.name, progress=False)
    result = run_sweep(load_spec(spec_file), root, workers=1, progress=False)
    assert result.ran == 1 and result.counts["done"] == 1
    assert read_summary(root / point.name)["epochs"] == 3
    # the resumed run is the uninterrupted one, trained with the precision the first part used
    direct = build_config("quick", overrides=[f"model.precision={auto_resolves_to}", "model.hidden_size=32",
                                              "training.max_epochs=3", "training.steps_per_epoch=20",
                                              "training.eval_batches=2"])
    train(direct, tmp_path / "direct", progress=False)
    assert read_summary(root / point.name)["precision"] == auto_resolves_to
    if auto_resolves_to == "bf16" and not runtime.cpu_bf16_instructions():
        # bf16 emulated here (no avx512_bf16 or amx_bf16, e.g. an AVX2-only EPYC). The fixture's forced
        # probe also switches this process's products to the bf16-units path (bf16 operands, product
        # rounded to bf16: models/fused.py _Products), while the sweep's worker, a fresh process,
        # probes the real CPU and continues on the emulated path (bf16-rounded operands, product left
        # in fp32). The first epoch, trained here both times, is the same; the continuation is
        # checked to keep the recorded precision and to follow the same curve closely.
        a, b = (pd.read_csv(d / "metrics.csv") for d in (tmp_path / "direct", root / point.name))
        timing = [c for c in a.columns if c.endswith("time_s")]
        pd.testing.assert_frame_equal(a.drop(columns=timing).iloc[:1], b.drop(columns=timing).iloc[:1],
                                      check_exact=True)
        pd.testing.assert_series_equal(a["loss"], b["loss"], rtol=1e-3)
        assert not a["loss"].equals(b["loss"])  # the two paths do differ (else this branch is stale)
        return
    assert_same_run(tmp_path / "direct", root / point.name, same_config=False)


def test_the_issue_commands_succeed_twice_and_after_a_kill(tmp_path):
    """The issue's commands, unpinned, as run on this machine (auto resolves as the CPU has it)."""
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(ISSUE_SPEC))
    argv = ["sweep", str(spec_file), "--out", str(tmp_path / "sw"), "--workers", "1", "--no-progress"]
    assert main(argv) == 0
    assert main(argv) == 0
    assert [s.status for s in sweep_status(tmp_path / "sw")] == ["done"]

    # the same sweep, its driver killed with SIGKILL while its run trains, then run again
    slow = {**ISSUE_SPEC, "base": {**ISSUE_SPEC["base"], "training": {
        "max_epochs": 6, "steps_per_epoch": 20, "eval_batches": 2, "state_every_s": 0.05}}}
    spec_file.write_text(yaml.safe_dump(slow))
    root = tmp_path / "killed"
    argv = ["sweep", str(spec_file), "--out", str(root), "--workers", "1", "--no-progress"]
    driver = subprocess.Popen([sys.executable, "-m", "rnn_timescales.cli", *argv], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (root / "run" / "state" / "epoch.safetensors").is_file():
        assert driver.poll() is None, "the sweep ended before it could be killed"
        assert time.monotonic() < deadline, "the run saved no state in time"
        time.sleep(0.05)
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    assert main(argv) == 0
    assert read_summary(root / "run")["epochs"] == 6
    assert [s.status for s in sweep_status(root)] == ["done"]
    assert main(argv) == 0  # and once more, finished
