"""Divergence guard: a non-finite loss or gradient never reaches a checkpoint or a saved state,
and the configured policy (stop, or roll back with a lower learning rate) is followed."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_overrides
from safetensors.torch import load_file

from rnn_timescales.cli import main
from rnn_timescales.config import build_config
from rnn_timescales.models import build_model
from rnn_timescales.training import loop as loop_module
from rnn_timescales.runs.checkpoints import CheckpointError, save_checkpoint
from rnn_timescales.runs.state import load_state
from rnn_timescales.training.trainer import train

STEPS = 10


def tiny(**kw):
    overrides = tiny_overrides(hidden=16, batch=16, steps=STEPS) + ["seed=1", "training.max_epochs=4"]
    return build_config("paper", overrides=overrides + [f"{k}={v}" for k, v in kw.items()])


@pytest.fixture
def lr_spike(monkeypatch):
    """One training step (epoch 2, step 4) with a learning rate of 1e30: the weights blow up and
    the next step's loss is not finite."""
    step = loop_module.train_step
    calls = {"n": 0}

    def spiked(model, optimizer, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] != STEPS + 4:
            return step(model, optimizer, *args, **kwargs)
        saved = [g["lr"] for g in optimizer.param_groups]
        for g in optimizer.param_groups:
            g["lr"] = 1e30
        try:
            return step(model, optimizer, *args, **kwargs)
        finally:
            for g, lr in zip(optimizer.param_groups, saved):
                g["lr"] = lr

    monkeypatch.setattr(loop_module, "train_step", spiked)


def assert_everything_saved_is_finite(run):
    files = sorted((run / "checkpoints").glob("*.safetensors"))
    assert files
    for path in files:
        for name, t in load_file(path).items():
            assert torch.isfinite(t).all(), (path.name, name)
    for path in (run / "state").glob("*.safetensors"):
        state = load_state(path)
        assert all(torch.isfinite(t).all() for t in state.model.values()), path.name
        assert torch.isfinite(state.loss_sum)


def test_stop_policy_names_epoch_and_step_and_keeps_the_last_good_state(tmp_path, lr_spike):
    result = train(tiny(**{"training.divergence": "stop"}), tmp_path / "run", progress=False)
    assert result.stop_reason == "diverged"
    assert "epoch 2, step 5 of 10" in result.message and "\n" not in result.message
    assert len(result.metrics) == 1  # epoch 2 never reached the metrics
    assert_everything_saved_is_finite(tmp_path / "run")
    assert load_state(tmp_path / "run" / "state" / "epoch.safetensors").epoch == 1
    assert result.events == [{"kind": "diverged", "epoch": 2, "step": 5}]


def test_rollback_policy_lowers_the_learning_rate_and_carries_on(tmp_path, lr_spike):
    config = tiny(**{"training.divergence": "rollback", "training.rollback_lr_factor": 0.5})
    result = train(config, tmp_path / "run", progress=False)
    assert result.stop_reason == "max_epochs" and len(result.metrics) == 4
    [event] = result.events
    assert event == {"kind": "rollback", "epoch": 2, "step": 5, "to_epoch": 1, "lr_before": 0.05, "lr_after": 0.025}
    assert result.metrics["lr"].tolist() == [0.05, 0.025, 0.025, 0.025]
    assert result.metrics["loss"].notna().all()
    assert_everything_saved_is_finite(tmp_path / "run")
    assert load_state(tmp_path / "run" / "state" / "epoch.safetensors").optimizer["param_groups"][0]["lr"] == 0.025


def test_cli_stops_a_diverging_run_in_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--no-progress", "--preset", "paper", "--max-epochs", "3", "--out", str(out),
            "--set", "optimizer.lr=1e30"]
    for s in tiny_overrides(hidden=16, batch=16, steps=STEPS):
        argv += ["--set", s]
    assert main(argv) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and "diverged at epoch 1, step 2" in err[0]
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["init.safetensors"]
    assert_everything_saved_is_finite(out)


def test_rollbacks_are_bounded(tmp_path):
    config = tiny(**{"optimizer.lr": 1e30, "training.divergence": "rollback", "training.max_rollbacks": 2})
    result = train(config, tmp_path / "run", progress=False)
    assert result.stop_reason == "diverged" and "after 2 roll-backs" in result.message
    assert [e["kind"] for e in result.events] == ["rollback", "rollback", "diverged"]
    assert_everything_saved_is_finite(tmp_path / "run")


def test_a_network_with_nan_is_never_written(tmp_path):
    config = tiny()
    model = build_model(config)
    with torch.no_grad():
        model.tau[3] = float("nan")
    with pytest.raises(CheckpointError, match="not finite"):
        save_checkpoint(tmp_path / "bad.safetensors", model, config=config, level={"ns": [2]}, epoch=1)
    assert not list(tmp_path.iterdir())
