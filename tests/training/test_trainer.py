"""The trainer end to end: run directory, stopping rules, reproducibility, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
import torch
from conftest import assert_refused, tiny_overrides
from safetensors.torch import load_file

from rnn_timescales.config import build_config
from rnn_timescales.training.trainer import METRIC_COLUMNS, TIMING_COLUMNS, train


def tiny(**kw):
    overrides = tiny_overrides() + [f"{k}={v}" for k, v in kw.items()]
    return build_config("paper", overrides=overrides)


def test_same_seed_gives_identical_metrics_and_weights(tmp_path):
    config = tiny(**{"training.max_epochs": 3, "seed": 11})
    a = train(config, tmp_path / "a", progress=False)
    b = train(config, tmp_path / "b", progress=False)
    pd.testing.assert_frame_equal(a.metrics.drop(columns=TIMING_COLUMNS), b.metrics.drop(columns=TIMING_COLUMNS))
    wa, wb = load_file(a.checkpoints[-1]), load_file(b.checkpoints[-1])
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    c = train(tiny(**{"training.max_epochs": 3, "seed": 12}), tmp_path / "c", progress=False)
    assert not c.metrics["loss"].equals(a.metrics["loss"])


def test_run_directory_contents(tmp_path):
    result = train(tiny(**{"training.max_epochs": 2}), tmp_path / "run", progress=False)
    run = tmp_path / "run"
    assert (run / "config.yaml").is_file() and (run / "checkpoints" / "init.safetensors").is_file()
    metrics = pd.read_csv(run / "metrics.csv")
    assert list(metrics.columns) == METRIC_COLUMNS and len(metrics) == 2
    assert metrics["epoch"].tolist() == [1, 2] and (metrics["tau_mean"] >= 1).all()
    heads = pd.read_csv(run / "head_metrics.csv")
    assert set(heads.columns) == {"epoch", "head", "n", "accuracy"}
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stop_reason"] == result.stop_reason == "max_epochs"


def test_time_budget_stops_the_run(tmp_path):
    result = train(tiny(**{"training.time_budget_s": 0.5, "training.max_epochs": 1000}), tmp_path / "r", progress=False)
    assert result.stop_reason == "time_budget" and len(result.metrics) < 1000


def test_existing_output_directory_is_refused(tmp_path, capsys):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    assert_refused(["train", "--out", tmp_path / "taken", "--max-epochs", "1", "--no-progress"], capsys, tmp_path)


@pytest.mark.slow
def test_cli_trains_a_tiny_network_to_n4_multi_head(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "rnn_timescales.cli", "train", "--curriculum", "multi", "--task", "parity",
           "--hidden", "64", "--target-n", "4", "--max-epochs", "80", "--seed", "0", "--device", "cpu",
           "--out", str(out), "--no-progress", "--set", "training.batch_size=64",
           "--set", "training.steps_per_epoch=50", "--set", "training.eval_batches=4"]
    # one thread: on a shared 2-core machine two would fight the other jobs and each other
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stop_reason"] == "target_n" and summary["n_max_solved"] == 4
    assert [ns[-1] for ns in summary["solved"]] == [2, 3, 4]
    names = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert names == ["final.safetensors", "init.safetensors", "rnn_N2_N2.safetensors", "rnn_N2_N3.safetensors",
                     "rnn_N2_N4.safetensors"]
    evaluated = subprocess.run([sys.executable, "-m", "rnn_timescales.cli", "evaluate", str(out), "--json", "--batches", "4"],
                               capture_output=True, text=True, timeout=60)
    assert evaluated.returncode == 0, evaluated.stderr
    heads = json.loads(evaluated.stdout)["heads"]
    assert [h["n"] for h in heads] == [2, 3, 4] and min(h["accuracy"] for h in heads) > 0.9


@pytest.mark.slow
def test_cli_trains_the_flipflop_to_95_percent_on_every_head(tmp_path):
    """The issue's acceptance: train --task flipflop --hidden 64, then evaluate --json, all from the CLI."""
    out = tmp_path / "ff"
    cmd = [sys.executable, "-m", "rnn_timescales.cli", "train", "--task", "flipflop", "--hidden", "64",
           "--max-epochs", "20", "--seed", "0", "--device", "cpu", "--out", str(out), "--no-progress"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    evaluated = subprocess.run([sys.executable, "-m", "rnn_timescales.cli", "evaluate", str(out), "--json",
                                "--batches", "20"], capture_output=True, text=True, timeout=60)
    assert evaluated.returncode == 0, evaluated.stderr
    report = json.loads(evaluated.stdout)
    assert report["task"] == "flipflop" and [h["head"] for h in report["heads"]] == [0, 1, 2]
    assert all(set(h) == {"head", "accuracy"} for h in report["heads"])
    assert min(h["accuracy"] for h in report["heads"]) >= 0.95, report


@pytest.mark.parametrize("native", [True, False], ids=["bf16-units", "no-bf16-units"])
def test_precision_auto_is_resolved_and_recorded(tmp_path, monkeypatch, native):
    from rnn_timescales.config import RunConfig
    from rnn_timescales import runtime
    from rnn_timescales.runs import load_any

    monkeypatch.setattr(runtime, "native_bf16", lambda device_type: native)
    train(tiny(**{"model.precision": "auto", "training.max_epochs": 1}), tmp_path / "r", progress=False)
    saved = RunConfig.load(tmp_path / "r" / "config.yaml")
    assert saved.model.precision == ("bf16" if native else "fp32")
    assert load_any(tmp_path / "r").model.precision == saved.model.precision
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())  # and why it chose it
    assert summary["precision"] == saved.model.precision
    assert summary["precision_reason"].startswith(f"auto: {saved.model.precision}, ")
