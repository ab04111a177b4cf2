"""The parametric bootstrap of :func:`rnn_timescales.analysis.inference.estimate_timescales`,
batched over units: data sets simulated from every unit's fitted model, as autocorrelations.

Simulating B data sets of R trials x n steps for every unit costs B R n samples per unit (10^9 for
a 1 000-unit recording). The autocorrelation the estimator fits is a mean over trials, so instead:

1. simulate a **pool** of M trials per unit from its fitted generative model (OU components,
   damped oscillation, white noise; for counts a rectified or exponentiated rate and Poisson or
   gamma counts), of n_sim = n steps, or for long trials n_sim < n steps;
2. take their per-trial autocorrelations c_m (M, L) and deviations d_m = c_m - mean(c);
3. a replicate is E + (1 / R') sum_i d_{m_i}, with m_i drawn uniformly with replacement
   (R' = R n / n_sim draws), E the model's *expected* estimate (closed form, exact at the data's
   trial length).

A replicate thus has the mean of a simulated data set of R trials, exactly, and its covariance up
to the pool's sampling error (about sqrt(2 / M) in variance); with M >= R it is the trial
average of simulated trials. For n_sim < n the covariance of one long trial is that of R'
segments, right when the segment is much longer than the timescales and lags (n_sim >= 32 max_lag
and 100 tau). Cost: M R n_sim samples per unit instead of B R n.

Arrays: pools (U, M, L), replicates (U, B, L); everything in steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnn_timescales.analysis.acf_bases import expected_estimate
from rnn_timescales.analysis.acf_models import Fit
from rnn_timescales.analysis.autocorrelation import _fft_autocorrelation

POOL = 128  # simulated trials per unit
RATES = ("rectified", "exp")


@dataclass
class Generative:
    """The generative models of U units, as fitted (steps).

    fit: the fitted autocorrelation model (for ``rate="exp"`` its amplitudes are the latent
    process's variances). mean: (U,) mean count (counts). fano: (U,) Fano factor of the counts
    given the rate. poisson: (U,) Poisson counts (else gamma with ``fano``). kind: "continuous"
    or "counts". rate: "rectified" (lambda = max(mean + x, 0)) or "exp" (lambda = mean exp(x - var/2)).
    """

    fit: Fit
    mean: np.ndarray
    fano: np.ndarray
    poisson: np.ndarray
    kind: str = "continuous"
    rate: str = "rectified"

    def take(self, idx) -> "Generative":
        return Generative(self.fit.take(idx), self.mean[idx], self.fano[idx], self.poisson[idx], self.kind, self.rate)


def latent(c: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Counts' autocovariance -> the latent process's under an exponentiated rate:
    Cov(n_t, n_t+k) = mean^2 (exp(G(k)) - 1) for k >= 1 (Poisson or gamma given the rate), so
    G(k) = log(1 + C_k / mean^2). ``c``: (U, ..., L), ``mean``: (U,)."""
    m2 = np.asarray(mean, float).reshape((-1,) + (1,) * (np.ndim(c) - 1)) ** 2
    return np.log1p(np.maximum(c / m2, -0.99))


def expected_curve(gen: Generative, n_steps: int, max_lag: int, n_mean: int = 1) -> np.ndarray:
    """The expected trial-averaged estimate of every unit's autocovariance (U, L) in data units
    (counts' autocovariance also for ``rate="exp"``; ``n_mean`` trials in the subtracted mean)."""
    fit = gen.fit
    if gen.kind != "counts" or gen.rate != "exp":
        return fit.curve(n_steps, max_lag, n_mean=n_mean)
    out = np.empty((len(gen.mean), max_lag + 1))
    k = np.arange(n_steps, dtype=np.float64)
    step = max(1, 2_000_000 // n_steps)
    for u0 in range(0, len(out), step):
        sl = slice(u0, u0 + step)
        g = (fit.amps[sl, :, None] * np.exp(-k / fit.taus[sl, :, None])).sum(1)
        if fit.osc is not None:
            g = g + fit.take(sl).osc_gamma(k)
        m2 = gen.mean[sl, None] ** 2
        gamma = m2 * np.expm1(g)
        gamma[:, 0] += gen.fano[sl] * gen.mean[sl]
        out[sl] = expected_estimate(gamma, n_steps, max_lag, n_mean)
    return out


def _normals(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Independent standard normal float32 samples of ``shape``, from a torch generator seeded by
    ``rng`` (torch's vectorised sampler is two to three times faster than numpy's, and the pool
    draws tens of millions of them; the same ``rng`` state gives the same samples)."""
    import torch

    gen = torch.Generator().manual_seed(int(rng.integers(2**63 - 1)))
    return torch.randn(shape, generator=gen, dtype=torch.float32).numpy()


def _oscillation_trials(fit: Fit, n_sim: int, n_pool: int, rng: np.random.Generator) -> np.ndarray:
    """(n_sim, M, U) Gaussian processes with the fitted oscillation's autocovariance
    exp(-k / tau) (A cos 2 pi f k + B sin 2 pi f k) (:meth:`Fit.osc_gamma`), by circulant embedding:
    the autocovariance wrapped on a circle of m >= 2 n_sim + 20 tau steps, its spectrum (negative
    values, where (A, B) is not a valid pair or the circle cuts the tail, set to 0), and each FFT of
    complex white noise shaped by it gives two independent trials (real and imaginary parts)."""
    from scipy.fft import fft, next_fast_len

    n_units = len(fit.white)
    taus = np.nan_to_num(fit.osc[:, 1], nan=1.0)
    m = next_fast_len(int(2 * n_sim + min(20 * np.max(taus, initial=1.0), 14 * n_sim)))
    k = np.minimum(np.arange(m), m - np.arange(m)).astype(np.float64)
    x = np.empty((n_sim, n_pool, n_units), dtype=np.float32)
    half = (n_pool + 1) // 2
    step = max(1, int(2e6 // (m * half)))
    for u0 in range(0, n_units, step):
        sl = slice(u0, u0 + step)
        gamma = np.nan_to_num(fit.take(sl).osc_gamma(k))  # (u, m)
        lam = np.sqrt(np.maximum(fft(gamma, axis=1).real, 0.0) / m).T[:, None, :]  # (m, 1, u)
        noise = (_normals(rng, (m, half, gamma.shape[0])) + 1j * _normals(rng, (m, half, gamma.shape[0])))
        y = fft(noise * lam.astype(np.float32), axis=0, workers=1)[:n_sim]
        x[:, :, sl] = np.concatenate([y.real, y.imag], 1)[:, :n_pool]
    return x


def _latent_trials(fit: Fit, n_sim: int, n_pool: int, rng: np.random.Generator) -> np.ndarray:
    """(n_sim, M, U) zero-mean Gaussian processes: OU components (exact discretisation, a time loop
    over vectors) and the damped oscillation with its phase term (:func:`_oscillation_trials`), all
    units at once, in float32 (the pool's autocorrelations are computed in float32 too)."""
    n_units = len(fit.white)
    x = np.zeros((n_sim, n_pool, n_units), dtype=np.float32)
    if fit.osc is not None:
        x += _oscillation_trials(fit, n_sim, n_pool, rng)
    for j in range(fit.taus.shape[1]):
        tau, var = fit.taus[:, j], np.nan_to_num(np.maximum(fit.amps[:, j], 0.0))
        decay = np.exp(-1.0 / np.where(np.isfinite(tau) & (tau > 0), tau, 1.0))
        sd = np.sqrt(var * (1 - decay**2)).astype(np.float32)
        decay = decay.astype(np.float32)
        e = _normals(rng, (n_sim, n_pool, n_units))
        e[0] *= np.sqrt(var).astype(np.float32)
        e[1:] *= sd
        for t in range(1, n_sim):
            e[t] += decay * e[t - 1]
        x += e
    return x


def simulate_pool(gen: Generative, n_sim: int, max_lag: int, n_pool: int = POOL,
                  rng: np.random.Generator | None = None, global_mean: bool = False) -> np.ndarray:
    """Per-trial autocorrelations of ``n_pool`` trials of ``n_sim`` steps simulated from every
    unit's model: (U, M, max_lag + 1), in the data's units (counts for counts); about the pool's
    mean over all its trials with ``global_mean``."""
    rng = np.random.default_rng(rng)
    fit = gen.fit
    n_units = len(fit.white)
    out = np.empty((n_units, n_pool, max_lag + 1))
    chunk = max(1, int(4e6 // (n_sim * n_pool)))
    for u0 in range(0, n_units, chunk):
        sl = slice(u0, u0 + chunk)
        x = _latent_trials(fit.take(sl), n_sim, n_pool, rng)
        if gen.kind == "continuous":
            x += (np.sqrt(np.maximum(np.nan_to_num(fit.white[sl]), 0.0)).astype(np.float32)
                  * _normals(rng, x.shape))
        else:
            mean = gen.mean[sl]
            if gen.rate == "exp":
                var = np.nan_to_num(fit.amps[sl].sum(1) + (fit.osc[sl, 0] if fit.osc is not None else 0.0))
                rate = mean * np.exp(x - var / 2)
            else:
                rate = np.maximum(mean + x, 0.0)
            fano = np.broadcast_to(gen.fano[sl], rate.shape)
            pois = np.broadcast_to(gen.poisson[sl], rate.shape)
            counts = np.zeros_like(rate)
            counts[pois] = rng.poisson(rate[pois])
            g = ~pois & (rate > 0)
            counts[g] = rng.gamma(rate[g] / fano[g], fano[g])
            x = counts
        out[sl] = np.moveaxis(_fft_autocorrelation(x, max_lag, True, np.float32, global_mean), 0, 1)  # (U, M, L)
    return out


def replicates(expected: np.ndarray, pool: np.ndarray, n_trials: int, n_rep: int,
               rng: np.random.Generator | None = None) -> np.ndarray:
    """``n_rep`` trial-averaged autocorrelations per unit (U, n_rep, L): ``expected`` (U, L) plus
    the mean of ``n_trials`` pool deviations drawn with replacement (``n_trials`` may exceed the
    pool: the trials' count of a long recording cut into pool-length segments)."""
    rng = np.random.default_rng(rng)
    n_units, n_pool, n_lags = pool.shape
    n_trials = int(n_trials)
    dev = pool - pool.mean(1, keepdims=True)
    dev *= np.sqrt(n_pool / max(n_pool - 1, 1))
    # how often each pool trial is drawn: the replicate's trials drawn uniformly, counted
    draws = np.empty((n_units * n_rep, n_pool))
    step = max(1, 4_000_000 // n_trials)
    for r0 in range(0, len(draws), step):
        rows = min(step, len(draws) - r0)
        idx = rng.integers(0, n_pool, (rows, n_trials)) + (np.arange(rows) * n_pool)[:, None]
        draws[r0 : r0 + rows] = np.bincount(idx.ravel(), minlength=rows * n_pool).reshape(rows, n_pool)
    return expected[:, None, :] + np.matmul(draws.reshape(n_units, n_rep, n_pool), dev) / n_trials


def pool_length(n_steps: int, max_lag: int, slowest: float) -> int:
    """Steps per simulated trial: the data's trial, or for long trials a segment of at least
    max(4096, 32 max_lag, 100 x the slowest timescale) steps."""
    want = max(4096, 32 * max_lag, int(100 * min(slowest, 1e7)) if np.isfinite(slowest) else 0)
    return int(min(n_steps, want))


# --- the full simulation, in torch (reference for the pool; GPU) ----------------------------------
def _fast_size(n: int) -> int:
    """Smallest 5-smooth integer >= n (fast FFT length)."""
    m = n
    while True:
        k = m
        for f in (2, 3, 5):
            while k % f == 0:
                k //= f
        if k == 1:
            return m
        m += 1


def simulate_acf(
    taus: np.ndarray,
    amps: np.ndarray,
    white: float,
    n_rep: int,
    n_steps: int,
    n_trials: int,
    max_lag: int,
    kind: str = "continuous",
    mean: float = 1.0,
    counts: str = "poisson",
    osc: np.ndarray | None = None,
    seed: int | None = None,
    device: str = "cpu",
) -> np.ndarray:
    """Trial-averaged autocorrelations of ``n_rep`` simulated data sets, in torch (CPU or GPU).

    The same generative models as :mod:`rnn_timescales.analysis.synthetic` (exact OU
    discretisation, rectified rate, Poisson or gamma counts), written for batches of replicates:
    float32, a time loop over (replicates x trials) vectors, the autocorrelation by a real FFT.

    Parameters
    ----------
    taus, amps : arrays, shape (J,)
        Timescales (steps) and variances of the OU components.
    white : float
        Variance of the white noise (continuous) or the counts' lag-0 excess (counts; the Fano
        factor is white / mean, Poisson counts when ``counts="poisson"``).
    n_rep, n_steps, n_trials, max_lag : int
    kind : {"continuous", "counts"}
    mean : float
        Mean count per bin (counts).
    counts : {"poisson", "gamma", "gaussian"}
        "gaussian": counts with the mean and variance of the gamma counts, normally distributed
        (cheap; the model test's null simulations use it).
    osc : array (amplitude, tau, frequency), optional
        A damped oscillation (complex OU).
    seed : int, optional
    device : str
        Torch device ("cpu", "cuda").

    Returns
    -------
    array, shape (n_rep, max_lag + 1), float64
    """
    import torch

    gen = torch.Generator(device=device)
    gen.manual_seed(int(np.random.SeedSequence(seed).generate_state(1)[0]) if seed is not None else 0)
    taus = np.asarray(taus, float)
    amps = np.maximum(np.asarray(amps, float), 0.0)
    fano = max(white, 1e-6) / mean if kind == "counts" else 0.0
    nfft = _fast_size(n_steps + max_lag)
    lags = torch.arange(max_lag + 1, device=device, dtype=torch.float64)
    out = np.empty((n_rep, max_lag + 1))
    per = max(1, int(2.5e7 // (n_steps * n_trials)))  # replicates per chunk: 100 MB of float32
    for s in range(0, n_rep, per):
        c = min(per, n_rep - s)
        cols = c * n_trials
        x = torch.zeros((n_steps, cols), device=device)
        comps = [(float(t), float(a), 0.0) for t, a in zip(taus, amps) if a > 0]
        if osc is not None and osc[0] > 0:
            comps.append((float(osc[1]), float(osc[0]), float(osc[2])))
        for tau, var, freq in comps:
            r = np.exp(-1.0 / tau) if np.isfinite(tau) else 1.0
            if freq == 0.0:
                e = torch.randn((n_steps, cols), generator=gen, device=device)
                e[0] *= np.sqrt(var)
                e[1:] *= np.sqrt(var * (1 - r * r))
                y = e[0]
                x[0] += y
                for t in range(1, n_steps):
                    y = y * r + e[t]
                    x[t] += y
            else:  # damped oscillation: real part of a complex OU with variance 2 var
                cr, ci = r * np.cos(2 * np.pi * freq), r * np.sin(2 * np.pi * freq)
                sd = np.sqrt(var * (1 - r * r))
                e = torch.randn((2, n_steps, cols), generator=gen, device=device) * sd
                yr = torch.randn(cols, generator=gen, device=device) * np.sqrt(var)
                yi = torch.randn(cols, generator=gen, device=device) * np.sqrt(var)
                x[0] += yr
                for t in range(1, n_steps):
                    yr, yi = cr * yr - ci * yi + e[0, t], ci * yr + cr * yi + e[1, t]
                    x[t] += yr
        if kind == "continuous":
            if white > 0:
                x += np.sqrt(white) * torch.randn((n_steps, cols), generator=gen, device=device)
        else:
            rate = (x + mean).clamp_(min=0.0)
            if counts == "poisson":
                x = torch.poisson(rate, generator=gen)
            elif counts == "gaussian":  # mean and variance of the counts, Gaussian: cheap
                x = rate + (fano * rate).sqrt_() * torch.randn(rate.shape, generator=gen, device=device)
            else:
                g = torch._standard_gamma((rate / fano).clamp_(min=1e-6), generator=gen) * fano
                x = torch.where(rate > 0, g, torch.zeros_like(g))
        x = x - x.mean(0, keepdim=True)
        spec = torch.fft.rfft(x, n=nfft, dim=0)
        power = spec.real.square_() + spec.imag.square_()
        del spec
        raw = torch.fft.irfft(power, n=nfft, dim=0)[: max_lag + 1].double()
        ac = raw / (n_steps - lags)[:, None]
        out[s : s + c] = ac.reshape(max_lag + 1, c, n_trials).mean(2).T.cpu().numpy()
    return out


__all__ = ["Generative", "POOL", "RATES", "expected_curve", "latent", "pool_length", "replicates", "simulate_acf",
           "simulate_pool"]
