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

One module over 400 lines on purpose: one class for one analysis (FixedPointFinder's shape, STYLE.md),
its hyperparameters, its optimiser loop and its results container read together.
"""

from __future__ import annotations

import copy
import difflib
import io
import json
import math
import zipfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd
import torch
from torch import nn

from rnn_timescales.dynamics.jacobian import step_jacobians, timescales_from_eigenvalues
from rnn_timescales.io import atomic_write_bytes

FORMAT = "rnn-timescales-slow-points"
VERSION = "1"
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class SlowPointHyperparameters:
    """Settings of :func:`find_slow_points`; names follow FixedPointFinder where they mean the same.

    Optimisation (every initial state is optimised independently, all in one batch):

    optimizer : ``"adam"`` (default) or ``"sgd"`` (plain gradient descent).
    lr_init : initial learning rate (FixedPointFinder: 1.0).
    lr_schedule : ``"adaptive"`` (default; FixedPointFinder's AdaptiveLearningRate, per point) or
        ``"constant"`` ([H19]: Adam at 1e-3 for 100 000 steps).
    decrease_factor, min_steps_per_decrease : the rate is multiplied by ``decrease_factor`` when
        a point's q is larger than each of its previous ``min_steps_per_decrease`` values
        (0.95, 5).
    increase_factor, min_steps_per_increase : and by ``increase_factor`` when its q fell
        monotonically over the last ``min_steps_per_increase`` steps (1/0.95, 5). After any change
        a point's rate is held for that many steps.
    adam_betas, adam_epsilon : Adam's moment decays and epsilon (0.9, 0.999; 1e-8).
    max_iters : iteration cap (5000).
    tol_q : a point stops once q < tol_q (1e-12).
    tol_dq : or once |q_t - q_{t-1}| < tol_dq * its learning rate (1e-20; the scaling by the rate
        makes this roughly a bound on the gradient, FixedPointFinder's rule).
    check_every : iterations between the host's checks whether every point has stopped (and
        compaction of the batch to the points still running); q never leaves the device otherwise.
    dtype : ``"float32"``, ``"float64"`` or None (default: the model's parameter dtype). A model of
        another dtype is copied, never cast in place.
    clip : None (default) or c > 0: after every step, clamp the activity part of each state (the
        first ``model.hidden_size`` entries: a GRU's h, an LSTM's h but not c) to [-c, c]. [H19]
        clips a GRU's and an LSTM's h to [-1, 1], the box their dynamics never leave; without it a
        search can run out of the box to where a saturated update gate makes q small.

    After optimisation:

    exclude_distance_outliers, outlier_distance_scale : drop final states farther from the
        centroid of the initial states than ``outlier_distance_scale`` times the initial states'
        mean distance to it (True, 10), and any non-finite state.
    tol_unique : final states (with their inputs) within this Euclidean distance of each other,
        directly or through a chain of such states, are the same point (1e-3); the slowest of a
        group represents it.
    compute_jacobians : Jacobians, eigenvalues, stability and timescales at the distinct points.
    keep_jacobians : keep the (points, state, state) Jacobians in the result (else only their
        eigenvalues).
    """

    optimizer: str = "adam"
    lr_init: float = 0.1
    lr_schedule: str = "adaptive"
    decrease_factor: float = 0.95
    min_steps_per_decrease: int = 5
    increase_factor: float = 1 / 0.95
    min_steps_per_increase: int = 5
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_epsilon: float = 1e-8
    max_iters: int = 5000
    tol_q: float = 1e-12
    tol_dq: float = 1e-20
    check_every: int = 100
    dtype: str | None = None
    clip: float | None = None
    exclude_distance_outliers: bool = True
    outlier_distance_scale: float = 10.0
    tol_unique: float = 1e-3
    compute_jacobians: bool = True
    keep_jacobians: bool = True

    def __post_init__(self) -> None:
        choices = {"optimizer": ("adam", "sgd"), "lr_schedule": ("adaptive", "constant"),
                   "dtype": (None, "float32", "float64")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}, got {getattr(self, name)!r}")
        for name in ("exclude_distance_outliers", "compute_jacobians", "keep_jacobians"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        number = lambda v: isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)  # noqa: E731
        for name, low, strict in (("lr_init", 0, True), ("increase_factor", 1, False), ("adam_epsilon", 0, True),
                                  ("outlier_distance_scale", 0, True), ("tol_q", 0, False), ("tol_dq", 0, False),
                                  ("tol_unique", 0, False)):
            value = getattr(self, name)
            if not number(value) or not (value > low if strict else value >= low):
                what = "positive" if strict and low == 0 else ("at least 1" if low == 1 else "non-negative")
                raise ValueError(f"{name} must be a {what} number, got {value!r}")
        if not number(self.decrease_factor) or not 0 < self.decrease_factor <= 1:
            raise ValueError(f"decrease_factor must be a number in (0, 1], got {self.decrease_factor!r}")
        for name in ("min_steps_per_decrease", "min_steps_per_increase", "check_every", "max_iters"):
            value = getattr(self, name)
            low = 0 if name == "max_iters" else 1
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be a {'non-negative' if low == 0 else 'positive'} integer, got {value!r}")
        if self.clip is not None and not (number(self.clip) and self.clip > 0):
            raise ValueError(f"clip must be a positive number or null, got {self.clip!r}")
        betas = self.adam_betas
        if len(betas) != 2 or not all(number(b) and 0 <= b < 1 for b in betas):
            raise ValueError(f"adam_betas must be two numbers in [0, 1), got {list(betas)!r}")

    @classmethod
    def from_kwargs(cls, **kwargs) -> "SlowPointHyperparameters":
        """Build from keyword arguments; an unknown name gets a ValueError listing the valid ones."""
        names = [f.name for f in fields(cls)]
        for key in kwargs:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(f"unknown slow-point hyperparameter {key!r}{hint}; choose from {', '.join(names)}")
        if "adam_betas" in kwargs:
            betas = kwargs["adam_betas"]
            kwargs["adam_betas"] = tuple(betas) if isinstance(betas, (list, tuple)) else (betas,)
        return cls(**kwargs)


@dataclass
class SlowPoints:
    """The distinct slow points found from a set of initial states, and how each was reached.

    Per distinct point (``points`` rows, slowest first):

    states : (points, state) the points (for an LSTM, h and c concatenated).
    inputs : (points, input) the constant input at each.
    q : (points,) speed 1/2 ||F(h) - h||^2 (state units squared).
    iterations : (points,) optimisation steps taken by the initial state that reached it.
    converged : (points,) whether that optimisation met ``tol_q`` or ``tol_dq`` (else it hit
        ``max_iters``).
    initial_index : (points,) index of that initial state.
    n_initial : (points,) how many initial states ended at this point.
    eigenvalues : (points, state) complex eigenvalues of the Jacobian, largest modulus first
        (None without ``compute_jacobians``).
    jacobian_diagonals : (points, state) J_ii, how each unit's own perturbation decays with the
        others held (None without ``compute_jacobians``).
    jacobians : (points, state, state) dF/dh at each point (None unless kept).

    Per initial state (``n`` rows, in the order given):

    initial_states : (n, state); final_states : (n, state) where each optimisation ended;
    final_q, final_iterations, final_converged : (n,) as above;
    assignment : (n,) the distinct point each ended at, -1 if it was excluded (non-finite or a
    distance outlier).

    hyperparameters : the settings used (a dict, see :class:`SlowPointHyperparameters`).
    """

    states: np.ndarray
    inputs: np.ndarray
    q: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    initial_index: np.ndarray
    n_initial: np.ndarray
    initial_states: np.ndarray
    final_states: np.ndarray
    final_q: np.ndarray
    final_iterations: np.ndarray
    final_converged: np.ndarray
    assignment: np.ndarray
    hyperparameters: dict
    eigenvalues: np.ndarray | None = None
    jacobian_diagonals: np.ndarray | None = None
    jacobians: np.ndarray | None = None

    @property
    def n_points(self) -> int:
        return int(self.states.shape[0])

    @property
    def spectral_radius(self) -> np.ndarray:
        """(points,) max |lambda| of the Jacobian at each point (NaN without Jacobians)."""
        if self.eigenvalues is None:
            return np.full(self.n_points, np.nan)
        return np.abs(self.eigenvalues).max(axis=1) if self.eigenvalues.shape[1] else np.zeros(self.n_points)

    @property
    def stable(self) -> np.ndarray:
        """(points,) bool: every eigenvalue strictly inside the unit circle (discrete-time map)."""
        return self.spectral_radius < 1

    @property
    def timescales(self) -> np.ndarray:
        """(points, state) -1/ln|lambda| of every mode in time steps, slowest first; inf for
        |lambda| >= 1 (a mode that does not decay)."""
        if self.eigenvalues is None:
            return np.full(self.states.shape, np.nan)
        return np.stack([timescales_from_eigenvalues(e) for e in self.eigenvalues]) if self.n_points else \
            np.zeros((0, self.states.shape[1]))

    def to_frame(self, n_timescales: int = 5) -> pd.DataFrame:
        """One row per distinct point: ``point, q, speed, stable, n_unstable, spectral_radius,
        timescale_max, timescale_max_decaying, unit_timescale_max, timescale_1..n_timescales,
        iterations, converged, initial_index, n_initial``.

        ``speed`` is ||F(h) - h|| = sqrt(2 q). ``timescale_max`` is -1/ln of the spectral radius
        (inf at an unstable or marginal point); ``timescale_max_decaying`` the slowest mode with
        |lambda| < 1; ``n_unstable`` the number of eigenvalues with |lambda| >= 1;
        ``unit_timescale_max`` the slowest -1/ln|J_ii|, the timescale of the slowest unit on its
        own (the others held): a ``timescale_max`` far above it is a collective mode. Timescales in
        time steps, slowest first.
        """
        tau = self.timescales
        radius = self.spectral_radius
        has_jac = self.eigenvalues is not None
        frame = pd.DataFrame({
            "point": np.arange(self.n_points),
            "q": self.q,
            "speed": np.sqrt(2 * self.q),
            "stable": self.stable if has_jac else np.full(self.n_points, pd.NA, dtype=object),
            "n_unstable": (np.abs(self.eigenvalues) >= 1).sum(axis=1) if has_jac else np.full(self.n_points, -1),
            "spectral_radius": radius,
            "timescale_max": tau[:, 0] if tau.shape[1] else np.zeros(self.n_points),
            "timescale_max_decaying": np.array([row[np.isfinite(row)][0] if np.isfinite(row).any() else np.nan
                                                for row in tau]) if has_jac else np.full(self.n_points, np.nan),
        })
        frame["unit_timescale_max"] = (
            np.array([timescales_from_eigenvalues(d)[0] if len(d) else np.nan for d in self.jacobian_diagonals])
            if self.jacobian_diagonals is not None else np.full(self.n_points, np.nan))
        for k in range(min(n_timescales, tau.shape[1])):
            frame[f"timescale_{k + 1}"] = tau[:, k]
        frame["iterations"] = self.iterations
        frame["converged"] = self.converged
        frame["initial_index"] = self.initial_index
        frame["n_initial"] = self.n_initial
        return frame

    def initial_frame(self) -> pd.DataFrame:
        """One row per initial state: ``initial_index, final_q, iterations, converged, point``
        (the distinct point it ended at, -1 if excluded)."""
        return pd.DataFrame({
            "initial_index": np.arange(len(self.final_q)),
            "final_q": self.final_q,
            "iterations": self.final_iterations,
            "converged": self.final_converged,
            "point": self.assignment,
        })

    # --- files -------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the result to ``path`` as a compressed ``.npz`` (plain arrays and a JSON header;
        no pickled objects), atomically. Returns the path."""
        arrays = {name: value for name, value in self._arrays().items() if value is not None}
        arrays["header"] = np.array(json.dumps({"format": FORMAT, "version": VERSION,
                                                "hyperparameters": self.hyperparameters}))
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        atomic_write_bytes(path, buffer.getvalue())
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> "SlowPoints":
        """Read a result written by :meth:`save` (never unpickles anything); ValueError with a
        one-line message for a missing, corrupt or foreign file."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"{str(path)!r} does not exist; give a file written by SlowPoints.save")
        try:
            with np.load(path, allow_pickle=False) as data:
                content = {key: data[key] for key in data.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
            raise ValueError(f"{str(path)!r} is not a readable slow-point file ({e})") from None
        try:
            header = json.loads(str(content.pop("header")))
        except (KeyError, json.JSONDecodeError):
            header = {}
        if header.get("format") != FORMAT:
            raise ValueError(f"{str(path)!r} is not a slow-point file written by rnn-timescales")
        names = {f.name for f in fields(cls)} - {"hyperparameters"}
        missing = names - set(content) - {"eigenvalues", "jacobian_diagonals", "jacobians"}
        if missing:
            raise ValueError(f"{str(path)!r} lacks {', '.join(sorted(missing))}; the file is incomplete")
        return cls(hyperparameters=header.get("hyperparameters", {}),
                   **{key: value for key, value in content.items() if key in names})

    def _arrays(self) -> dict[str, np.ndarray | None]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "hyperparameters"}


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
