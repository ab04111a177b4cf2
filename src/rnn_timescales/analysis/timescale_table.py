"""The result of :func:`rnn_timescales.analysis.inference.estimate_timescales`: each unit's chosen
model, bias-corrected timescales, weights and oscillation with their intervals, as a table (one
row per unit), a list of dicts (the JSON) and the curves of the figure (docs/timescales.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rnn_timescales.analysis.acf_models import Fit
from rnn_timescales.analysis.model_choice import bootstrap_interval, has_osc, n_exp, nan_quantiles

MIN_SIGNAL = 0.01  # a unit whose correlated variance is below this share has no measurable timescale
POOR_R2 = 0.9  # below this r2 (lags >= 1) a failed goodness-of-fit test flags a poor fit


@dataclass
class TimescaleEstimate:
    """Result of :func:`estimate_timescales`.

    table: one row per unit (see :func:`estimate_timescales`).
    units: one dict per unit, ``{"unit", "timescales", "intervals", "weights", "weight_intervals",
        "model", "oscillation", ...}`` (timescales in units of dt, slowest last) -- what ``--json`` prints.
    lags: (L,) lags in units of dt.
    acf: (U, L) the fitted autocorrelation normalised by its lag-0 value (for ``rate="exp"`` the
        latent process's, log(1 + C / mean^2)).
    fit: (U, L) the selected model's expected estimate, same normalisation.
    band: (U, 2, L) the bootstrap's pointwise interval of the fitted curve (NaN without one).
    warnings: one line each, for the user (poor fits).
    """

    table: pd.DataFrame
    units: list[dict]
    lags: np.ndarray
    acf: np.ndarray
    fit: np.ndarray
    band: np.ndarray
    settings: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _intervals(model: str, units: np.ndarray, fit: Fit, boots: dict, trial_boot: dict | None, interval: str,
               level: float) -> dict:
    """Corrected values and intervals of one model's units: taus (k, J), tau_ci (k, J, 2), weights,
    weight_ci, osc (k, 3: weight, tau, frequency) and osc_ci (k, 3, 2)."""
    k, j = len(units), n_exp(model)
    taus, weights = fit.taus[units], fit.weights[units]
    osc = np.full((k, 3), np.nan)
    if fit.osc is not None:
        osc = fit.osc[units].copy()
        total = fit.amps[units].sum(1) + osc[:, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            osc[:, 0] = osc[:, 0] / total
    nan2 = np.full((k, j, 2), np.nan)
    out = {"taus": taus, "tau_ci": nan2, "weights": weights, "weight_ci": nan2.copy(), "osc": osc,
           "osc_ci": np.full((k, 3, 2), np.nan)}
    if interval == "bootstrap" and model in boots:
        b = boots[model]
        out["taus"], out["tau_ci"] = bootstrap_interval(b["taus"][units], taus, level, log=True)
        w, wci = bootstrap_interval(b["weights"][units], weights, level, log=False)
        out["weights"], out["weight_ci"] = np.clip(w, 0, 1), np.clip(wci, 0, 1)
        if fit.osc is not None:
            ow, owci = bootstrap_interval(b["osc"][units][:, :, :1], osc[:, :1], level, log=False)
            tf, tfci = bootstrap_interval(b["osc"][units][:, :, 1:], osc[:, 1:], level, log=True)
            out["osc"] = np.concatenate([np.clip(ow, 0, 1), tf], 1)
            out["osc_ci"] = np.concatenate([np.clip(owci, 0, 1), tfci], 1)
    elif interval == "trials" and trial_boot is not None and model in trial_boot:
        all_units, bfit, _ = trial_boot[model]
        n_rep = len(bfit.rss) // len(all_units)
        pos = np.searchsorted(all_units, units)
        q = [(1 - level) / 2, (1 + level) / 2]
        bt = bfit.taus.reshape(len(all_units), n_rep, -1)[pos]
        out["tau_ci"] = np.moveaxis(np.exp(nan_quantiles(np.log(bt), q, axis=1)), 0, -1)
        out["weight_ci"] = np.moveaxis(nan_quantiles(bfit.weights.reshape(len(all_units), n_rep, -1)[pos], q, axis=1), 0, -1)
        if bfit.osc is not None:
            bo = bfit.osc.reshape(len(all_units), n_rep, 3)[pos][:, :, 1:]
            out["osc_ci"][:, 1:] = np.moveaxis(np.exp(nan_quantiles(np.log(bo), q, axis=1)), 0, -1)
    return out


def build(y, ac, means, chosen, fits, boots, trial_boot, p, poor, kind, interval, level, dt, n_steps, max_lag,
          settings, suggest_osc):
    """Assemble the :class:`TimescaleEstimate` (arguments as computed in ``estimate_timescales``)."""
    n_units = len(chosen)
    chosen = np.array(chosen, dtype=object)
    max_j = max([n_exp(m) for m in set(chosen)] + [1])
    any_osc = any(has_osc(m) for m in settings["models"])
    curves = np.full((n_units, max_lag + 1), np.nan)
    band = np.full((n_units, 2, max_lag + 1), np.nan)
    rows, units = [None] * n_units, [None] * n_units
    for model in sorted(set(chosen)):
        idx = np.flatnonzero(chosen == model)
        fit = fits[model]
        one = fit.take(idx)
        curve = one.curve(n_steps, max_lag, n_mean=settings["n_mean"])
        c0 = np.where(y[idx, 0] > 0, y[idx, 0], 1.0)
        curves[idx] = curve / c0[:, None]
        if interval == "bootstrap" and model in boots:
            band[idx] = boots[model]["band"][idx]
        elif interval == "trials" and trial_boot is not None and model in trial_boot:
            all_units, bfit, res = trial_boot[model]
            pos = np.searchsorted(all_units, idx)
            k, n_rep = len(all_units), res.shape[1]
            bc = bfit.curve(n_steps, max_lag, n_mean=settings["n_mean"]).reshape(k, n_rep, -1)[pos] / res[pos][:, :, :1]
            band[idx] = np.moveaxis(nan_quantiles(bc, [(1 - level) / 2, (1 + level) / 2], axis=1), 0, 1)
        resid = y[idx] - curve
        tss = ((y[idx, 1:] - y[idx, 1:].mean(1, keepdims=True)) ** 2).sum(1)
        r2 = np.where(tss > 0, 1 - (resid[:, 1:] ** 2).sum(1) / np.where(tss > 0, tss, 1.0), np.nan)
        rmse = np.sqrt((resid[:, 1:] ** 2).mean(1)) / c0
        signal = one.amps.sum(1) + (one.osc[:, 0] if one.osc is not None else 0.0)
        variance = signal + one.white
        share = np.where(signal > 0, signal / (signal + np.maximum(one.white, 0.0)), 0.0)
        measurable = (model != "none") & np.isfinite(one.rss) & ~one.at_bound & (share >= MIN_SIGNAL)
        iv = _intervals(model, idx, fit, boots, trial_boot, interval, level)
        j = n_exp(model)
        for i, u in enumerate(idx):
            ok = bool(measurable[i])
            name = model if ok else "none"
            row = {"unit": int(u), "model": name, "n_components": j if ok else 0}
            for c in range(max_j):
                have = ok and c < j
                row[f"tau_{c + 1}"] = iv["taus"][i, c] * dt if have else np.nan
                row[f"tau_{c + 1}_low"] = iv["tau_ci"][i, c, 0] * dt if have else np.nan
                row[f"tau_{c + 1}_high"] = iv["tau_ci"][i, c, 1] * dt if have else np.nan
                row[f"weight_{c + 1}"] = iv["weights"][i, c] if have else np.nan
                row[f"weight_{c + 1}_low"] = iv["weight_ci"][i, c, 0] if have else np.nan
                row[f"weight_{c + 1}_high"] = iv["weight_ci"][i, c, 1] if have else np.nan
                row[f"tau_{c + 1}_raw"] = one.taus[i, c] * dt if have else np.nan
            osc_ok = ok and has_osc(model)
            o, oci = iv["osc"][i], iv["osc_ci"][i]
            if any_osc:
                scale = (dt, dt, dt, 1 / dt, 1 / dt, 1 / dt)
                vals = (o[1], oci[1, 0], oci[1, 1], o[2], oci[2, 0], oci[2, 1])
                for key, v, s in zip(("osc_tau", "osc_tau_low", "osc_tau_high", "osc_frequency", "osc_frequency_low",
                                      "osc_frequency_high"), vals, scale):
                    row[key] = v * s if osc_ok else np.nan
                row["osc_weight"] = o[0] if osc_ok else np.nan
            row["white_noise"] = one.white[i] / variance[i] if variance[i] > 0 else np.nan
            row["fano"] = one.white[i] / means[u] if kind == "counts" and means[u] > 0 and settings.get("rate") != "exp" else np.nan
            row["p_value"] = p[u]
            # a poor fit: the test fails and the curve is far from it (r2 < 0.9) or the failure is
            # extreme (p < alpha / 100); a failure at alpha alone happens to 1 % of good fits
            row["poor_fit"] = bool(poor[u] and ok and (r2[i] < POOR_R2 or p[u] < settings["alpha"] / 100))
            row["r2"], row["rmse"], row["at_bound"] = r2[i], rmse[i], bool(one.at_bound[i])
            rows[u] = row
            units[u] = {
                "unit": int(u), "model": name,
                "timescales": [float(v) for v in iv["taus"][i, :j] * dt] if ok else [],
                "intervals": [[float(a), float(b)] for a, b in iv["tau_ci"][i, :j] * dt] if ok else [],
                "weights": [float(v) for v in iv["weights"][i, :j]] if ok else [],
                "weight_intervals": [[float(a), float(b)] for a, b in iv["weight_ci"][i, :j]] if ok else [],
                "oscillation": {"decay": float(o[1] * dt), "decay_interval": [float(v * dt) for v in oci[1]],
                                "frequency": float(o[2] / dt), "frequency_interval": [float(v / dt) for v in oci[2]],
                                "weight": float(o[0]), "weight_interval": [float(v) for v in oci[0]]} if osc_ok else None,
                "timescales_raw": [float(v) for v in one.taus[i, :j] * dt] if ok else [],
                "white_noise": float(row["white_noise"]),
                "p_value": None if not np.isfinite(p[u]) else float(p[u]),
                "poor_fit": bool(row["poor_fit"]),
                "r2": float(r2[i]),
            }
    warnings = _warnings(rows, settings["alpha"], suggest_osc)
    with np.errstate(divide="ignore", invalid="ignore"):
        acf = y / np.where(y[:, :1] > 0, y[:, :1], 1.0)
    return TimescaleEstimate(table=pd.DataFrame(rows), units=units, lags=np.arange(max_lag + 1) * dt, acf=acf,
                             fit=curves, band=band, settings=settings, warnings=warnings)


def merge(parts: list, n_units: int, alpha: float, suggest_osc: bool) -> TimescaleEstimate:
    """One estimate of ``n_units`` units from estimates of subsets: ``parts`` is a list of
    (unit indices (k,), TimescaleEstimate of those k units), e.g. the units of each kind of mean.
    Rows and dicts get their index in the whole; the table's columns are the union (a component
    missing from a part is NaN); the warnings are recomputed over all units."""
    first = parts[0][1]
    lags = first.lags
    acf = np.full((n_units, len(lags)), np.nan)
    fit, band = acf.copy(), np.full((n_units, 2, len(lags)), np.nan)
    tables, units = [], [None] * n_units
    for idx, est in parts:
        t = est.table.copy()
        t["unit"] = idx[t["unit"].to_numpy()]
        tables.append(t)
        for u in est.units:
            units[int(idx[u["unit"]])] = dict(u, unit=int(idx[u["unit"]]))
        acf[idx], fit[idx], band[idx] = est.acf, est.fit, est.band
    widest = max((t for t in tables), key=lambda t: t.shape[1]).columns
    table = pd.concat(tables, ignore_index=True).sort_values("unit", ignore_index=True)
    table = table[list(widest) + [c for c in table.columns if c not in widest]]
    warnings = _warnings(table.to_dict("records"), alpha, suggest_osc)
    return TimescaleEstimate(table=table, units=units, lags=lags, acf=acf, fit=fit, band=band,
                             settings=dict(first.settings), warnings=warnings)


def _warnings(rows: list[dict], alpha: float, suggest_osc: bool) -> list[str]:
    """One line for the units whose chosen model fails its goodness-of-fit test."""
    poor = [r for r in rows if r["poor_fit"]]
    if not poor:
        return []
    worst = min(poor, key=lambda r: r["r2"] if np.isfinite(r["r2"]) else np.inf)
    hint = ("; if it oscillates, add the damped-oscillation model (--models 1exp,2exp,osc)" if suggest_osc else
            "; it is neither a sum of exponentials nor a damped oscillation: check for trends or several oscillations")
    return [f"{len(poor)} of {len(rows)} unit(s) fit their model poorly (goodness-of-fit p < {alpha:g}; e.g. unit "
            f"{worst['unit']}: {worst['model']}, r2 = {worst['r2']:.2f}){hint}"]


__all__ = ["MIN_SIGNAL", "POOR_R2", "TimescaleEstimate", "build", "merge"]
