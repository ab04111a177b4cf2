"""``rnn-timescales timescales DATA``: timescales of recorded or simulated activity read from a
file, with intervals (docs/timescales.md).

read DATA with named axes -> validate -> :func:`rnn_timescales.analysis.inference.estimate_timescales`
-> ``timescales.csv`` (one row per unit), ``timescales.json`` and ``figures/autocorrelation_fits*.png``.
Every check happens before anything is written; a bad input raises ValueError with a one-line
message.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from rnn_timescales.analysis.inference import (
    INTERVALS, KINDS, TimescaleEstimate, default_max_lag, estimate_timescales, guess_kind)
from rnn_timescales.io import file_in_the_way, move_into_place
from rnn_timescales.studies.contract import Study

AXES = ("time", "trials", "units")
TABLE = "timescales.csv"
SUMMARY_JSON = "timescales.json"
SUFFIXES = (".npy", ".npz", ".csv")


def parse_axes(text: str) -> tuple[str, ...]:
    """``"trials,time"`` -> ("trials", "time"); each name once, ``time`` required."""
    names = tuple(a.strip() for a in text.split(",") if a.strip())
    bad = [a for a in names if a not in AXES]
    if bad or not names:
        raise ValueError(f"--axes names the data's axes in order from {', '.join(AXES)} (e.g. trials,time), got {text!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"--axes names an axis twice: {text!r}")
    if "time" not in names:
        raise ValueError(f"--axes must include time, got {text!r}")
    return names


class _Refusal(ValueError):
    """A message of ours (re-raised as is; any other error while reading is prefixed)."""


def read_array(path: str | Path, key: str | None = None) -> np.ndarray:
    """The array in a ``.npy``, ``.npz`` (``key`` names it when there are several) or ``.csv``
    (numbers only, an optional header row) file. ValueError with one line if it cannot be read."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"data file {str(p)!r} does not exist")
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"cannot read {str(p)!r}: expected one of {', '.join(SUFFIXES)}")
    try:
        if suffix == ".npy":
            return np.load(p, allow_pickle=False)
        if suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                names = list(z.keys())
                if key is None:
                    if len(names) != 1:
                        raise _Refusal(f"{str(p)!r} holds arrays {', '.join(names) or '(none)'}; choose one with --key")
                    key = names[0]
                if key not in names:
                    raise _Refusal(f"{str(p)!r} has no array {key!r} (it holds {', '.join(names)})")
                return z[key]
        import pandas as pd

        table = pd.read_csv(p, header=None)
        if len(table) and not all(_is_number(v) for v in table.iloc[0]):
            table = table.iloc[1:]  # a header row
        try:
            return table.to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise _Refusal(f"{str(p)!r} holds values that are not numbers") from None
    except _Refusal:
        raise
    except Exception as e:  # corrupt or truncated file, pickled objects, empty CSV ...
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"cannot read {str(p)!r}: {msg}") from None


def _is_number(v) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def arrange(x: np.ndarray, axes: tuple[str, ...]) -> np.ndarray:
    """Reorder ``x`` whose axes are named ``axes`` into (time, trials, units), adding missing ones."""
    if x.ndim != len(axes):
        raise ValueError(f"the data has {x.ndim} axes {tuple(x.shape)} but --axes names {len(axes)} ({','.join(axes)})")
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.bool_)):
        raise ValueError(f"the data must be numbers, got dtype {x.dtype}")
    for name in AXES:
        if name not in axes:
            x = x[..., None]
            axes = axes + (name,)
    return np.transpose(x, [axes.index(a) for a in AXES])


def prepare(path, axes: str, kind: str | None, dt: float, max_lag: int | None, interval: str,
            key: str | None = None) -> tuple[np.ndarray, str, bool]:
    """Read and check everything; returns (data (time, trials, units), kind, kind_was_guessed)."""
    names = parse_axes(axes)
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"--dt must be a positive number, got {dt!r}")
    if kind is not None and kind not in KINDS:
        raise ValueError(f"--kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if interval not in INTERVALS:
        raise ValueError(f"--interval must be one of {', '.join(INTERVALS)}, got {interval!r}")
    x = arrange(read_array(path, key), names)
    if x.size == 0:
        raise ValueError(f"the data is empty (shape {tuple(x.shape)} as time, trials, units)")
    if np.issubdtype(x.dtype, np.bool_):
        x = x.astype(np.int64)
    bad = ~np.isfinite(x)
    if bad.any():
        raise ValueError(f"the data holds {int(bad.sum())} NaN or infinite values; remove or fill them first")
    n_steps, n_trials, _ = x.shape
    lag = default_max_lag(n_steps) if max_lag is None else max_lag
    if n_trials < 2:
        raise ValueError(f"need at least 2 trials, got {n_trials} (name a trials axis with --axes)")
    if n_steps < 2 * lag or lag < 4:
        raise ValueError(f"trials of {n_steps} steps are too short for lags up to {lag}: need at least "
                         f"{2 * max(lag, 4)} steps (lower --max-lag)")
    flat = (x.std(axis=0) == 0).all(axis=0)
    if flat.any():
        raise ValueError(f"unit {int(np.flatnonzero(flat)[0])} is constant in every trial: no autocorrelation to fit")
    guessed = kind is None
    kind = guess_kind(x) if guessed else kind
    if kind == "counts" and (x < 0).any():
        raise ValueError("--kind counts needs non-negative data")
    return x, kind, guessed


def check_out(out: str | Path) -> Path:
    """``out`` if the results may be written there: missing, empty, or a previous result (it is
    replaced). Nothing is created."""
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise ValueError(f"output path {str(p)!r} is a file; give a directory")
    if p.is_dir() and any(p.iterdir()) and not (p / TABLE).is_file():
        raise ValueError(f"output directory {str(p)!r} holds files that are not timescales; choose another --out")
    blocker = file_in_the_way(p)
    if blocker is not None:
        raise ValueError(f"output path {str(p)!r} lies under {str(blocker)!r}, which is a file")
    return p


def run(x: np.ndarray, kind: str, dt: float, **kwargs) -> TimescaleEstimate:
    """The estimate (kwargs as :func:`estimate_timescales`)."""
    return estimate_timescales(x, dt=dt, kind=kind, **kwargs)


def write(est: TimescaleEstimate, out: str | Path, unit_label: str = "steps") -> Path:
    """timescales.csv, timescales.json and figures/ into ``out`` (atomically replaced)."""
    import matplotlib.pyplot as plt

    from rnn_timescales.plots.timescales import PANELS_PER_FIGURE, plot_unit_fits

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        est.table.to_csv(tmp / TABLE, index=False, float_format="%.6g")
        (tmp / SUMMARY_JSON).write_text(json.dumps(to_json(est), indent=1))
        (tmp / "figures").mkdir()
        n = len(est.units)
        for page, start in enumerate(range(0, n, PANELS_PER_FIGURE)):
            fig = plot_unit_fits(est, list(range(start, min(n, start + PANELS_PER_FIGURE))), unit_label)
            name = "autocorrelation_fits.png" if n <= PANELS_PER_FIGURE else f"autocorrelation_fits_{page + 1}.png"
            fig.savefig(tmp / "figures" / name, dpi=110)
            plt.close(fig)
        move_into_place(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def to_json(est: TimescaleEstimate) -> dict:
    """``{"settings": ..., "units": [{"unit", "timescales", "intervals", "weights", "model", ...}]}``."""
    def clean(v):
        if isinstance(v, float) and not np.isfinite(v):
            return None
        if isinstance(v, list):
            return [clean(a) for a in v]
        return v

    return {"settings": est.settings, "units": [{k: clean(v) for k, v in u.items()} for u in est.units]}


__all__ = ["AXES", "arrange", "check_out", "parse_axes", "prepare", "read_array", "run", "to_json", "write"]


STUDY = Study("timescales", "timescales of recorded or simulated activity read from a file, with intervals", None,
              (TABLE, SUMMARY_JSON), ("figures/autocorrelation_fits*.png",))
