"""The slow-point finder's result, a plain container kept apart from the finder (FixedPointFinder's
shape): :class:`SlowPoints`, which saves, restores and filters itself (``docs/slow_points.md``)."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from rnn_timescales.dynamics.jacobian import timescales_from_eigenvalues
from rnn_timescales.io import atomic_write_bytes

FORMAT = "rnn-timescales-slow-points"
VERSION = "1"


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
