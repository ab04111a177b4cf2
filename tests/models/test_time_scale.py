"""Continuous-time training (``task.time_scale``): every bit held for k steps and every tau replaced
by max(tau k, 1), in the fused and the per-step path alike; k = 1 is the plain model bit for bit;
k drawn per batch resumes exactly; models without timescales are refused."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_overrides
from safetensors.torch import load_file
from test_fused import gradients, make_net, rel_err

from rnn_timescales.analysis.robustness import rescaled_copy
from rnn_timescales.config import ConfigError, build_config
from rnn_timescales.models import MODELS
from rnn_timescales.models.readout import MultiHeadReadout
from rnn_timescales.models.base import RecurrentModel
from rnn_timescales.models.fused import leaky_recurrence
from rnn_timescales.tasks import get_task
from rnn_timescales.tasks.base import repeat_steps
from rnn_timescales.training.steps import batch_loss, multi_head_loss
from rnn_timescales.training.trainer import train

PLACEMENTS = ["outside", "inside"]


@pytest.mark.parametrize("read", ["final", "trajectory"])
@pytest.mark.parametrize("nonlinearity", ["leaky_relu", "tanh"])
@pytest.mark.parametrize("placement", PLACEMENTS)
def test_time_scale_is_the_same_in_the_fused_and_the_per_step_path(placement, nonlinearity, read):
    net = make_net(nonlinearity, placement, True, dtype=torch.float64, hidden=24)
    with torch.no_grad():  # tau k on both sides of the clamp at 1 for k = 3
        net.tau.copy_(torch.linspace(0.1, 4.0, 24)[torch.randperm(24, generator=torch.Generator().manual_seed(0))])
    s_fast, fast = gradients(net, "parity", [2, 3, 4], True, torch.float64, read=read, time_scale=3)
    s_ref, ref = gradients(net, "parity", [2, 3, 4], False, torch.float64, read=read, time_scale=3)
    torch.testing.assert_close(s_fast, s_ref, rtol=1e-12, atol=1e-12)
    assert fast.keys() == ref.keys() and "tau" in ref
    for name in ref:
        assert rel_err(fast[name], ref[name]) <= 1e-12, name
    clamped = net.tau.detach() * 3 < 1  # max(tau k, 1) is flat there: no gradient reaches tau
    assert clamped.any() and torch.all(fast["tau"][clamped] == 0) and torch.all(fast["tau"][~clamped] != 0)


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_time_scale_k_is_the_network_with_tau_times_k(placement):
    """Running at k is the copy with stored tau k (phase 1's rescaled_copy), state for state; the
    gradient reaching the stored tau carries the chain factor k."""
    net = make_net("leaky_relu", placement, True, hidden=20)
    copy = rescaled_copy(net, 4)
    s_k, g_k = gradients(net, "parity", [2, 3, 4], True, torch.float32, time_scale=4)
    copy.zero_grad(set_to_none=True)
    g = torch.Generator().manual_seed(1)
    data = get_task("parity").sample({"ns": [2, 3, 4]}, 16, g, time_scale=4)
    h0 = copy.init_state(16, g).requires_grad_()
    out = copy(data.inputs, h0, n_heads=3, return_trajectory=True)  # the same inputs, the copy at k = 1
    loss = multi_head_loss(out.logits, data.final_targets) + 0.1 * out.trajectory.square().mean()
    loss.backward()
    assert torch.equal(out.final_state.detach(), s_k)
    torch.testing.assert_close(g_k["tau"], 4 * copy.tau.grad, rtol=1e-5, atol=1e-7)
    for name in ("recurrent.weight", "input.weight", "readout.weight"):
        torch.testing.assert_close(g_k[name], dict(copy.named_parameters())[name].grad, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_time_scale_one_is_the_plain_model_bit_for_bit(placement):
    """k = 1 computes exactly what the model computed before time scales existed: the fused
    recurrence with inv = 1 / max(tau, 1), same states, same gradients, bit for bit."""
    net = make_net("leaky_relu", placement, True)
    task = get_task("parity", time_scale=1)
    g = torch.Generator().manual_seed(0)
    batch = task.sample({"ns": [2, 3]}, 16, g)
    assert batch.time_scale == 1
    h0 = net.init_state(16, g)
    loss = batch_loss(net, batch, torch.Generator().manual_seed(5))
    loss.backward()
    ours = {n: p.grad.clone() for n, p in net.named_parameters()}
    net.zero_grad(set_to_none=True)
    h0 = net.init_state(16, torch.Generator().manual_seed(5))
    final = leaky_recurrence(batch.inputs, h0, net.recurrent_weight(), net.input.bias + net.recurrent.bias,
                             net.input.weight, 1.0 / torch.clamp(net.tau, min=1.0), placement, "leaky_relu",
                             final_only=True, workspace=net.workspace)
    plain = multi_head_loss(net.readout(final, 2), batch.final_targets, all_scored=True)
    plain.backward()
    assert torch.equal(loss, plain.detach())
    for n, p in net.named_parameters():
        assert torch.equal(ours[n], p.grad), n


def test_batches_hold_every_bit_k_times_with_the_bits_labels():
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    plain = get_task("dms").sample({"ns": [2, 4]}, 5, g1)
    slow = get_task("dms", time_scale=3).sample({"ns": [2, 4]}, 5, g2)
    assert slow.time_scale == 3 and slow.final_only
    assert torch.equal(slow.inputs, repeat_steps(plain.inputs, 3)) and slow.inputs.shape[0] == 3 * plain.inputs.shape[0]
    assert torch.equal(slow.final_targets, plain.final_targets)
    assert (slow.targets[:-1] == -1).all()
    # a list: k drawn per batch from the generator, each of them in turn
    task = get_task("parity", time_scale=[7, 8, 9, 10])
    g = torch.Generator().manual_seed(0)
    ks = [task.sample({"ns": [2]}, 2, g).time_scale for _ in range(60)]
    assert set(ks) == {7, 8, 9, 10}
    again = torch.Generator().manual_seed(0)
    assert [task.sample({"ns": [2]}, 2, again).time_scale for _ in range(60)] == ks
    assert get_task("parity", time_scale=[7, 8]).sample({"ns": [2]}, 2, g, time_scale=1).time_scale == 1
    # streams (streaming evaluation) stay at k = 1
    assert get_task("parity", time_scale=5).stream([2], 50, 1, g).inputs.shape == (50, 1, 1)


def test_bad_time_scales_are_refused_in_one_line():
    for bad in ("0", "[]", "[2, 2]", "1.5", "true", "abc"):
        with pytest.raises(ConfigError, match=r"^task.time_scale must be an integer k >= 1"):
            build_config("quick", overrides=[f"task.time_scale={bad}"])


class _NoTau(RecurrentModel):
    """A model without timescales: a plain tanh RNN."""

    name = "no_tau_test_model"

    def __init__(self, hidden, n_heads, n_classes):
        super().__init__()
        self.hidden_size, self.input_size = hidden, 1
        self.cell = torch.nn.RNNCell(1, hidden)
        self.readout = MultiHeadReadout(hidden, n_heads, n_classes)

    @classmethod
    def from_config(cls, config, *, input_size, n_heads, n_classes):
        return cls(config.hidden_size, n_heads, n_classes)

    def init_state(self, batch_size, generator=None):
        return torch.zeros(batch_size, self.hidden_size)

    def step(self, h, x):
        return self.cell(x, h)


def test_models_without_timescales_are_refused():
    MODELS.register(_NoTau)
    try:
        with pytest.raises(ConfigError, match="task.time_scale 3 needs a model whose timescales can be rescaled"):
            build_config("quick", overrides=["model.type=no_tau_test_model", "task.time_scale=3"])
        config = build_config("quick", overrides=["model.type=no_tau_test_model", "model.hidden_size=4"])
        assert config.task.params["time_scale"] == 1  # k = 1: every model
        model = _NoTau(4, 2, 2)
        x = torch.ones(3, 2, 1)
        assert model(x, n_heads=1).logits.shape == (2, 1, 2)
        with pytest.raises(ConfigError, match="cannot run with time_scale 2"):
            model(x, n_heads=1, time_scale=2)
    finally:
        MODELS.unregister(_NoTau.name)


def test_training_with_a_list_of_one_k_is_the_plain_run(tmp_path):
    """A single k draws nothing: ``time_scale: [1]`` trains exactly the run of the plain task."""
    base = tiny_overrides(hidden=16, batch=16, steps=5) + ["training.max_epochs=2", "seed=1"]
    a = train(build_config("paper", overrides=base), tmp_path / "a", progress=False)
    b = train(build_config("paper", overrides=base + ["task.time_scale=[1]"]), tmp_path / "b", progress=False)
    drop = ["wall_time_s", "epoch_time_s"]
    assert a.metrics.drop(columns=drop).equals(b.metrics.drop(columns=drop))
    ta, tb = load_file(tmp_path / "a/checkpoints/final.safetensors"), load_file(tmp_path / "b/checkpoints/final.safetensors")
    assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)


def test_a_network_trained_at_time_scale_k_learns(tmp_path):
    """At k = 4 (tau k >= 4) a small network still learns 2-parity with the repeated inputs."""
    torch.manual_seed(0)
    config = build_config("paper", overrides=tiny_overrides(hidden=32, batch=64, steps=40, eval_batches=4)
                          + ["task.time_scale=4", "curriculum.kind=fixed", "training.max_epochs=40",
                             "model.placement=inside"])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = train(config, tmp_path / "run", progress=False)
    finally:
        torch.set_num_threads(threads)
    assert result.stop_reason == "solved", result.metrics[["epoch", "accuracy_mean"]]
