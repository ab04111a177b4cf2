"""Every unit's autocorrelation with its fitted model and the bootstrap interval of the fit
(``rnn-timescales timescales``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

PANELS_PER_FIGURE = 48


def plot_unit_fits(estimate, units: list[int] | None = None, unit_label: str = "steps"):
    """One panel per unit: the data's normalised autocorrelation from lag 1 (dots; lag 0 holds
    the white-noise jump and is not drawn), the selected model's expected estimate (line), the
    bootstrap's pointwise interval of the fit (band), and each timescale with its interval.

    Parameters
    ----------
    estimate : TimescaleEstimate
        From :func:`rnn_timescales.analysis.inference.estimate_timescales`.
    units : list of int, optional
        Units to draw (default the first :data:`PANELS_PER_FIGURE`).
    unit_label : str
        Name of the time unit (of ``dt``) for the axis.

    Returns
    -------
    matplotlib Figure
    """
    units = list(range(min(len(estimate.units), PANELS_PER_FIGURE))) if units is None else list(units)
    n = len(units)
    cols = min(n, 6)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.1 * rows), squeeze=False, sharex=True)
    lags = estimate.lags
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, u in zip(axes.flat, units):
        info = estimate.units[u]
        ax.plot(lags[1:], estimate.acf[u, 1:], ".", ms=2, color="0.35", label="data")
        ax.plot(lags[1:], estimate.fit[u, 1:], "-", color="C1", lw=1.2, label="fit")
        band = estimate.band[u]
        if np.isfinite(band).all():
            ax.fill_between(lags[1:], band[0, 1:], band[1, 1:], color="C1", alpha=0.25, lw=0)
        lines = [f"{t:.3g} [{lo:.3g}, {hi:.3g}]" if np.isfinite(lo) else f"{t:.3g}"
                 for t, (lo, hi) in zip(info["timescales"], info["intervals"])]
        osc = info.get("oscillation")
        if osc:  # the damped oscillation: decay and frequency with their intervals
            d_lo, d_hi = osc["decay_interval"]
            f_lo, f_hi = osc["frequency_interval"]
            lines.append(f"decay {osc['decay']:.3g}" + (f" [{d_lo:.3g}, {d_hi:.3g}]" if np.isfinite(d_lo) else ""))
            lines.append(f"freq. {osc['frequency']:.3g}" + (f" [{f_lo:.3g}, {f_hi:.3g}]" if np.isfinite(f_lo) else ""))
        text = "\n".join(lines)
        title = f"unit {info['unit']}" + (f" ({info['name']})" if info.get("name") else "")
        ax.set_title(f"{title}: {info['model']}" + (" (poor fit)" if info.get("poor_fit") else ""), fontsize=8)
        ax.text(0.97, 0.95, text, transform=ax.transAxes, ha="right", va="top", fontsize=7)
        ax.axhline(0, color="0.8", lw=0.5)
        ax.tick_params(labelsize=7)
    for ax in axes[-1]:
        ax.set_xlabel(f"lag ({unit_label})", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("AC / AC(0)", fontsize=8)
    # fixed margins: tight_layout measures every label of up to 48 panels (seconds per figure)
    fig.subplots_adjust(left=0.35 / cols + 0.02, right=0.99, bottom=0.5 / (2.1 * rows) + 0.02,
                        top=1 - 0.3 / (2.1 * rows), wspace=0.35, hspace=0.45)
    return fig
