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
    if isinstance(model64, LeakyRNN):
        return _leaky_rnn_jacobian(model64, h, x)
    return torch.func.jacrev(lambda v: model64.step(v[None], x[None])[0])(h).detach()


def _leaky_rnn_jacobian(model: LeakyRNN, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    # closed form (equal to autograd's, much cheaper than H backward passes)
    with torch.no_grad():
        inv = 1.0 / model.tau_hat()
        w = model.recurrent_weight()
        drive = w @ h + model.recurrent.bias + model.input(x[None])[0]
    derivative = nonlinearity(model.nonlinearity).derivative
    if model.placement == "outside":
        dphi = derivative((1 - inv) * h + drive * inv)
        return dphi[:, None] * (torch.diag(1 - inv) + inv[:, None] * w)
    dphi = derivative(drive)
    return torch.diag(1 - inv) + (inv * dphi)[:, None] * w


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
