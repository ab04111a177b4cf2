"""Autocorrelation of activity, as defined in docs/science.md, timescales.

For one trial x_0 ... x_{n-1} with trial mean m, the autocorrelation at lag k is

    C_k = 1/(n - k) * sum_{t=0}^{n-1-k} (x_t - m) (x_{t+k} - m),

computed by FFT with zero padding (:func:`autocorrelation`), or exactly the same quantity from
lagged sums accumulated chunk by chunk (:class:`StreamingAutocorrelation`), so that a long
simulation never has to be held in memory. Trials are averaged after the per-trial estimate.

The paper's code divides lag k by n - 1 - k instead of n - k; after normalising by C_0 the two
differ by a relative k / n^2 (1e-8 at the paper's n = 10^5), so we follow the paper's definition.

Arrays are time-major: ``activity: (time, trials, units)``.
"""

from __future__ import annotations

import numpy as np
import torch


def _check_activity(activity: np.ndarray, max_lag: int) -> np.ndarray:
    x = np.asarray(activity)
    if x.ndim == 1:
        x = x[:, None, None]
    elif x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3:
        raise ValueError(f"activity must have shape (time, trials, units), got {np.shape(activity)}")
    if not isinstance(max_lag, (int, np.integer)) or max_lag < 0:
        raise ValueError(f"max_lag must be a non-negative integer, got {max_lag!r}")
    if max_lag >= x.shape[0]:
        raise ValueError(f"max_lag ({max_lag}) must be smaller than the number of time steps ({x.shape[0]})")
    return x


def autocorrelation(activity: np.ndarray, max_lag: int, per_trial: bool = False) -> np.ndarray:
    """Mean-removed autocorrelation by FFT with zero padding, n - lag normalisation.

    Parameters
    ----------
    activity : array, shape (time, trials, units)
        (time,) and (time, trials) are accepted and treated as one unit.
    max_lag : int
        Largest lag returned, in time steps (lags 0 ... max_lag).
    per_trial : bool
        Return every trial's estimate instead of the trial average.

    Returns
    -------
    ac : array, shape (units, max_lag + 1), or (trials, units, max_lag + 1) if ``per_trial``
        Autocovariance in squared activity units (not normalised by lag 0), float64.
    """
    x = _check_activity(activity, max_lag)
    return _fft_autocorrelation(x, max_lag, per_trial, np.float64)


def _fft_autocorrelation(x: np.ndarray, max_lag: int, per_trial: bool, dtype, global_mean: bool = False) -> np.ndarray:
    """:func:`autocorrelation` of a checked (time, trials, units) array, computed in ``dtype``
    (float32 halves the cost where 1e-6 relative precision is enough: simulated data);
    ``global_mean``: subtract each unit's mean over all trials instead of each trial's own."""
    from scipy import fft

    x = np.asarray(x, dtype=dtype)
    n = x.shape[0]
    x = x - x.mean(axis=(0, 1) if global_mean else 0, keepdims=True)
    nfft = fft.next_fast_len(n + max_lag, real=True)  # zero padding >= max_lag: no circular wrap-around
    spec = fft.rfft(x, n=nfft, axis=0)
    power = spec.real * spec.real
    power += spec.imag * spec.imag
    del spec
    raw = fft.irfft(power, n=nfft, axis=0)[: max_lag + 1].astype(np.float64)
    ac = raw / (n - np.arange(max_lag + 1))[:, None, None]
    ac = np.moveaxis(ac, 0, -1)  # (trials, units, lags)
    return ac if per_trial else ac.mean(axis=0)


def _recentred(lagged, head, tail, total, c, n: int, lags):
    """sum_{t < n-k} (y_t - c)(y_{t+k} - c) from the lagged sums S_k = sum_t y_t y_{t+k} of a series
    y of n values: S_k - c (Y - tail_k) - c (Y - head_k) + (n - k) c^2, with Y its total and head_k
    (tail_k) the sum of its first (last) k values; lags first. Any array type (numpy or torch)."""
    return lagged - c * (total - tail) - c * (total - head) + (n - lags) * c * c


def both_mean_autocorrelations(x: np.ndarray, max_lag: int) -> dict[str, np.ndarray]:
    """:func:`autocorrelation` averaged over trials, (units, max_lag + 1), about each trial's own
    mean ("trial") and about each unit's mean over all trials ("global"), from one FFT per trial:
    the second re-centres the first's lagged sums on the unit's mean (:func:`_recentred`, y the
    trial's deviations from its mean, whose total is 0). ``x``: checked (time, trials, units)."""
    n_steps, n_trials, n_units = x.shape
    lags = np.arange(max_lag + 1)[:, None, None]
    out = {"trial": np.empty((n_units, max_lag + 1)), "global": np.empty((n_units, max_lag + 1))}
    chunk = max(1, int(2e7 // (n_steps * n_trials)))
    for u0 in range(0, n_units, chunk):
        xs = np.asarray(x[:, :, u0 : u0 + chunk], dtype=np.float64)
        ac = _fft_autocorrelation(xs, max_lag, True, np.float64)  # (trials, units, lags)
        m = xs.mean(axis=0)  # each trial's mean
        zero = np.zeros((1,) + m.shape)
        head = np.concatenate([zero, np.cumsum(xs[:max_lag] - m, 0)])  # (lags, trials, units)
        tail = np.concatenate([zero, np.cumsum(xs[::-1][:max_lag] - m, 0)])
        lagged = np.moveaxis(ac, -1, 0) * (n_steps - lags)
        shifted = _recentred(lagged, head, tail, 0.0, xs.mean(axis=(0, 1)) - m, n_steps, lags) / (n_steps - lags)
        out["trial"][u0 : u0 + chunk] = ac.mean(0)
        out["global"][u0 : u0 + chunk] = np.moveaxis(shifted, 0, -1).mean(0)
    return out


class StreamingAutocorrelation:
    """Exact mean-removed autocorrelation of long series fed in consecutive chunks.

    Accumulates, per trial and unit, the lagged sums S_k = sum_t y_t y_{t+k} (k <= max_lag), the
    total sum, and the first and last ``max_lag`` values of y = x - c, where c is a per-series shift
    taken from the first chunk (it keeps the sums well conditioned and cancels exactly). Then

        sum_{t=0}^{n-1-k} (y_t - m)(y_{t+k} - m)
            = S_k - m (Y - tail_k) - m (Y - head_k) + (n - k) m^2,

    with Y the total, m = Y / n, head_k the sum of the first k values and tail_k of the last k.
    The result equals :func:`autocorrelation` on the whole series up to float rounding.

    How S_k is accumulated: the stream is cut into blocks of ``nfft - max_lag`` steps. Pairs
    inside a block come from the block's power spectrum |FFT(block)|^2 (zero-padded to ``nfft``,
    so lags <= max_lag do not wrap); the power spectra of all blocks are summed and inverted once
    at the end, so each block costs one real FFT. Pairs straddling a block boundary involve only
    the ``max_lag`` steps either side of it and are added by a short convolution. Memory is
    O(trials x units x nfft) plus the pending block.

    Parameters
    ----------
    max_lag : int
        Largest lag, in time steps.
    nfft : int
        FFT length per block (a power of two is fastest; raised to at least 4 x max_lag).
    """

    def __init__(self, max_lag: int, nfft: int = 1024) -> None:
        if not isinstance(max_lag, (int, np.integer)) or max_lag < 0:
            raise ValueError(f"max_lag must be a non-negative integer, got {max_lag!r}")
        self.max_lag = k = int(max_lag)
        self.nfft = max(int(nfft), 1 << int(np.ceil(np.log2(max(4 * k, 2)))))
        self.block = self.nfft - k
        self.n = 0
        self._pending: list[torch.Tensor] = []
        self._partial: torch.Tensor | None = None
        self._n_partial = 0
        self._pending_len = 0
        self._shift: torch.Tensor | None = None
        self._power: torch.Tensor | None = None  # (trials, units, nfft/2 + 1) float64
        self._cross: torch.Tensor | None = None  # (trials, units, K + 1) float64, boundary pairs
        self._total: torch.Tensor | None = None
        self._head: torch.Tensor | None = None  # first K values (trials, units, <=K) float64
        self._last: torch.Tensor | None = None  # last K values (trials, units, <=K) float32

    def update(self, chunk: torch.Tensor | np.ndarray) -> None:
        """Add the next ``chunk: (time, trials, units)`` of every series."""
        x = torch.as_tensor(chunk)
        if x.ndim != 3:
            raise ValueError(f"chunk must have shape (time, trials, units), got {tuple(x.shape)}")
        x = x.to(torch.float32)
        k = self.max_lag
        if self._shift is None:
            self._shift = x.mean(0)
            shape = x.shape[1:]
            # time-major accumulators: no transposes of the (large) chunks
            self._power = torch.zeros((self.nfft // 2 + 1, *shape), dtype=torch.float64)
            self._cross = torch.zeros((k + 1, *shape), dtype=torch.float64)
            self._total = torch.zeros(shape, dtype=torch.float64)
            self._head = torch.zeros((0, *shape), dtype=torch.float64)
            self._last = torch.zeros((0, *shape), dtype=torch.float32)
        elif x.shape[1:] != self._power.shape[1:]:
            raise ValueError(f"chunk has {tuple(x.shape[1:])} (trials, units), earlier chunks {tuple(self._power.shape[1:])}")
        self._pending.append(x)
        self._pending_len += x.shape[0]
        while self._pending_len >= self.block:
            self._flush(self.block)

    def _flush(self, length: int) -> None:
        data = torch.cat(self._pending) if len(self._pending) > 1 else self._pending[0]
        rest = data[length:]
        self._pending = [rest] if rest.shape[0] else []
        self._pending_len = rest.shape[0]
        y = data[:length] - self._shift  # (time, trials, units)
        k = self.max_lag
        spec = torch.fft.rfft(y, n=self.nfft, dim=0)
        # float32 partial sums, folded into the float64 total every 32 blocks (a mixed-dtype add
        # per block costs more than the FFT on a busy machine)
        power = spec.real.square() + spec.imag.square()
        if self._partial is None:
            self._partial, self._n_partial = power, 1
        else:
            self._partial.add_(power)
            self._n_partial += 1
        if self._n_partial >= 32:
            self._fold()
        self._total.add_(spec[0].real)  # the zero-frequency bin is the block's sum
        if k > 0 and self._last.shape[0]:
            # pairs (step i before the block, step j of the block) at lag i + j, 1 <= i <= K
            u = torch.nn.functional.pad(torch.flip(self._last, dims=[0]), (0, 0, 0, 0, 1, 0))
            v = y[:k]
            m = 1 << int(np.ceil(np.log2(u.shape[0] + v.shape[0])))
            conv = torch.fft.irfft(torch.fft.rfft(u, n=m, dim=0) * torch.fft.rfft(v, n=m, dim=0), n=m, dim=0)
            self._cross.add_(conv[: k + 1])
        if self._head.shape[0] < k:
            self._head = torch.cat([self._head, y[: k - self._head.shape[0]].to(torch.float64)])
        if k > 0:
            self._last = torch.cat([self._last, y[-k:]])[-k:]
        self.n += length

    def _fold(self) -> None:
        if self._partial is not None:
            self._power.add_(self._partial)
            self._partial, self._n_partial = None, 0

    def result(self, per_trial: bool = False) -> np.ndarray:
        """The autocorrelation of everything fed so far.

        Returns
        -------
        ac : array, shape (units, max_lag + 1), or (trials, units, max_lag + 1) if ``per_trial``
        """
        if self._pending_len:
            self._flush(self._pending_len)
        self._fold()
        k = self.max_lag
        if self._power is None or self.n <= k:
            raise ValueError(f"need more than max_lag = {k} time steps, got {self.n}")
        n = self.n
        lagged = torch.fft.irfft(self._power, n=self.nfft, dim=0)[: k + 1] + self._cross
        total = self._total
        lags = torch.arange(k + 1, dtype=torch.float64).view(-1, 1, 1)
        zero = torch.zeros((1, *total.shape), dtype=torch.float64)
        head = torch.cat([zero, self._head.cumsum(0)])  # head[j] = sum of the first j values
        tail = torch.cat([zero, torch.flip(self._last.to(torch.float64), dims=[0]).cumsum(0)])
        cross = _recentred(lagged, head, tail, total, total / n, n, lags)
        ac = (cross / (n - lags)).permute(1, 2, 0).numpy()
        return ac if per_trial else ac.mean(axis=0)


def integrated_time(rho: np.ndarray) -> np.ndarray:
    """Integrated autocorrelation time of normalised autocorrelations, no model assumed.

    rho: (units, lags) with rho[:, 0] == 1 -> (units,) in time steps: sum of rho(k) over k = 0, 1, ...
    up to the last lag before rho first drops to or below zero, minus one half (so that
    rho(k) = exp(-k / tau) gives about tau for tau >= 1; exactly 1 / (1 - e^(-1/tau)) - 1/2).
    """
    rho = np.asarray(rho, dtype=np.float64)
    positive = np.cumprod(rho > 0, axis=1).astype(bool)
    return np.where(positive, rho, 0.0).sum(axis=1) - 0.5
