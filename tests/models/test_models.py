"""The leaky RNN's equations (SPEC section 1), pinned on a two-neuron network computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from rnn_timescales.models import LeakyRNN, MultiHeadReadout

PHI = {
    "leaky_relu": lambda v: v if v > 0 else 0.01 * v,
    "relu": lambda v: max(v, 0.0),
    "tanh": math.tanh,
    "sigmoid": lambda v: 1.0 / (1.0 + math.exp(-v)),
}


def two_neuron_net(nonlinearity: str, placement: str) -> LeakyRNN:
    net = LeakyRNN(hidden_size=2, n_heads=3, nonlinearity=nonlinearity, placement=placement)
    with torch.no_grad():
        net.tau.copy_(torch.tensor([2.0, 0.5]))  # neuron 1's tau is clamped to 1
        # The diagonal (7.0, 9.0) must be ignored: no self-connections.
        net.recurrent.weight.copy_(torch.tensor([[7.0, 0.5], [-0.3, 9.0]]))
        net.recurrent.bias.copy_(torch.tensor([0.1, -0.2]))
        net.input.weight.copy_(torch.tensor([[1.0], [2.0]]))
        net.input.bias.copy_(torch.tensor([0.0, 0.1]))
    return net


# Hand computation with h = (0.2, -0.4):
#   drive = W h + b_W + U x + b_U, with W = [[0, .5], [-.3, 0]]
#   x = 1: drive = (0.5*-0.4 + 0.1 + 1 + 0, -0.3*0.2 - 0.2 + 2 + 0.1) = (0.9, 1.84)
#   x = 0: drive = (-0.1, -0.16)
#   tau_hat = (2, 1): leak = (0.5, 0), 1/tau_hat = (0.5, 1)
H0 = (0.2, -0.4)
DRIVE = {1.0: (0.9, 1.84), 0.0: (-0.1, -0.16)}


def expected(nonlinearity: str, placement: str, x: float) -> list[float]:
    phi = PHI[nonlinearity]
    d0, d1 = DRIVE[x]
    if placement == "outside":
        return [phi(0.5 * H0[0] + 0.5 * d0), phi(0.0 * H0[1] + 1.0 * d1)]
    return [0.5 * H0[0] + 0.5 * phi(d0), 0.0 * H0[1] + 1.0 * phi(d1)]


@pytest.mark.parametrize("placement", ["outside", "inside"])
@pytest.mark.parametrize("nonlinearity", list(PHI))
@pytest.mark.parametrize("x", [1.0, 0.0])
def test_one_step_matches_hand_formula(nonlinearity, placement, x):
    net = two_neuron_net(nonlinearity, placement)
    h = torch.tensor([H0])
    inp = torch.tensor([[x]])
    want = torch.tensor([expected(nonlinearity, placement, x)])
    torch.testing.assert_close(net.step(h, inp), want, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(net.run(inp[None], h)[0], want, rtol=1e-6, atol=1e-7)


def test_leaky_relu_negative_branch_by_hand():
    # x = 0, outside: neuron 1 pre-activation = -0.16 -> 0.01 * -0.16
    out = two_neuron_net("leaky_relu", "outside").step(torch.tensor([H0]), torch.tensor([[0.0]]))
    assert out[0, 1].item() == pytest.approx(-0.0016, rel=1e-5)
    assert out[0, 0].item() == pytest.approx(0.05, rel=1e-5)


@pytest.mark.parametrize("placement", ["outside", "inside"])
def test_run_equals_repeated_steps(placement):
    torch.manual_seed(0)
    net = LeakyRNN(hidden_size=16, n_heads=4, placement=placement)
    inputs = (torch.rand(12, 5, 1) < 0.5).float()
    h0 = net.init_state(5)
    h = h0
    for x in inputs:
        h = net.step(h, x)
    torch.testing.assert_close(net.run(inputs, h0)[-1], h, rtol=1e-5, atol=1e-6)


def test_no_self_connections_and_no_gradient_on_diagonal():
    torch.manual_seed(1)
    net = LeakyRNN(hidden_size=8)
    assert torch.all(net.recurrent.weight.diagonal() == 0)
    inputs = (torch.rand(6, 3, 1) < 0.5).float()
    net(inputs, n_heads=2).logits.sum().backward()
    assert torch.all(net.recurrent.weight.grad.diagonal() == 0)


def test_tau_initialisation_and_clamp():
    torch.manual_seed(2)
    net = LeakyRNN(hidden_size=1000)
    assert net.tau.min() >= 1.0 and net.tau.max() <= 2.0 and net.train_tau
    assert 1.45 < net.tau.mean().item() < 1.55  # 1 + U(0, 1)
    with torch.no_grad():
        net.tau[:3] = torch.tensor([0.2, 1.0, 3.0])
    assert net.tau_hat()[:3].tolist() == [1.0, 1.0, 3.0]
    fixed = LeakyRNN(hidden_size=4, train_tau=False, tau_init=1.0)
    assert not fixed.tau.requires_grad and fixed.tau.tolist() == [1.0] * 4


def test_initial_state_is_small_uniform():
    net = LeakyRNN(hidden_size=200)
    h0 = net.init_state(50, torch.Generator().manual_seed(0))
    assert h0.shape == (50, 200) and h0.min() >= 0 and h0.max() <= 0.1
    assert 0.045 < h0.mean().item() < 0.055


def test_readout_is_each_head_linear_map():
    torch.manual_seed(3)
    readout = MultiHeadReadout(hidden_size=5, n_heads=4, n_classes=2)
    h = torch.randn(7, 5)
    logits = readout(h, 3)
    assert logits.shape == (7, 3, 2)
    for k in range(3):
        torch.testing.assert_close(logits[:, k], h @ readout.weight[k].T + readout.bias[k])
    with pytest.raises(ValueError):
        readout(h, 5)


def test_forward_outputs_and_shapes():
    torch.manual_seed(4)
    net = LeakyRNN(hidden_size=10, n_heads=6)
    inputs = (torch.rand(9, 4, 1) < 0.5).float()
    out = net(inputs, n_heads=3, return_trajectory=True, return_step_logits=True)
    assert out.final_state.shape == (4, 10)
    assert out.logits.shape == (4, 3, 2)
    assert out.trajectory.shape == (9, 4, 10)
    assert out.step_logits.shape == (9, 4, 3, 2)
    torch.testing.assert_close(out.trajectory[-1], out.final_state)
    torch.testing.assert_close(out.step_logits[-1], out.logits)
    with pytest.raises(ValueError, match="shape"):
        net(torch.zeros(9, 4))
