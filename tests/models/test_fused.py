"""The fast path of LeakyRNN.run (models/fused.py) is the same model as the plain per-step loop:
same states, and the same gradients for every parameter, for every model variant and curriculum."""

from __future__ import annotations

import itertools

import pytest
import torch

from rnn_timescales.models import LeakyRNN
from rnn_timescales import runtime
from rnn_timescales.models.fused import leaky_recurrence
from rnn_timescales.runtime import native_bf16
from rnn_timescales.tasks import get_task
from rnn_timescales.training.steps import accuracy, multi_head_loss, train_step

NONLINEARITIES = ["leaky_relu", "relu", "tanh", "sigmoid"]
PLACEMENTS = ["outside", "inside"]
# (curriculum, heads trained): multi-head N = 2..6, single-head N = 6.
CURRICULA = {"multi": [2, 3, 4, 5, 6], "single": [6]}


def make_net(nonlinearity, placement, train_tau, dtype=torch.float32, hidden=48, seed=0):
    torch.manual_seed(seed)
    net = LeakyRNN(hidden_size=hidden, n_heads=8, nonlinearity=nonlinearity, placement=placement, train_tau=train_tau)
    with torch.no_grad():
        # Spread tau over [0.5, 6] so the clamp at 1 is exercised (tau < 1, == 1, > 1).
        net.tau.copy_(torch.linspace(0.5, 6.0, hidden)[torch.randperm(hidden)])
        net.tau[0] = 1.0
        # A recurrent weight strong enough that the dynamics are not trivially contracting.
        net.recurrent.weight.mul_(3.0)
    return net.to(dtype)


def gradients(net, task_name, ns, fused, dtype, seed=1, batch=16, read="trajectory", time_scale=1):
    """Final states and gradients (parameters, h0, inputs) of one batch with the fast or plain path.

    read="final": the training loss only (the fast path then returns just the final state);
    read="trajectory": plus a term on every step's state, so each step's state gradient is used.
    time_scale: k of the batch (every bit held k steps) and of the network (tau replaced by max(tau k, 1)).
    """
    net.fused = fused
    net.zero_grad(set_to_none=True)
    g = torch.Generator().manual_seed(seed)
    data = get_task(task_name).sample({"ns": ns}, batch, g, time_scale=time_scale)
    inputs = data.inputs.to(dtype).requires_grad_()
    h0 = net.init_state(batch, g).requires_grad_()
    out = net(inputs, h0, n_heads=len(ns), return_trajectory=read == "trajectory", time_scale=data.time_scale)
    loss = multi_head_loss(out.logits, data.final_targets)
    if read == "trajectory":
        loss = loss + 0.1 * out.trajectory.square().mean()
    loss.backward()
    grads = {name: p.grad.detach().clone() for name, p in net.named_parameters() if p.grad is not None}
    grads["h0"] = h0.grad.detach().clone()
    grads["inputs"] = inputs.grad.detach().clone()
    return out.final_state.detach(), grads


def rel_err(a, b):
    return ((a - b).norm() / b.norm().clamp_min(torch.finfo(b.dtype).tiny)).item()


@pytest.mark.parametrize("read", ["final", "trajectory"])
@pytest.mark.parametrize("curriculum", list(CURRICULA))
@pytest.mark.parametrize("train_tau", [True, False])
@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
def test_fast_path_gradients_match_plain_autograd_fp32(nonlinearity, placement, train_tau, curriculum, read):
    net = make_net(nonlinearity, placement, train_tau)
    ns = CURRICULA[curriculum]
    states_fast, fast = gradients(net, "parity", ns, fused=True, dtype=torch.float32, read=read)
    states_ref, ref = gradients(net, "parity", ns, fused=False, dtype=torch.float32, read=read)
    assert fast.keys() == ref.keys()
    assert ("tau" in ref) == train_tau
    torch.testing.assert_close(states_fast, states_ref, rtol=1e-5, atol=1e-6)
    for name in ref:
        assert rel_err(fast[name], ref[name]) <= 1e-5, name
    # The diagonal of W is not a parameter of the model: no gradient reaches it.
    assert torch.all(fast["recurrent.weight"].diagonal() == 0)


@pytest.mark.parametrize("read", ["final", "trajectory"])
@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
def test_fast_path_gradients_match_plain_autograd_fp64(nonlinearity, placement, read):
    net = make_net(nonlinearity, placement, True, dtype=torch.float64)
    _, fast = gradients(net, "dms", CURRICULA["multi"], fused=True, dtype=torch.float64, read=read)
    _, ref = gradients(net, "dms", CURRICULA["multi"], fused=False, dtype=torch.float64, read=read)
    for name in ref:
        assert rel_err(fast[name], ref[name]) <= 1e-12, name


def test_gradcheck_of_the_recurrence():
    torch.manual_seed(3)
    T, B, H, D = 5, 3, 6, 2
    for placement, nonlinearity, final_only in itertools.product(PLACEMENTS, ["tanh", "sigmoid"], [False, True]):
        args = [
            torch.randn(T, B, D, dtype=torch.float64),
            torch.randn(B, H, dtype=torch.float64),
            torch.randn(H, H, dtype=torch.float64),  # a diagonal too: the function does not assume a mask
            torch.randn(H, dtype=torch.float64),
            torch.randn(H, D, dtype=torch.float64),
            torch.rand(H, dtype=torch.float64) * 0.9 + 0.05,
        ]
        args = [a.requires_grad_() for a in args]
        assert torch.autograd.gradcheck(
            lambda *a: leaky_recurrence(*a, placement, nonlinearity, final_only=final_only), args
        )


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_states_without_gradients_equal_the_step_loop(placement):
    net = make_net("leaky_relu", placement, True)
    x = (torch.rand(40, 5, 1) < 0.5).float()
    h0 = net.init_state(5)
    with torch.no_grad():
        fast = net.run(x, h0)
        h = h0
        for t, xt in enumerate(x):
            h = net.step(h, xt)
            torch.testing.assert_close(fast[t], h, rtol=1e-5, atol=1e-6)
    assert fast.shape == (40, 5, net.hidden_size) and not fast.requires_grad


def test_empty_sequence_and_h0_left_untouched():
    net = make_net("tanh", "outside", True)
    h0 = net.init_state(3)
    keep = h0.clone()
    assert net.run(torch.zeros(0, 3, 1), h0).shape == (0, 3, net.hidden_size)
    net.run(torch.ones(4, 3, 1), h0).sum().backward()
    assert torch.equal(h0, keep)


def test_precision_argument_is_validated():
    with pytest.raises(ValueError, match="precision"):
        LeakyRNN(hidden_size=4, precision="fp16")


@pytest.mark.parametrize("native", [True, False], ids=["bf16-units", "emulated"])
@pytest.mark.parametrize("placement", PLACEMENTS)
def test_bf16_stays_close_to_fp32(placement, native, monkeypatch):
    """Both bf16 paths (bf16 products where the hardware has them, rounded operands in fp32
    elsewhere) are exercised on any machine: the probe is forced either way."""
    monkeypatch.setattr(runtime, "native_bf16", lambda device_type: native)
    net = make_net("leaky_relu", placement, True)
    net16 = make_net("leaky_relu", placement, True)
    net16.precision = "bf16"
    _, g32 = gradients(net, "parity", CURRICULA["multi"], fused=True, dtype=torch.float32)
    s16, g16 = gradients(net16, "parity", CURRICULA["multi"], fused=True, dtype=torch.float32)
    assert s16.dtype == torch.float32 and all(g.dtype == torch.float32 for g in g16.values())
    for name in ("recurrent.weight", "tau", "input.weight"):
        assert 0 < rel_err(g16[name], g32[name]) < 0.1, name  # rounded (not fp32), but close


@pytest.fixture
def one_thread():
    """Small networks train several times faster on one thread on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_bf16_solves_a_small_multi_head_curriculum(one_thread):
    """With bf16 products the network still learns: multi-head parity N = 2, 3, 4 at H = 64."""
    torch.manual_seed(0)
    net = LeakyRNN(hidden_size=64, n_heads=4, precision="bf16")
    task = get_task("parity")
    g = torch.Generator().manual_seed(0)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.1, nesterov=True)
    ns = [2]
    for _ in range(60):  # epochs of 50 steps; the curriculum adds a head when solved
        for _ in range(50):
            train_step(net, opt, task.sample({"ns": ns}, 64, g), 2.0, g)
        acc = accuracy(net, task, {"ns": ns}, 4, 128, g)
        if acc.mean() > 0.98 and acc[-1] > 0.98:
            if ns[-1] == 4:
                break
            ns = ns + [ns[-1] + 1]
    assert ns[-1] == 4 and acc.mean() > 0.98 and acc[-1] > 0.98, (ns, acc.tolist())


def test_native_bf16_probe_is_a_bool():
    assert isinstance(native_bf16("cpu"), bool)


# --- the workspace: memory reused from one batch to the next, never aliasing live data -----------
def _loss(net, x, h0, ns=(2, 3)):
    out = net(x, h0, n_heads=len(ns))
    return out.logits.square().sum(), out.final_state


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_workspace_reuse_never_aliases_live_data(placement):
    net = make_net("tanh", placement, True)
    g = torch.Generator().manual_seed(0)
    xs = [(torch.rand(T, 4, 1, generator=g) < 0.5).float() for T in (9, 12, 7)]
    h0s = [net.init_state(4, g) for _ in xs]

    def grads(fused):
        net.fused = fused
        net.zero_grad(set_to_none=True)
        # two graphs alive at once (the second forward must not reuse the first one's memory),
        # then a third batch of another length after both backward passes
        (la, fa), (lb, fb) = _loss(net, xs[0], h0s[0]), _loss(net, xs[1], h0s[1])
        (la + lb).backward()
        lc, fc = _loss(net, xs[2], h0s[2])
        lc.backward()
        return [p.grad.clone() for p in net.parameters() if p.grad is not None], [fa, fb, fc]

    fast, fast_states = grads(True)
    ref, ref_states = grads(False)
    for a, b in zip(fast, ref):
        assert rel_err(a, b) <= 1e-5
    for a, b in zip(fast_states, ref_states):  # final states handed out earlier are left untouched
        torch.testing.assert_close(a, b)


def test_workspace_memory_is_reused_between_batches():
    net = make_net("leaky_relu", "outside", True)
    x = (torch.rand(10, 4, 1) < 0.5).float()
    for _ in range(3):
        _loss(net, x, net.init_state(4))[0].backward()
    pointers = {k: b.data_ptr() for k, b in net.workspace._buffers.items()}
    assert {k[0] for k in pointers} >= {"states", "gradients"}
    _loss(net, x[:6], net.init_state(4))[0].backward()  # shorter: fits in the same memory
    assert {k: b.data_ptr() for k, b in net.workspace._buffers.items()} == pointers
    with torch.no_grad():
        first = net(x, net.init_state(4)).final_state
        second = net(x[:3], net.init_state(4)).final_state
    assert not torch.equal(first, second) and first.data_ptr() != second.data_ptr()


def test_second_backward_through_a_retained_graph():
    net = make_net("leaky_relu", "outside", True)
    x = (torch.rand(10, 4, 1) < 0.5).float()
    loss, _ = _loss(net, x, net.init_state(4))
    loss.backward(retain_graph=True)
    once = net.recurrent.weight.grad.clone()
    loss.backward(retain_graph=True)  # nothing ran in between: the saved states are intact
    torch.testing.assert_close(net.recurrent.weight.grad, 2 * once)
    _loss(net, x, net.init_state(4))  # a new forward pass takes the memory over
    with pytest.raises(RuntimeError, match="fused=False"):
        loss.backward()
