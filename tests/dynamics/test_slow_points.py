"""Slow-point finder: fixed points known in closed form, stability, timescales, no side effects."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.optimize import brentq
from torch import nn

from rnn_timescales.dynamics.jacobian import step_jacobian, step_jacobians
from rnn_timescales.dynamics.slow_points import SlowPoints, find_slow_points, sample_states, speed
from rnn_timescales.models import LeakyRNN


class Linear(nn.Module):
    """h' = A h + B x + b: one fixed point (I - A)^{-1} (B x + b), stable iff spectral radius < 1."""

    def __init__(self, a, b_in, bias):
        super().__init__()
        self.a = nn.Parameter(torch.as_tensor(a, dtype=torch.float64))
        self.b_in = nn.Parameter(torch.as_tensor(b_in, dtype=torch.float64))
        self.bias = nn.Parameter(torch.as_tensor(bias, dtype=torch.float64))

    def step(self, h, x):
        return h @ self.a.T + x @ self.b_in.T + self.bias

    def fixed_point(self, x):
        a, b, c = (t.detach().numpy() for t in (self.a, self.b_in, self.bias))
        return np.linalg.solve(np.eye(len(a)) - a, b @ x + c)


class TanhNet(nn.Module):
    """h' = tanh(W h), float32, with a dropout layer (inactive in eval mode) to exercise the
    training flags."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.as_tensor(w, dtype=torch.float32))
        self.drop = nn.Dropout(0.5)

    def step(self, h, x):
        return torch.tanh(self.drop(h) @ self.w.T)


class LSTMModel(nn.Module):
    """An LSTM core under the model contract: the state is h and c concatenated."""

    def __init__(self, hidden, inputs=1):
        super().__init__()
        self.hidden_size = hidden
        self.cell = nn.LSTMCell(inputs, hidden)

    def step(self, state, x):
        h, c = self.cell(x, (state[:, : self.hidden_size], state[:, self.hidden_size:]))
        return torch.cat([h, c], dim=1)


A_POS = brentq(lambda s: s - math.tanh(2 * s), 0.5, 1.5)  # the non-zero root of a = tanh(2a)


def _match(found: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """For each expected point, the distance to the nearest found one."""
    return np.array([np.linalg.norm(found - e, axis=1).min() for e in expected])


# --- closed form -----------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["stable", "unstable", "rotation"])
def test_linear_rnn_fixed_point_and_stability(case):
    if case == "stable":
        a = [[0.5, 0.2, 0.0], [-0.1, 0.3, 0.1], [0.0, 0.2, 0.6]]
    elif case == "unstable":
        a = [[1.5, 0.2, 0.0], [0.0, 0.3, 0.1], [0.0, 0.0, 0.6]]
    else:  # a rotation by 30 degrees shrunk by 0.9, and a third mode at 0.5
        c, s = 0.9 * math.cos(math.pi / 6), 0.9 * math.sin(math.pi / 6)
        a = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 0.5]]
    model = Linear(a, [[1.0], [0.5], [-1.0]], [0.1, -0.2, 0.3])
    x = np.array([0.7])
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(20, 3, generator=gen, dtype=torch.float64)
    res = find_slow_points(model, x0, torch.tensor(x))
    radius = np.abs(np.linalg.eigvals(np.array(a))).max()
    frame = res.to_frame()
    assert res.n_points == 1 and frame["n_initial"].iloc[0] == 20
    np.testing.assert_allclose(res.states[0], model.fixed_point(x), atol=1e-4)
    assert bool(frame["stable"].iloc[0]) == (radius < 1)
    np.testing.assert_allclose(frame["spectral_radius"].iloc[0], radius, rtol=1e-10)
    if case == "unstable":
        assert frame["timescale_max"].iloc[0] == np.inf and frame["n_unstable"].iloc[0] == 1
        np.testing.assert_allclose(frame["timescale_max_decaying"].iloc[0], -1 / math.log(0.6), rtol=1e-10)
    else:
        np.testing.assert_allclose(frame["timescale_max"].iloc[0], -1 / math.log(radius), rtol=1e-10)
    if case == "rotation":  # the complex pair shares the slowest timescale
        np.testing.assert_allclose(frame[["timescale_1", "timescale_2"]].iloc[0], -1 / math.log(0.9), rtol=1e-10)
        np.testing.assert_allclose(frame["timescale_3"].iloc[0], -1 / math.log(0.5), rtol=1e-10)
        # each unit alone decays by J_ii = 0.9 cos 30 degrees: the slow mode is collective
        np.testing.assert_allclose(frame["unit_timescale_max"].iloc[0], -1 / math.log(c), rtol=1e-10)


def test_two_attractors_and_a_saddle():
    # W = R diag(2, 0.5) R^T with R a 45-degree rotation: saddle at 0 (eigenvalues 2 and 0.5);
    # attractors at +-(a, a) with a = tanh(2a), where J = (1 - a^2) W.
    w = np.array([[1.25, 0.75], [0.75, 1.25]])
    model = TanhNet(w)
    gen = torch.Generator().manual_seed(1)
    x0 = torch.rand(200, 2, generator=gen) * 2.4 - 1.2
    res = find_slow_points(model, x0, torch.zeros(1))
    expected = np.array([[0.0, 0.0], [A_POS, A_POS], [-A_POS, -A_POS]])
    assert res.n_points == 3
    assert _match(res.states, expected).max() < 1e-4
    frame = res.to_frame()
    for state, stable, n_unstable, tau in zip(res.states, frame["stable"], frame["n_unstable"], frame["timescale_max"]):
        if np.linalg.norm(state) < 1e-3:
            assert not stable and n_unstable == 1 and tau == np.inf
        else:
            assert stable and n_unstable == 0
            np.testing.assert_allclose(tau, -1 / math.log(2 * (1 - A_POS**2)), rtol=1e-4)


def test_all_27_fixed_points_of_three_bistable_units():
    # h' = tanh(2 h) per unit: each coordinate is -a, 0 or a; stable iff no coordinate is 0, and
    # the number of unstable directions is the number of zeros.
    model = TanhNet(2 * np.eye(3))
    gen = torch.Generator().manual_seed(0)
    x0 = torch.rand(400, 3, generator=gen) * 2.4 - 1.2
    res = find_slow_points(model, x0, torch.zeros(1))
    expected = np.array(list(itertools.product([-A_POS, 0.0, A_POS], repeat=3)))
    assert res.n_points == 27
    assert _match(res.states, expected).max() < 1e-4
    frame = res.to_frame()
    zeros = (np.abs(res.states) < 1e-3).sum(axis=1)
    np.testing.assert_array_equal(frame["n_unstable"], zeros)
    np.testing.assert_array_equal(frame["stable"].to_numpy(bool), zeros == 0)
    assert (frame["q"] < 1e-11).all() and frame["converged"].all()
    assert frame["n_initial"].sum() == 400


def test_lstm_state_includes_the_cell():
    torch.manual_seed(0)
    model = LSTMModel(6)
    x = torch.tensor([0.3])
    # the map contracts here: iterating it gives the stable fixed point
    with torch.no_grad():
        state = torch.zeros(1, 12)
        for _ in range(2000):
            state = model.step(state, x[None])
    gen = torch.Generator().manual_seed(0)
    res = find_slow_points(model, 0.5 * torch.randn(30, 12, generator=gen), x)
    assert res.states.shape[1] == 12
    nearest = np.linalg.norm(res.states - state.numpy(), axis=1).argmin()
    np.testing.assert_allclose(res.states[nearest], state[0].numpy(), atol=1e-4)
    assert res.to_frame()["stable"].iloc[nearest]


# --- no side effects, reproducibility -------------------------------------------------------
def _snapshot(model):
    return ({k: v.clone() for k, v in model.state_dict().items()},
            {n: p.requires_grad for n, p in model.named_parameters()},
            {n: m.training for n, m in model.named_modules()},
            {n: p.grad for n, p in model.named_parameters()})


@pytest.mark.parametrize("training", [True, False])
def test_model_is_unchanged(training):
    model = TanhNet(2 * np.eye(3))
    model.train(training)
    model.drop.train(not training)  # mixed flags must come back as they were
    model.w.requires_grad_(training)
    before = _snapshot(model)
    gen = torch.Generator().manual_seed(0)
    find_slow_points(model, torch.rand(50, 3, generator=gen), torch.zeros(1), dtype="float64")
    after = _snapshot(model)
    for k in before[0]:
        assert torch.equal(before[0][k], after[0][k]) and before[0][k].dtype == after[0][k].dtype
    assert before[1:] == after[1:]
    assert all(g is None for g in after[3].values())


def test_deterministic_and_equal_to_one_state_at_a_time():
    model = TanhNet(np.array([[1.25, 0.75], [0.75, 1.25]]))
    gen = torch.Generator().manual_seed(3)
    x0 = torch.rand(12, 2, generator=gen) * 2.4 - 1.2
    a = find_slow_points(model, x0, torch.zeros(1))
    b = find_slow_points(model, x0, torch.zeros(1))
    for name in ("states", "q", "final_states", "final_q", "final_iterations", "assignment", "eigenvalues"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    # each point has its own rate and stopping rule: the batch is the same as running them one by one
    for i in (0, 5, 11):
        single = find_slow_points(model, x0[i:i + 1], torch.zeros(1), compute_jacobians=False)
        np.testing.assert_allclose(single.final_states[0], a.final_states[i], atol=1e-5)


# --- container --------------------------------------------------------------------------------
def test_save_load_round_trip_without_pickle(tmp_path):
    model = TanhNet(2 * np.eye(2))
    gen = torch.Generator().manual_seed(0)
    res = find_slow_points(model, torch.rand(40, 2, generator=gen) * 2 - 1, torch.zeros(1), tol_unique=1e-2)
    path = res.save(tmp_path / "points.npz")
    back = SlowPoints.load(path)
    for name in ("states", "q", "eigenvalues", "jacobians", "assignment", "initial_states", "final_converged"):
        np.testing.assert_array_equal(getattr(back, name), getattr(res, name))
    assert back.hyperparameters == res.hyperparameters and back.hyperparameters["tol_unique"] == 1e-2
    assert back.to_frame().equals(res.to_frame())
    with np.load(path, allow_pickle=False) as data:  # plain arrays only
        assert all(data[k].dtype != object for k in data.files)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable slow-point file"):
        SlowPoints.load(tmp_path / "bad.npz")
    np.savez(tmp_path / "foreign.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not a slow-point file"):
        SlowPoints.load(tmp_path / "foreign.npz")


def test_frame_columns_and_initial_frame():
    model = TanhNet(2 * np.eye(2))
    gen = torch.Generator().manual_seed(0)
    res = find_slow_points(model, torch.rand(30, 2, generator=gen) * 2 - 1, torch.zeros(1))
    frame = res.to_frame()
    assert {"q", "stable", "timescale_max", "speed", "n_unstable", "iterations", "initial_index", "n_initial"} <= set(frame)
    assert frame["stable"].dtype == bool and len(frame) == res.n_points == res.states.shape[0]
    assert (np.diff(frame["q"]) >= 0).all()  # slowest first
    init = res.initial_frame()
    assert len(init) == 30 and set(init["point"]) <= set(range(res.n_points)) | {-1}
    # every point's representative initial state ended there
    assert (init["point"].to_numpy()[frame["initial_index"]] == frame["point"].to_numpy()).all()


def test_distance_outliers_are_excluded():
    # h' = h + exp(-h): no fixed point, q = exp(-2h)/2 -> 0 only as h -> inf (like a GRU whose
    # update gate saturates), so every search runs away from the initial states.
    class RunAway(nn.Module):
        def __init__(self):
            super().__init__()
            self.k = nn.Parameter(torch.ones(1))

        def step(self, h, x):
            return h + self.k * torch.exp(-h)

    gen = torch.Generator().manual_seed(0)
    res = find_slow_points(RunAway(), torch.rand(10, 1, generator=gen), torch.zeros(1), max_iters=2000, lr_init=1.0)
    assert res.n_points == 0 and (res.assignment == -1).all()
    assert res.to_frame().empty
    kept = find_slow_points(RunAway(), torch.rand(10, 1, generator=gen), torch.zeros(1), max_iters=2000, lr_init=1.0,
                            exclude_distance_outliers=False, tol_unique=1e9)
    assert kept.n_points == 1


def test_speed_is_half_squared_step():
    model = Linear(np.eye(2) * 0.5, [[1.0], [0.0]], [0.0, 1.0])
    h = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    # F(h) = (0.5 + 0.3, 1 + 1) = (0.8, 2.0); F - h = (-0.2, 0)
    np.testing.assert_allclose(speed(model, h, torch.tensor([0.3], dtype=torch.float64)).detach().numpy(), [0.02])


def test_bad_hyperparameters_and_shapes():
    model = TanhNet(np.eye(2))
    x0 = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="did you mean 'tol_q'"):
        find_slow_points(model, x0, torch.zeros(1), tolq=1e-3)
    with pytest.raises(ValueError, match="lr_init must be a positive number"):
        find_slow_points(model, x0, torch.zeros(1), lr_init=0)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        find_slow_points(model, x0, torch.zeros(1), optimizer="lbfgs")
    with pytest.raises(ValueError, match="initial_states must have shape"):
        find_slow_points(model, torch.zeros(2), torch.zeros(1))
    with pytest.raises(ValueError, match="inputs must have shape"):
        find_slow_points(model, x0, torch.zeros(2, 1))


def test_sample_states_is_reproducible():
    traj = torch.arange(60.0).reshape(10, 3, 2)
    a, ia = sample_states(traj, 7, 0.1, torch.Generator().manual_seed(4))
    b, ib = sample_states(traj, 7, 0.1, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and torch.equal(ia, ib) and a.shape == (7, 2)
    clean, idx = sample_states(traj, 7, 0.0, torch.Generator().manual_seed(4))
    assert torch.equal(clean, traj[idx[:, 0], idx[:, 1]])
    valid = torch.zeros(10, 3, dtype=torch.bool)
    valid[9, 2] = True
    _, only = sample_states(traj, 5, 0.0, valid=valid)
    assert (only == torch.tensor([9, 2])).all()


# --- Jacobians ---------------------------------------------------------------------------------
def test_batched_jacobians_equal_single_ones():
    torch.manual_seed(0)
    for model in (LeakyRNN(7, n_heads=1, nonlinearity="tanh"), LSTMModel(3)):
        size = 7 if isinstance(model, LeakyRNN) else 6
        h = torch.randn(4, size)
        x = torch.randn(4, 1)
        batched = step_jacobians(model, h, x, chunk_bytes=8 * size * size * 3)  # two chunks
        for i in range(4):
            torch.testing.assert_close(batched[i], step_jacobian(model, h[i], x[i]))
        if isinstance(model, LeakyRNN):  # the closed form against autograd
            m64 = LeakyRNN(7, n_heads=1, nonlinearity="tanh").double()
            m64.load_state_dict(model.double().state_dict())
            auto = torch.func.jacrev(lambda v: m64.step(v[None], x[0:1].double())[0])(h[0].double())
            torch.testing.assert_close(batched[0], auto.detach())


# --- the reference network ---------------------------------------------------------------------
def test_reference_network_slow_points_have_finite_timescales(reference_dir):
    from rnn_timescales.tasks import get_task
    from rnn_timescales.runs import load_any

    ckpt = load_any(reference_dir / "cumulative_parity_network_1" / "rnn_N2_N11")
    gen = torch.Generator().manual_seed(0)
    batch = get_task(ckpt.task).stream(ckpt.ns, 150, 2, gen)
    with torch.no_grad():
        traj = ckpt.model.run(batch.inputs, ckpt.model.init_state(2, gen))[50:]
    x0, _ = sample_states(traj, 8, 0.05, gen)
    res = find_slow_points(ckpt.model, x0, torch.tensor([0.5]), max_iters=1500)
    frame = res.to_frame()
    assert res.n_points >= 1 and res.states.shape[1] == 500
    stable = frame[frame["stable"]]
    assert len(stable) >= 1 and np.isfinite(stable["timescale_max"]).all() and (stable["timescale_max"] > 0).all()
    assert (frame["q"] < 1e-6).all()


def test_near_duplicates_chain_into_one_point():
    from rnn_timescales.dynamics.slow_points import _unique

    # a shallow minimum reached from many starts: ends spread along a line, 0.8e-3 apart
    data = np.array([[0.0, 0.0], [8e-4, 0.0], [1.6e-3, 0.0], [2.4e-3, 0.0], [1.0, 0.0], [5.0, 5.0]])
    q = np.array([0.3, 0.1, 0.2, 0.4, 0.05, 0.7])
    keep = np.array([True, True, True, True, True, False])
    assignment, reps = _unique(data, q, keep, tol=1e-3)
    np.testing.assert_array_equal(reps, [4, 1])  # slowest group first, each by its slowest member
    np.testing.assert_array_equal(assignment, [1, 1, 1, 1, 0, -1])


def test_a_search_that_blows_up_ends_unconverged_and_is_excluded():
    class Blow(nn.Module):
        """h' = h + exp(h): at h = 90, exp(h) overflows float32 and q is infinite."""

        def __init__(self):
            super().__init__()
            self.k = nn.Parameter(torch.ones(1))

        def step(self, h, x):
            return h + self.k * torch.exp(h)

    res = find_slow_points(Blow(), torch.tensor([[-5.0], [90.0]]), torch.zeros(1), max_iters=300)
    assert not res.final_converged[1] and res.final_iterations[1] == 0 and res.assignment[1] == -1
    assert res.n_points == 1 and res.initial_index[0] == 0
