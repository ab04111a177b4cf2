"""Which mean the autocorrelation of a unit subtracts under ``mean="auto"`` (docs/timescales.md,
"Which mean to subtract").

Each trial's own mean absorbs the slow fluctuations of a short trial (the information about a
timescale near the trial length that the between-trial spread of the trial means carries); the
mean of all trials keeps it but is right only when every trial has the same mean. Under one common
mean, independent trials of n steps have means whose variance follows from the autocovariance,

    Var(m_r) = (1 / n^2) sum_{|d| < n} (n - |d|) gamma_|d|,

so the spread of the R trial means about their average, Q = sum_r (m_r - m)^2 / Var(m_r), is
chi-square with R - 1 degrees of freedom (the trial means of n >> tau steps are close to Gaussian).
gamma is taken from the fit of the *per-trial-mean* autocorrelation (its expected estimate, blind
to any trial-to-trial change of the mean): one exponential plus white noise, or two where the
two-component fit is plausible. That Var(m_r) is itself an estimate, off by tens of per cent where
the slowest timescale is poorly determined (two timescales, tau near the trial length), and a
unit whose timescale came out short would be sent to the per-trial mean by chance -- and keep its
short estimate. So the spread must exceed the chi-square's 1 - alpha / 100 quantile (at 100 trials
about 1.5 times the predicted variance). Independently, consecutive trial means must be
uncorrelated (lag-1 serial correlation of the trial means within +-z_{1 - alpha/2} / sqrt(R), a
test that needs no model): a mean that drifts over the session fails it. A unit that fails either
keeps the per-trial mean; the others use the mean of all trials.
"""

from __future__ import annotations

import numpy as np

from rnn_timescales.analysis.model_choice import fit_candidate, plausible


def trial_mean_variance(taus: np.ndarray, amps: np.ndarray, white: np.ndarray, n_steps: int,
                        exp_mean: np.ndarray | None = None) -> np.ndarray:
    """Variance of the mean of one trial of ``n_steps`` steps, (U,), for autocovariances
    gamma_k = sum_j amps_j exp(-k / taus_j) + white delta_k (taus, amps: (U, J); white: (U,)).
    ``exp_mean`` (U,): the fit is of the latent process of exponentiated-rate counts with these
    mean counts; then gamma_k = mean^2 (exp(latent_k) - 1) for k >= 1 and the counts' lag-0
    variance mean^2 (exp(latent_0) - 1) + white."""
    n = int(n_steps)
    out = np.empty(len(white))
    step = max(1, int(4e6 // n))
    k = np.arange(n, dtype=np.float64)
    weight = np.where(k == 0, n, 2.0 * (n - k))  # pairs at lag |d|: n at 0, 2 (n - d) else
    for u0 in range(0, len(out), step):
        sl = slice(u0, u0 + step)
        t = np.where(np.isfinite(taus[sl]) & (taus[sl] > 0), taus[sl], 1.0)
        g = (np.nan_to_num(np.maximum(amps[sl], 0.0))[:, :, None] * np.exp(-k / t[:, :, None])).sum(1)
        if exp_mean is not None:
            g = exp_mean[sl, None] ** 2 * np.expm1(g)
        g[:, 0] += np.maximum(np.nan_to_num(white[sl]), 0.0)
        out[sl] = (g * weight).sum(1) / n**2
    return out


def common_mean(x: np.ndarray, ac: np.ndarray, n_steps: int, max_lag: int, alpha: float,
                exp_mean: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per unit, whether its trial means agree with one common mean (see the module's docstring).

    Parameters
    ----------
    x : array, shape (time, trials, units)
    ac : array, shape (units, max_lag + 1)
        The per-trial-mean autocorrelation, trial-averaged (for exponentiated-rate counts the
        latent one, log(1 + C / mean^2)).
    n_steps, max_lag : int
    alpha : float
        Level of the test.
    exp_mean : array (units,), optional
        Mean counts, for exponentiated-rate counts.

    Returns
    -------
    common : (units,) bool
        True: the mean of all trials is subtracted. Always False with one trial (the two agree).
    p : (units,) float
        min(100 x the spread test's p-value, the serial test's p-value), capped at 1: common
        where >= alpha (NaN with one trial).
    """
    from scipy.stats import chi2, norm

    n_trials, n_units = x.shape[1], x.shape[2]
    if n_trials < 2:
        return np.zeros(n_units, bool), np.full(n_units, np.nan)
    one = fit_candidate("1exp", ac, n_steps)
    two = fit_candidate("2exp", ac, n_steps)
    use2 = plausible(two, max_lag) & (two.rss < one.rss)
    taus = np.where(use2[:, None], two.taus, np.column_stack([one.taus, np.full(n_units, np.inf)]))
    amps = np.where(use2[:, None], two.amps, np.column_stack([one.amps, np.zeros(n_units)]))
    white = np.where(use2, two.white, one.white)
    var_m = trial_mean_variance(taus, amps, white, n_steps, exp_mean)
    m = x.mean(axis=0)  # (R, U)
    d = m - m.mean(0)
    q = (d**2).sum(0) / np.where(var_m > 0, var_m, np.nan)
    p_spread = np.nan_to_num(chi2.sf(q, n_trials - 1), nan=0.0)
    if n_trials >= 4:
        with np.errstate(divide="ignore", invalid="ignore"):
            serial = (d[1:] * d[:-1]).sum(0) / (d**2).sum(0)
        p_serial = np.nan_to_num(2 * norm.sf(np.abs(serial) * np.sqrt(n_trials)), nan=0.0)
    else:
        p_serial = np.ones(n_units)
    p = np.minimum(p_spread * 100, p_serial)  # each against its own level, alpha / 100 and alpha
    return p >= alpha, np.minimum(p, 1.0)


__all__ = ["common_mean", "trial_mean_variance"]
