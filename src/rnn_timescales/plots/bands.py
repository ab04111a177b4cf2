"""The one way every figure draws a statistic across networks or repeats: the mean as a line with
markers, its spread as a shaded band around it."""

from __future__ import annotations

from typing import Any

import numpy as np


def line_with_band(ax, x, mean, lo, hi, *, color: Any, label: str | None = None, alpha: float = 0.2,
                   style: str = "o-", ms: float = 3, step: bool = False, band: bool = True) -> None:
    """Draw ``mean`` against ``x`` (1-D, same length) on ``ax`` as a line in ``style`` with markers
    of size ``ms``, and the spread between ``lo`` and ``hi`` as a band of opacity ``alpha`` in the same
    colour. ``step``: a staircase (each value held until the next x, e.g. the largest N solved so far)
    without markers. ``band=False`` draws the line alone (e.g. a single network, whose spread is
    zero). NaN in ``lo``/``hi`` leaves a gap in the band, not in the line."""
    if step:
        ax.plot(x, mean, color=color, label=label, drawstyle="steps-post")
    else:
        ax.plot(x, mean, style, ms=ms, color=color, label=label)
    if band:
        ax.fill_between(x, lo, hi, color=color, alpha=alpha, lw=0, step="post" if step else None)


def mean_sd_band(ax, x, mean, sd, **kw: Any) -> None:
    """:func:`line_with_band` with the band mean ± ``sd`` (a missing s.d., e.g. of one network, is 0)."""
    sd = np.nan_to_num(np.asarray(sd, dtype=float), nan=0.0)
    mean = np.asarray(mean, dtype=float)
    line_with_band(ax, x, mean, mean - sd, mean + sd, **kw)
