"""Changed copies of a trained network (docs/science.md, robustness): perturbed W or tau, silenced neurons,
continuous-time rescaling. The original network is never modified.

The tensor functions (:func:`perturb_w`, :func:`perturb_tau`) work on any leading batch
dimensions, so a sweep draws the noise of all its repeats in one call; the ``*_copy`` functions
return a whole network, for one change at a time.

Parameter names are the model's (``tau``, ``recurrent.weight``, ``input.weight``,
``recurrent.bias``, ``input.bias``, ``readout.weight``); tau is in time steps and the forward
pass uses max(tau, 1).
"""

from __future__ import annotations

import copy
from typing import Sequence

import numpy as np
import torch

from rnn_timescales.models.base import RecurrentModel
from rnn_timescales.models.leaky_rnn import rescaled_tau
from rnn_timescales.tasks.base import repeat_steps

W_MODES = ("normalized", "multiplicative")
TAU_MODES = ("normalized_abs", "normalized", "additive", "multiplicative")
DIRECTIONS = ("offdiag", "paper")
ABLATION_RULES = ("spec", "paper")
TARGETS = ("w", "tau")


def default_mode(target: str) -> str:
    """The paper's perturbation of ``target``: ``normalized`` for W, ``normalized_abs`` for tau."""
    return {"w": "normalized", "tau": "normalized_abs"}[_check_target(target)]


def _check_target(target: str) -> str:
    if target not in TARGETS:
        raise ValueError(f"unknown perturbation target {target!r}; choose one of {', '.join(TARGETS)}")
    return target


def check_mode(target: str, mode: str) -> str:
    """``mode`` if it is a perturbation of ``target``; ValueError naming the choices otherwise."""
    modes = W_MODES if _check_target(target) == "w" else TAU_MODES
    if mode not in modes:
        raise ValueError(f"unknown {target} perturbation {mode!r}; choose one of {', '.join(modes)}")
    return mode


def draw_noise(target: str, mode: str, shape: Sequence[int], generator: torch.Generator | None = None,
               device: torch.device | str = "cpu") -> torch.Tensor:
    """The random draw a perturbation of ``target`` in ``mode`` needs, of ``shape``: U(0, 1) for
    ``multiplicative``, N(0, 1) for every other mode."""
    check_mode(target, mode)
    draw = torch.rand if mode == "multiplicative" else torch.randn
    return draw(tuple(shape), generator=generator, device=device)


def _per_batch(epsilon: float | torch.Tensor, like: torch.Tensor, trailing: int) -> torch.Tensor:
    """epsilon as a tensor that broadcasts over the last ``trailing`` dimensions of ``like``."""
    eps = torch.as_tensor(epsilon, dtype=like.dtype, device=like.device)
    if (eps < 0).any() or not torch.isfinite(eps).all():
        raise ValueError(f"perturbation strengths must be finite and >= 0, got {epsilon}")
    return eps.reshape(eps.shape + (1,) * trailing)


def perturb_w(w: torch.Tensor, epsilon: float | torch.Tensor, noise: torch.Tensor, mode: str = "normalized",
              direction: str = "offdiag") -> torch.Tensor:
    """The perturbed recurrent weight, its diagonal held at zero.

    w: (H, H), the masked recurrent weight (diagonal zero). noise: (..., H, H) from
    :func:`draw_noise`. epsilon: a number or a tensor of the leading shape ``...``.
    Returns (..., H, H).

    - ``normalized`` (the paper's "normalized rnn"): W + eps ||W||_F D / ||D||_F with D = noise.
      ``direction="offdiag"`` (default) takes D off the diagonal, so ||dW||_F = eps ||W||_F
      exactly; ``direction="paper"`` normalises D over all H^2 entries, as the paper code does,
      whose forward pass then zeroes the diagonal (||dW||_F = eps ||W||_F sqrt(1 - 1/H) on average).
    - ``multiplicative`` (the paper's "multiplicative rnn"): W * (1 + eps U), U = noise ~ U(0, 1).
    """
    check_mode("w", mode)
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}; choose one of {', '.join(DIRECTIONS)}")
    if w.dim() != 2 or w.shape[0] != w.shape[1] or noise.shape[-2:] != w.shape:
        raise ValueError(f"w must be (H, H) and noise (..., H, H); got {tuple(w.shape)} and {tuple(noise.shape)}")
    eps = _per_batch(epsilon, w, 2)
    offdiag = 1.0 - torch.eye(w.shape[0], dtype=w.dtype, device=w.device)
    if mode == "multiplicative":
        return w * (1.0 + eps * noise) * offdiag
    d = noise * offdiag if direction == "offdiag" else noise
    scale = torch.linalg.matrix_norm(w) / torch.linalg.matrix_norm(d)
    return (w + eps * scale[..., None, None] * d) * offdiag


def perturb_tau(tau: torch.Tensor, epsilon: float | torch.Tensor, noise: torch.Tensor,
                mode: str = "normalized_abs") -> torch.Tensor:
    """The perturbed stored timescales (the forward pass still clamps at 1).

    tau: (H,). noise: (..., H) from :func:`draw_noise`. epsilon: a number or a tensor of the leading
    shape ``...``. Returns (..., H).

    - ``normalized_abs`` (the paper's "normalized tau abs", default): tau + eps ||tau|| |d| / ||d||;
      tau only grows.
    - ``normalized`` (the paper's "normalized tau"): tau + eps ||tau|| d / ||d||.
    - ``additive`` (the paper's "additive tau"): tau + eps d.
    - ``multiplicative``: tau * (1 + eps u), u ~ U(0, 1) (not in the paper code; W's rule applied to tau).
    """
    check_mode("tau", mode)
    if tau.dim() != 1 or noise.shape[-1:] != tau.shape:
        raise ValueError(f"tau must be (H,) and noise (..., H); got {tuple(tau.shape)} and {tuple(noise.shape)}")
    eps = _per_batch(epsilon, tau, 1)
    if mode == "multiplicative":
        return tau * (1.0 + eps * noise)
    if mode == "additive":
        return tau + eps * noise
    d = noise.abs() if mode == "normalized_abs" else noise
    scale = torch.linalg.vector_norm(tau) / torch.linalg.vector_norm(d, dim=-1, keepdim=True)
    return tau + eps * scale * d


def perturbed_copy(model: RecurrentModel, target: str, epsilon: float, generator: torch.Generator | None = None,
                   mode: str | None = None, direction: str = "offdiag") -> RecurrentModel:
    """A copy of ``model`` with W (``target="w"``) or tau (``"tau"``) perturbed by one fresh draw
    from ``generator`` (see :func:`perturb_w`, :func:`perturb_tau`)."""
    mode = mode or default_mode(target)
    out = copy.deepcopy(model)
    with torch.no_grad():
        if target == "w":
            w = model.recurrent_weight()
            noise = draw_noise("w", mode, w.shape, generator, w.device)
            out.recurrent.weight.copy_(perturb_w(w, epsilon, noise, mode, direction))
        else:
            tau = tau_of(model)
            out.tau.copy_(perturb_tau(tau, epsilon, draw_noise("tau", mode, tau.shape, generator, tau.device), mode))
    return out


def tau_of(model: RecurrentModel) -> torch.Tensor:
    """The stored (unclamped) timescales of ``model``, (H,), detached; ValueError if it has none."""
    tau = getattr(model, "tau", None)
    if not isinstance(tau, torch.Tensor) or tau.dim() != 1:
        raise ValueError(f"{type(model).__name__} has no per-neuron timescales tau to change")
    return tau.detach()


# --- ablation ------------------------------------------------------------------------------------
def check_neurons(neurons: Sequence[int] | np.ndarray, hidden: int) -> list[int]:
    """``neurons`` as a list of distinct indices in 0..hidden-1 (ValueError otherwise)."""
    idx = [int(i) for i in np.atleast_1d(np.asarray(neurons))]
    if not idx or any(not 0 <= i < hidden for i in idx) or len(set(idx)) != len(idx):
        raise ValueError(f"neurons to ablate must be distinct indices in 0..{hidden - 1}, got {idx}")
    return idx


def ablated_copy(model: RecurrentModel, neurons: Sequence[int], rule: str = "spec") -> RecurrentModel:
    """A copy of ``model`` with ``neurons`` silenced.

    Both rules zero row and column i of W and row i of U for every ablated neuron i.

    - ``spec`` (docs/science.md, robustness, default): and column i of every readout head, and the neuron's
      biases b_W[i], b_U[i]. Nothing reads neuron i any more, so its biases change no output;
      zeroing them (and starting it from h_0[i] = 0, see :func:`silence_mask`) makes its activity
      exactly zero when phi(0) = 0 (every nonlinearity but sigmoid).
    - ``paper`` (the paper code): and column i of head 0 only, biases kept. A multi-head network
      evaluated on another head still reads neuron i, which then runs on its own bias.
    """
    if rule not in ABLATION_RULES:
        raise ValueError(f"unknown ablation rule {rule!r}; choose one of {', '.join(ABLATION_RULES)}")
    idx = torch.tensor(check_neurons(neurons, model.hidden_size), dtype=torch.long)
    out = copy.deepcopy(model)
    with torch.no_grad():
        w = out.recurrent.weight
        idx = idx.to(w.device)
        w[idx, :] = 0.0
        w[:, idx] = 0.0
        out.input.weight[idx, :] = 0.0
        if rule == "spec":
            out.readout.weight[:, :, idx] = 0.0
            out.recurrent.bias[idx] = 0.0
            out.input.bias[idx] = 0.0
        else:
            out.readout.weight[0, :, idx] = 0.0
    return out


def silence_mask(hidden: int, neurons: Sequence[int], device: torch.device | str = "cpu") -> torch.Tensor:
    """(hidden,) float mask, 0 at ``neurons`` and 1 elsewhere: multiplies an initial state so that
    silenced neurons start at zero."""
    keep = torch.ones(hidden, device=device)
    keep[check_neurons(neurons, hidden)] = 0.0
    return keep


def rank_neurons(values: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """The ``n`` neurons with the smallest and the ``n`` with the largest ``values`` (ascending
    each, ties in index order; NaN values are never chosen): ``{"short": ..., "long": ...}``.
    With fewer than 2n valid neurons the two sets overlap."""
    values = np.asarray(values, dtype=np.float64)
    valid = np.flatnonzero(np.isfinite(values))
    if n < 1 or n > valid.size:
        raise ValueError(f"cannot pick {n} neurons from each end of {valid.size} neurons with a finite value")
    order = valid[np.argsort(values[valid], kind="stable")]
    return {"short": order[:n], "long": order[-n:]}


def groups_of(neurons: np.ndarray, size: int) -> list[np.ndarray]:
    """``neurons`` cut into consecutive groups of ``size`` (the last may be smaller)."""
    if size < 1:
        raise ValueError(f"group size must be >= 1, got {size}")
    return [neurons[i:i + size] for i in range(0, len(neurons), size)]


# --- continuous time -----------------------------------------------------------------------------
def rescaled_copy(model: RecurrentModel, k: int) -> RecurrentModel:
    """A copy of ``model`` as a discretisation k times finer (docs/science.md, the model): stored tau
    replaced by :func:`~rnn_timescales.models.leaky_rnn.rescaled_tau` (tau k), so its forward pass
    uses max(tau k, 1) -- the same network as ``model`` run with ``time_scale=k``, which is what
    training with repeated inputs and :func:`~.sweeps.continuous_sweep` use. For k = 1 the copy's
    parameters equal the original's bit for bit. Feed it :func:`repeat_inputs` of the original input."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    tau = tau_of(model)
    out = copy.deepcopy(model)
    with torch.no_grad():
        out.tau.copy_(rescaled_tau(tau, int(k)))
    return out


def repeat_inputs(inputs: torch.Tensor, k: int) -> torch.Tensor:
    """Every time step of ``inputs`` (time, batch, input) repeated k times: (time * k, batch, input)
    (:func:`rnn_timescales.tasks.base.repeat_steps`, which the tasks use for ``time_scale``)."""
    return repeat_steps(inputs, k)
