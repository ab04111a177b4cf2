"""Slow and fixed points of a recurrent network's one-step map (after Sussillo & Barak 2013,
Golub & Sussillo's FixedPointFinder, and [H19]).

For a model with one-step update h' = F(h, u) and a constant input u, the speed of a state is

    q(h) = 1/2 * ||F(h, u) - h||^2.

Fixed points have q = 0; slow points are local minima of q with small q > 0, where the network
lingers. :func:`find_slow_points` minimises q from many initial states at once (every point is
its own problem: it has its own learning rate and stops on its own), merges the minima that
coincide, drops those that ran far away from the initial states, and linearises the map at each
distinct point: Jacobian J = dF/dh, its eigenvalues, stability (spectral radius < 1) and the
timescale -1/ln|lambda| of every mode.

The model is any :class:`~rnn_timescales.models.base.RecurrentModel` (or any module with
``step(state, x)``): its state is one tensor ``(batch, state)``; for an LSTM, h and c
concatenated, so q includes the cell term. The model is never changed: q is differentiated with
respect to the states only, and the modules' training flags are restored after evaluation.
Everything runs on the model's device; the host synchronises only every ``check_every``
iterations. The algorithm and the defaults are described in ``docs/slow_points.md``.

FixedPointFinder's shape (STYLE.md): the hyperparameters (:mod:`.slow_point_settings`) and the
result container (:mod:`.slow_point_result`, save / load / filter) are kept apart from the finder.
"""

from __future__ import annotations

import copy
import math
from contextlib import contextmanager
from dataclasses import asdict
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from rnn_timescales.dynamics.jacobian import step_jacobians
from rnn_timescales.dynamics.slow_point_result import SlowPoints
from rnn_timescales.dynamics.slow_point_settings import SlowPointHyperparameters

# the finder's names, with its hyperparameters' and result's classes (they live beside it)
__all__ = ["SlowPointHyperparameters", "SlowPoints", "find_slow_points", "sample_states", "speed"]
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


# --- the finder ------------------------------------------------------------------------------
def speed(model: nn.Module, states: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """q(h) = 1/2 ||F(h, u) - h||^2 of each state, differentiable (for losses such as [H19]'s
    speed regularisation).

    Parameters
    ----------
    model : module with ``step(state, x)``
    states : tensor, shape (points, state)
    inputs : tensor, shape (points, input) or (input,) (the same input everywhere)

    Returns
    -------
    tensor, shape (points,), in state units squared.
    """
    if inputs.ndim == 1:
        inputs = inputs.expand(states.shape[0], -1)
    return 0.5 * (model.step(states, inputs) - states).square().sum(-1)


def find_slow_points(
    model: nn.Module,
    initial_states: torch.Tensor | np.ndarray,
    inputs: torch.Tensor | np.ndarray,
    *,
    progress: Callable[[int], None] | None = None,
    **hyperparameters,
) -> SlowPoints:
    """Minimise q(h) = 1/2 ||F(h, u) - h||^2 from every initial state; return the distinct minima.

    Parameters
    ----------
    model : module with ``step(state, x) -> state`` on ``(batch, state)``, ``(batch, input)``
        Never changed (parameters, their ``requires_grad`` and the training flags are as before).
    initial_states : array or tensor, shape (n, state)
        Where the searches start (LSTM: h and c concatenated), e.g. from :func:`sample_states`.
    inputs : array or tensor, shape (input,) or (n, input)
        The constant input: one for all, or one per initial state.
    progress : callable, optional
        Called with the number of iterations done since the last call (e.g. ``tqdm.update``).
    **hyperparameters
        Any field of :class:`SlowPointHyperparameters`.

    Returns
    -------
    SlowPoints
    """
    hp = SlowPointHyperparameters.from_kwargs(**hyperparameters)
    param = next(iter(model.parameters()), None)
    if param is None:
        raise ValueError("the model has no parameters; cannot tell its device and dtype")
    dtype = _DTYPES[hp.dtype] if hp.dtype else param.dtype
    if not dtype.is_floating_point:
        raise ValueError(f"the model's parameters are {dtype}; give dtype='float32' or 'float64'")
    device = param.device
    h0 = _as_matrix(initial_states, "initial_states", device, dtype)
    u = _as_matrix(inputs, "inputs", device, dtype, rows=h0.shape[0])
    n, size = h0.shape
    work_model = model if param.dtype == dtype else copy.deepcopy(model).to(dtype)
    with _evaluation_mode(work_model):
        clip_units = min(int(getattr(model, "hidden_size", size)), size)
        final, final_q, iters, converged = _minimise(work_model, h0, u, hp, progress, clip_units)
        final_cpu = final.cpu().numpy()
        keep = np.isfinite(final_cpu).all(axis=1) & np.isfinite(final_q)
        if hp.exclude_distance_outliers and n > 1:
            keep &= _distance_inliers(final_cpu, h0.cpu().numpy(), hp.outlier_distance_scale)
        assignment, reps = _unique(np.concatenate([final_cpu, u.cpu().numpy()], axis=1), final_q, keep, hp.tol_unique)
        eig = diag = jac = None
        if hp.compute_jacobians:
            jac_t = step_jacobians(work_model, final[reps], u[reps])
            eig_t = torch.linalg.eigvals(jac_t)
            order = torch.argsort(eig_t.abs(), dim=1, descending=True)
            eig = torch.gather(eig_t, 1, order).cpu().numpy()
            diag = torch.diagonal(jac_t, dim1=1, dim2=2).cpu().numpy()
            jac = jac_t.cpu().numpy() if hp.keep_jacobians else None
    return SlowPoints(
        states=final_cpu[reps],
        inputs=u.cpu().numpy()[reps],
        q=final_q[reps],
        iterations=iters[reps],
        converged=converged[reps],
        initial_index=reps,
        n_initial=np.bincount(assignment[assignment >= 0], minlength=len(reps)).astype(np.int64),
        initial_states=h0.cpu().numpy(),
        final_states=final_cpu,
        final_q=final_q,
        final_iterations=iters,
        final_converged=converged,
        assignment=assignment,
        hyperparameters=_jsonable(asdict(hp)),
        eigenvalues=eig,
        jacobian_diagonals=diag,
        jacobians=jac,
    )


def _as_matrix(value, name: str, device, dtype, rows: int | None = None) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor) else value)
    t = t.detach().to(device=device, dtype=dtype)
    if rows is None:
        if t.ndim != 2 or t.shape[0] == 0 or t.shape[1] == 0:
            raise ValueError(f"{name} must have shape (points, state) with at least one point, got {tuple(t.shape)}")
        return t.clone()
    if t.ndim == 1:
        return t.expand(rows, -1).clone()
    if t.ndim != 2 or t.shape[0] != rows:
        raise ValueError(f"{name} must have shape (input,) or ({rows}, input), got {tuple(t.shape)}")
    return t.clone()


@contextmanager
def _evaluation_mode(model: nn.Module) -> Iterator[None]:
    """Evaluate in eval mode (no dropout), then restore every module's own training flag."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, flag in flags:
            m.training = flag


def _minimise(model: nn.Module, h0: torch.Tensor, u: torch.Tensor, hp: SlowPointHyperparameters,
              progress: Callable[[int], None] | None,
              clip_units: int = 0) -> tuple[torch.Tensor, np.ndarray, np.ndarray, np.ndarray]:
    """Per-point Adam/SGD with a per-point adaptive rate; returns final states (device), and
    q, iterations, converged as numpy arrays (n,). With ``hp.clip``, the first ``clip_units``
    entries of every state are clamped after each step."""
    n = h0.shape[0]
    device, dtype = h0.device, h0.dtype
    final = h0.clone()
    iters_all = torch.zeros(n, dtype=torch.long, device=device)
    conv_all = torch.zeros(n, dtype=torch.bool, device=device)
    # state of the points still running (compacted at every host check)
    idx = torch.arange(n, device=device)
    x, uu = h0.clone(), u
    m = torch.zeros_like(x)
    v = torch.zeros_like(x)
    lr = torch.full((n,), float(hp.lr_init), device=device, dtype=dtype)
    window = max(hp.min_steps_per_decrease, hp.min_steps_per_increase) + 1
    history = torch.full((n, window), math.nan, device=device, dtype=dtype)  # newest last
    last_change = torch.zeros(n, dtype=torch.long, device=device)
    q_prev = torch.full((n,), math.nan, device=device, dtype=dtype)
    iters = torch.zeros(n, dtype=torch.long, device=device)
    active = torch.ones(n, dtype=torch.bool, device=device)
    beta1, beta2 = hp.adam_betas
    done_iters = 0
    while done_iters < hp.max_iters and idx.numel():
        block = min(hp.check_every, hp.max_iters - done_iters)
        for _ in range(block):
            xg = x.detach().requires_grad_(True)
            with torch.enable_grad():
                q = speed(model, xg, uu)
                (grad,) = torch.autograd.grad(q.sum(), xg)
            q = q.detach()
            # a point stops when it is fast enough or no longer improving (FixedPointFinder's rule);
            # it then keeps the state at which this q was measured
            stop = (q < hp.tol_q) | ((q - q_prev).abs() < hp.tol_dq * lr)
            conv = active & stop
            active = active & ~stop & torch.isfinite(q)  # a search that blew up ends, unconverged
            step_lr = torch.where(active, lr, torch.zeros_like(lr))
            iters += active
            if hp.optimizer == "adam":
                # stopped points never restart, so their moments may drift; only their step is zeroed
                t = iters.clamp(min=1).to(dtype)
                m.mul_(beta1).add_(grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                denom = (v / (1 - beta2 ** t)[:, None]).sqrt_().add_(hp.adam_epsilon)
                x = x.addcdiv(m * (step_lr / (1 - beta1 ** t))[:, None], denom, value=-1)
            else:
                x = x - step_lr[:, None] * grad
            if hp.clip is not None:
                x[:, :clip_units].clamp_(-hp.clip, hp.clip)
            if hp.lr_schedule == "adaptive":
                history = torch.cat([history[:, 1:], q[:, None]], dim=1)
                lr, last_change = _adapt_rate(lr, history, last_change, iters, active, hp)
            q_prev = torch.where(conv | active, q, q_prev)
            conv_all[idx] |= conv
        done_iters += block
        if progress is not None:
            progress(block)
        # host check: write back and drop the points that stopped
        final[idx] = x
        iters_all[idx] = iters
        keep = active.nonzero().squeeze(1)
        if keep.numel() == idx.numel():
            continue
        idx, x, uu, m, v, lr = idx[keep], x[keep], uu[keep], m[keep], v[keep], lr[keep]
        history, last_change, q_prev, iters, active = (history[keep], last_change[keep], q_prev[keep],
                                                       iters[keep], active[keep])
    with torch.no_grad():
        final_q = speed(model, final, u)
    return final, final_q.cpu().numpy(), iters_all.cpu().numpy(), conv_all.cpu().numpy()


def _adapt_rate(lr, history, last_change, iters, active, hp):
    """FixedPointFinder's AdaptiveLearningRate, one rate per point: lower it when the newest q is
    worse than each of the previous ``min_steps_per_decrease``; raise it when q fell at each of the
    last ``min_steps_per_increase`` steps; either only ``min_steps_per_*`` steps after the last
    change. ``history``: (points, window) recent q, newest last."""
    newest = history[:, -1:]
    nd, ni = hp.min_steps_per_decrease, hp.min_steps_per_increase
    since = iters - last_change
    worse = (newest > history[:, -1 - nd:-1]).all(dim=1)
    falling = (history[:, -ni:] < history[:, -1 - ni:-1]).all(dim=1)
    decrease = active & (since >= nd) & worse
    increase = active & ~decrease & (since >= ni) & falling
    lr = torch.where(decrease, lr * hp.decrease_factor, torch.where(increase, lr * hp.increase_factor, lr))
    last_change = torch.where(decrease | increase, iters, last_change)
    return lr, last_change


def _distance_inliers(final: np.ndarray, initial: np.ndarray, scale: float) -> np.ndarray:
    """(n,) bool: final states within ``scale`` mean initial distances of the initial centroid."""
    centroid = initial.mean(axis=0)
    mean_dist = np.linalg.norm(initial - centroid, axis=1).mean()
    if mean_dist == 0:
        return np.ones(len(final), dtype=bool)
    with np.errstate(invalid="ignore"):
        return np.linalg.norm(final - centroid, axis=1) / mean_dist < scale


def _unique(data: np.ndarray, q: np.ndarray, keep: np.ndarray, tol: float,
            chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Group final states: two are the same point if they lie within ``tol`` of each other,
    directly or through a chain of such states (single linkage); each group is represented by its
    slowest member.

    Returns ``assignment`` (n,) group index or -1 for excluded states, and ``reps`` (groups,) the
    index of each group's slowest state, slowest group first."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    kept = np.flatnonzero(keep)
    assignment = np.full(len(q), -1, dtype=np.int64)
    if kept.size == 0:
        return assignment, np.zeros(0, dtype=np.int64)
    x = data[kept].astype(np.float64)
    rows, cols = [], []
    for start in range(0, len(x), chunk):  # neighbour pairs, a block of rows at a time
        block = x[start:start + chunk]
        dist = np.sqrt(np.maximum((block**2).sum(1)[:, None] + (x**2).sum(1)[None] - 2 * block @ x.T, 0))
        r, c = np.nonzero(dist <= tol)
        rows.append(r + start)
        cols.append(c)
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(len(x), len(x)))
    _, labels = connected_components(graph, directed=False)
    order = np.argsort(q[kept], kind="stable")
    first = {}  # group -> its slowest member (the first met in order of q)
    for i in order:
        first.setdefault(labels[i], i)
    groups = sorted(first, key=lambda g: (q[kept][first[g]], first[g]))
    rank = {g: k for k, g in enumerate(groups)}
    assignment[kept] = np.array([rank[g] for g in labels], dtype=np.int64)
    reps = np.array([kept[first[g]] for g in groups], dtype=np.int64)
    return assignment, reps


def _jsonable(d: dict) -> dict:
    plain = lambda v: v.item() if isinstance(v, np.generic) else v  # noqa: E731
    return {k: [plain(x) for x in v] if isinstance(v, tuple) else plain(v) for k, v in d.items()}


# --- initial states --------------------------------------------------------------------------
def sample_states(
    trajectories: torch.Tensor | np.ndarray,
    n_states: int,
    noise_scale: float = 0.0,
    generator: torch.Generator | None = None,
    valid: torch.Tensor | np.ndarray | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw states from trajectories (with replacement, uniformly over valid steps) and add
    independent Gaussian noise: FixedPointFinder's ``sample_states``.

    Parameters
    ----------
    trajectories : (time, trials, state)
    n_states : how many to draw
    noise_scale : s.d. of the noise added to every coordinate, in state units
    generator : torch.Generator on the trajectories' device, for reproducible draws
    valid : (time, trials) bool, optional; only these steps are drawn from

    Returns
    -------
    states : (n_states, state) tensor; index : (n_states, 2) long tensor of (time, trial) drawn.
    """
    traj = torch.as_tensor(trajectories)
    if traj.ndim != 3:
        raise ValueError(f"trajectories must have shape (time, trials, state), got {tuple(traj.shape)}")
    if n_states < 1:
        raise ValueError(f"n_states must be positive, got {n_states}")
    if noise_scale < 0:
        raise ValueError(f"noise_scale must be non-negative, got {noise_scale}")
    mask = torch.ones(traj.shape[:2], dtype=torch.bool, device=traj.device) if valid is None else \
        torch.as_tensor(valid, device=traj.device).bool()
    if mask.shape != traj.shape[:2]:
        raise ValueError(f"valid must have shape {tuple(traj.shape[:2])}, got {tuple(mask.shape)}")
    cells = mask.nonzero()
    if cells.shape[0] == 0:
        raise ValueError("no valid step to sample from")
    pick = torch.randint(cells.shape[0], (n_states,), generator=generator, device=traj.device)
    index = cells[pick]
    states = traj[index[:, 0], index[:, 1]].clone()
    if noise_scale > 0:
        states = states + noise_scale * torch.randn(states.shape, generator=generator, device=traj.device,
                                                    dtype=states.dtype)
    return states, index
