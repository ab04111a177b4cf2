"""Timescales of the linearised dynamics: eigenvalues of the one-step Jacobian (beyond the paper).

Around an operating point (h, x) the update h' = F(h, x) acts on small perturbations as
J = dF/dh, which includes the tau leak. A mode with eigenvalue lambda decays by |lambda| per step,
so its timescale is -1 / ln|lambda| time steps (infinite for |lambda| >= 1: a marginal or unstable
direction). For the leaky RNN with the nonlinearity outside,

    J = diag(phi'(z)) (diag(1 - 1/tau) + diag(1/tau) W),

so an isolated neuron contributes -1/ln(1 - 1/tau) ~ tau - 1/2 and the recurrent term W shows
up as collective modes slower (or faster) than any single neuron. Comparing these with the
autocorrelation tau_net separates slow neurons from slow network modes without fitting anything.
"""

from __future__ import annotations

import numpy as np
import torch

from rnn_timescales.models.base import RecurrentModel
from rnn_timescales.models.leaky_rnn import LeakyRNN
from rnn_timescales.models.nonlinearities import nonlinearity


def step_jacobian(model: RecurrentModel, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """dF/dh of the model's one-step update at one operating point.

    Parameters
    ----------
    model : RecurrentModel
    h : tensor, shape (state_size,)
        The model's whole state (for an LSTM, h and c).
    x : tensor, shape (input,)

    Returns
    -------
    tensor, shape (state_size, state_size): J[i, j] = d h'_i / d h_j
    """
    if h.ndim != 1 or x.ndim != 1:
        raise ValueError(f"h must be (hidden,) and x (input,), got {tuple(h.shape)} and {tuple(x.shape)}")
    h = h.detach().to(torch.float64)
    x = x.detach().to(torch.float64)
    model64 = model if next(model.parameters()).dtype == torch.float64 else _as_float64(model)
    return _jacobians(model64, h[None], x[None])[0]


def step_jacobians(
    model: RecurrentModel, states: torch.Tensor, inputs: torch.Tensor, chunk_bytes: int = 2**28
) -> torch.Tensor:
    """dF/dh of the one-step update at many operating points at once, in float64.

    Parameters
    ----------
    model : RecurrentModel
        Any model whose ``step`` treats the rows of a batch independently (every model does).
    states : tensor, shape (points, state)
    inputs : tensor, shape (points, input)
    chunk_bytes : int
        Points are processed in chunks whose Jacobians take about this much memory.

    Returns
    -------
    tensor, shape (points, state, state), float64, on the model's device:
    ``J[p, i, j] = d h'_i / d h_j`` at point p. Closed form for the leaky RNN; otherwise one
    reverse-mode pass per state dimension for all points of a chunk together.
    """
    if states.ndim != 2 or inputs.ndim != 2 or states.shape[0] != inputs.shape[0]:
        raise ValueError("states must be (points, state) and inputs (points, input), with the same points, "
                         f"got {tuple(states.shape)} and {tuple(inputs.shape)}")
    model64 = model if next(model.parameters()).dtype == torch.float64 else _as_float64(model)
    device = next(model64.parameters()).device
    h = states.detach().to(device=device, dtype=torch.float64)
    x = inputs.detach().to(device=device, dtype=torch.float64)
    size = max(1, chunk_bytes // (8 * h.shape[1] * h.shape[1]))
    if h.shape[0] == 0:
        return h.new_zeros(0, h.shape[1], h.shape[1])
    return torch.cat([_jacobians(model64, h[i:i + size], x[i:i + size]) for i in range(0, h.shape[0], size)])


def _jacobians(model: RecurrentModel, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(points, state, state) Jacobians of a float64 model at float64 points ``h``, inputs ``x``."""
    if getattr(model, "leaky_weights", False):  # declared by the model (any module with step() is accepted)
        return _leaky_rnn_jacobian(model, h, x)
    # rows of a batch do not interact, so d(sum_p F(h)_p)/dh holds every point's Jacobian
    jac = torch.func.jacrev(lambda v: model.step(v, x).sum(0))(h)  # (state, points, state)
    return jac.permute(1, 0, 2).detach()


def _leaky_rnn_jacobian(model: LeakyRNN, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    # closed form (equal to autograd's, much cheaper than H backward passes); h (points, H), x (points, D)
    with torch.no_grad():
        inv = 1.0 / model.tau_hat()
        w = model.recurrent_weight()
        drive = h @ w.T + model.recurrent.bias + model.input(x)
    derivative = nonlinearity(model.nonlinearity).derivative
    if model.placement == "outside":
        dphi = derivative((1 - inv) * h + drive * inv)
        return dphi[:, :, None] * (torch.diag(1 - inv) + inv[:, None] * w)
    dphi = derivative(drive)
    return torch.diag(1 - inv) + (inv * dphi)[:, :, None] * w


def _as_float64(model: RecurrentModel) -> RecurrentModel:
    import copy

    return copy.deepcopy(model).to(torch.float64)


def timescales_from_eigenvalues(eigenvalues: np.ndarray) -> np.ndarray:
    """-1 / ln|lambda| in time steps, sorted slowest first; inf for |lambda| >= 1, 0 for lambda = 0."""
    mod = np.abs(np.asarray(eigenvalues))
    with np.errstate(divide="ignore"):
        tau = np.where(mod >= 1, np.inf, np.where(mod > 0, -1.0 / np.log(np.where(mod > 0, mod, 0.5)), 0.0))
    return np.sort(tau)[::-1]


def jacobian_timescales(
    model: RecurrentModel, states: torch.Tensor, inputs: torch.Tensor, n_slowest: int = 10
) -> dict[str, np.ndarray]:
    """Slowest linearised timescales at several operating points, and of their average Jacobian.

    Parameters
    ----------
    model : RecurrentModel
    states : tensor, shape (points, hidden)
        Operating points, e.g. states visited under the task input.
    inputs : tensor, shape (points, input)
        The input applied at each point.
    n_slowest : int
        How many of the slowest modes to keep.

    Returns
    -------
    dict with ``per_point`` (points, n_slowest) timescales at each point, slowest first;
    ``mean_jacobian`` (n_slowest,) timescales of the Jacobian averaged over the points;
    ``spectral_radius`` (points,) max |lambda| at each point. Time steps.
    """
    if states.ndim != 2 or inputs.ndim != 2 or states.shape[0] != inputs.shape[0]:
        raise ValueError("states must be (points, hidden) and inputs (points, input), with the same points")
    model64 = _as_float64(model)
    per_point, radius, mean_j = [], [], None
    for h, x in zip(states, inputs):
        jac = step_jacobian(model64, h, x)
        # torch's LAPACK keeps to torch's thread count (the analysis sets one); numpy's OpenBLAS
        # starts threads of its own, 5-10x slower on a busy 2-core machine (measured)
        eig = torch.linalg.eigvals(jac).numpy()
        per_point.append(timescales_from_eigenvalues(eig)[:n_slowest])
        radius.append(np.abs(eig).max())
        mean_j = jac if mean_j is None else mean_j + jac
    mean_j = mean_j / states.shape[0]
    return {
        "per_point": np.array(per_point),
        "mean_jacobian": timescales_from_eigenvalues(torch.linalg.eigvals(mean_j).numpy())[:n_slowest],
        "spectral_radius": np.array(radius),
    }
