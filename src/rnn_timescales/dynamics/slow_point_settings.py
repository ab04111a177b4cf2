"""The slow-point finder's hyperparameters, named and defaulted in one place (FixedPointFinder's
shape): :class:`SlowPointHyperparameters` (``docs/slow_points.md``)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, fields

import numpy as np



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

