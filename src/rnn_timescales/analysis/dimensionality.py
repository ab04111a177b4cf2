"""Dimensionality of activity: principal components needed for a share of the variance (docs/science.md, timescales).

We report the *number* of components (one-based): the smallest d with the top d principal
components explaining at least ``threshold`` of the variance. The paper's code reports the
zero-based index of that component, i.e. d - 1.
"""

from __future__ import annotations

import numpy as np
import torch


def explained_variance(covariance: np.ndarray) -> np.ndarray:
    """Share of the variance along each principal component, largest first.

    Parameters
    ----------
    covariance : array, shape (units, units)
        Covariance of the activity (symmetric, positive semi-definite).

    Returns
    -------
    array, shape (units,), non-negative, summing to 1 (all zeros for a constant signal)
    """
    cov = np.asarray(covariance, dtype=np.float64)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(f"covariance must be a square (units, units) matrix, got shape {cov.shape}")
    eig = np.clip(np.linalg.eigvalsh(0.5 * (cov + cov.T))[::-1], 0.0, None)
    total = eig.sum()
    return eig / total if total > 0 else np.zeros_like(eig)


def dimensionality_from_covariance(covariance: np.ndarray, threshold: float = 0.9) -> int:
    """Number of principal components (one-based) explaining at least ``threshold`` of the variance
    (0 for a constant signal)."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    ratio = explained_variance(covariance)
    if ratio.sum() == 0:
        return 0
    # a tiny tolerance so that exactly reaching the threshold counts despite rounding
    return int(np.searchsorted(np.cumsum(ratio), threshold - 1e-12) + 1)


def pca_dimensionality(activity: np.ndarray, threshold: float = 0.9) -> int:
    """Components (one-based count) needed for ``threshold`` of the variance of ``activity:
    (time, units)`` (one trial; centred per unit, as PCA does)."""
    x = np.asarray(activity, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"activity must have shape (time, units) (one trial), got {x.shape}")
    if x.shape[0] < 2:
        raise ValueError("activity needs at least 2 time steps")
    return dimensionality_from_covariance(np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1]), threshold)


class StreamingCovariance:
    """Covariance of a (time, units) signal fed in chunks; float64 sums around a shift taken from
    the first chunk, so a large mean does not cost precision."""

    def __init__(self) -> None:
        self.n = 0
        self._shift = None
        self._sum = None
        self._outer = None

    def update(self, chunk) -> None:
        """Add ``chunk: (time, units)`` (NumPy array or torch tensor)."""
        x = torch.as_tensor(chunk)
        if x.ndim != 2:
            raise ValueError(f"chunk must have shape (time, units), got {tuple(x.shape)}")
        x = x.to(torch.float32)
        if self._shift is None:
            self._shift = x.mean(0)
            self._sum = torch.zeros(x.shape[1], dtype=torch.float64)
            self._outer = torch.zeros(x.shape[1], x.shape[1], dtype=torch.float64)
        y = x - self._shift
        self._sum += y.sum(0, dtype=torch.float64)
        self._outer += (y.T @ y).to(torch.float64)
        self.n += x.shape[0]

    def covariance(self) -> np.ndarray:
        """(units, units) covariance with the n - 1 normalisation."""
        if self.n < 2:
            raise ValueError("need at least 2 time steps")
        mean = self._sum / self.n
        cov = (self._outer - self.n * mean[:, None] * mean[None, :]) / (self.n - 1)
        return cov.numpy()


def principal_axes(flat: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Of points ``flat`` (points, units): their mean (units,), the top-``n`` principal axes
    (n, units) and the share of the variance along each (n,)."""
    mean = flat.mean(axis=0)
    cov = np.cov(flat - mean, rowvar=False).reshape(flat.shape[1], flat.shape[1])
    eigval, eigvec = np.linalg.eigh(cov)
    order = np.argsort(eigval)[::-1][:n]
    total = eigval.clip(min=0).sum()
    explained = eigval[order].clip(min=0) / total if total > 0 else np.zeros(len(order))
    return mean, eigvec[:, order].T, explained
