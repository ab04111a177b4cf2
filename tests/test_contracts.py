"""The general contracts: a task, a curriculum and a model are additions, not edits.

A task and a curriculum defined here, in the test file, are registered and trained through the
public API; the flip-flop task's targets are pinned on a hand-checked case; the loss and the
accuracy honour the IGNORE marker, per-step weights and class masks.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from pydantic import BaseModel, ConfigDict, Field

from rnn_timescales.config import ConfigError, build_config
from rnn_timescales.curricula import CURRICULA, Curriculum
from rnn_timescales.studies.evaluate import evaluate_checkpoint
from rnn_timescales.tasks import IGNORE, TASKS, Batch, Task, get_task
from rnn_timescales.runs import list_run_checkpoints, load_any
from rnn_timescales.training.steps import multi_head_loss
from rnn_timescales.training.trainer import train


class EchoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lag: int = Field(1, ge=1)
    length: int = Field(12, ge=2)


class Echo(Task):
    """Output at step t the bit seen ``lag`` steps before (scored from step ``lag`` on)."""

    name = "echo-test"
    Params = EchoParams
    level_keys = ("lag",)

    @property
    def input_size(self) -> int:
        return 1

    def default_level(self):
        return {"lag": self.params.lag}

    def sample(self, level, batch_size, generator=None, device="cpu"):
        lag, length = level["lag"], self.params.length
        x = (torch.rand(length, batch_size, generator=generator, device=device) < 0.5).long()
        targets = torch.full((length, batch_size, 1), IGNORE, dtype=torch.long, device=device)
        targets[lag:, :, 0] = x[:-lag]
        return Batch(inputs=x.unsqueeze(-1).float(), targets=targets)


class LagUp(Curriculum):
    """Lag 1, then 2, then 3, ... as each is solved."""

    kind = "lag-up-test"
    level_name = "lag"
    requires = ("lag",)

    def initial_level(self):
        return {"lag": 1}

    def next_level(self):
        return {"lag": self.level["lag"] + 1}


@pytest.fixture
def registered():
    TASKS.register(Echo)
    CURRICULA.register(LagUp)
    yield
    TASKS.unregister(Echo.name)
    CURRICULA.unregister(LagUp.kind)


def test_a_task_and_a_curriculum_defined_outside_the_package_train_end_to_end(registered, tmp_path):
    config = build_config("paper", overrides=[
        "task.name=echo-test", "task.length=12", "curriculum.kind=lag-up-test", "model.hidden_size=24",
        "training.batch_size=64", "training.steps_per_epoch=60", "training.eval_batches=4", "training.max_epochs=40",
        "training.target_level=2", "curriculum.threshold=0.95", "optimizer.name=adam", "optimizer.lr=0.01",
        "device=cpu", "seed=3",
    ])
    assert config.model.n_heads == 1 and config.task.params == {"lag": 1, "length": 12}
    result = train(config, tmp_path / "run", progress=False)
    assert result.stop_reason == "target_level", result.metrics
    assert result.levels_solved == [{"lag": 1}, {"lag": 2}] and result.solved == [] and result.n_solved is None
    names = [p.name for p in list_run_checkpoints(tmp_path / "run")]
    assert names == ["init.safetensors", "rnn_lag1.safetensors", "rnn_lag2.safetensors"]
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert set(metrics["level_name"]) == {"lag"} and metrics["level"].is_monotonic_increasing
    assert metrics["n_min"].isna().all() and metrics["step"].iloc[-1] == 60 * len(metrics)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["level_name"] == "lag" and summary["level_solved"] == 2
    ckpt = load_any(tmp_path / "run")
    assert ckpt.path.name == "rnn_lag2.safetensors" and ckpt.level == {"lag": 2} and ckpt.ns is None
    table = evaluate_checkpoint(ckpt, n_batches=4, batch_size=64)
    assert list(table.columns) == ["head", "accuracy"] and table["accuracy"].item() > 0.95


def test_task_settings_are_validated_like_every_setting(registered):
    with pytest.raises(ConfigError, match="unknown setting 'task.lagg' \\(did you mean 'lag'\\?\\)"):
        build_config("paper", overrides=["task.name=echo-test", "task.lagg=2", "curriculum.kind=none"])
    with pytest.raises(ConfigError, match="task.lag: Input should be greater than or equal to 1"):
        build_config("paper", overrides=["task.name=echo-test", "task.lag=0", "curriculum.kind=none"])
    with pytest.raises(ConfigError, match="'multi' changes the task's ns"):
        build_config("paper", overrides=["task.name=echo-test", "curriculum.kind=multi"])
    with pytest.raises(ConfigError, match="target_n applies to the N curricula"):
        build_config("paper", overrides=["task.name=echo-test", "training.target_n=3"])


def test_registering_a_second_class_under_a_taken_name_is_refused(registered):
    class Impostor(Echo):
        pass

    with pytest.raises(ValueError, match="already registered"):
        TASKS.register(Impostor)
    with pytest.raises(TypeError, match="must subclass"):
        TASKS.register(int)


def test_flipflop_targets_hold_the_sign_of_the_last_pulse():
    task = get_task("flipflop", n_bits=2, pulse_prob=0.3, length=40)
    batch = task.sample({}, 5, torch.Generator().manual_seed(1))
    assert batch.inputs.shape == (40, 5, 2) and batch.targets.shape == (40, 5, 2) and not batch.final_only
    x, y = batch.inputs, batch.targets
    assert set(x.unique().tolist()) <= {-1.0, 0.0, 1.0}
    for b in range(5):
        for k in range(2):
            held = IGNORE
            for t in range(40):
                if x[t, b, k] != 0:
                    held = int(x[t, b, k] > 0)
                assert y[t, b, k] == held, (t, b, k)


def test_the_loss_scores_only_what_is_scored_and_weights_it():
    logits = torch.tensor([[[[2.0, 0.0]]], [[[0.0, 2.0]]], [[[1.0, 1.0]]]])  # (time 3, batch 1, head 1, 2)
    targets = torch.tensor([[[0]], [[IGNORE]], [[1]]])
    ce0 = torch.log1p(torch.exp(torch.tensor(-2.0)))  # CE of logits (2, 0) for class 0
    ce2 = torch.log(torch.tensor(2.0))  # CE of logits (1, 1)
    torch.testing.assert_close(multi_head_loss(logits, targets), (ce0 + ce2) / 2)
    weights = torch.tensor([[1.0], [5.0], [3.0]])  # the ignored step's weight does not count
    torch.testing.assert_close(multi_head_loss(logits, targets, weights), (ce0 + 3 * ce2) / 4)


def test_accuracy_counts_only_scored_steps_and_masks_classes():
    task = get_task("flipflop")
    batch = Batch(inputs=torch.zeros(2, 1, 3), targets=torch.tensor([[[0, IGNORE, 1]], [[1, 1, IGNORE]]]),
                  class_mask=torch.tensor([[True, True], [True, False], [True, True]]))
    logits = torch.tensor([[[[3.0, 0.0], [0.0, 1.0], [0.0, 1.0]]], [[[0.0, 1.0], [0.0, 5.0], [0.0, 1.0]]]])
    correct, total = task.score(logits.masked_fill(~batch.class_mask, float("-inf")), batch)
    assert total.tolist() == [2, 1, 1] and correct.tolist() == [2, 0, 1]  # head 1 may not say class 1


def test_models_declare_their_state_and_activity():
    config = build_config("paper", overrides=["model.hidden_size=8", "task.name=flipflop"])
    from rnn_timescales.models import build_model

    model = build_model(config)
    assert model.input_size == 3 and model.n_heads == 3 and model.state_size == 8
    h = model.init_state(4, torch.Generator().manual_seed(0))
    assert torch.equal(model.activity(h), h) and model.timescales().shape == (8,)
    out = model(torch.zeros(5, 4, 3), h, return_trajectory=True, return_step_logits=True)
    assert out.trajectory.shape == (5, 4, 8) and out.step_logits.shape == (5, 4, 3, 2)
    torch.testing.assert_close(out.final_state, out.trajectory[-1])
