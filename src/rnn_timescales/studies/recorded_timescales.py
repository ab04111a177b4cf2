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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnn_timescales.analysis.inference import (
    INTERVALS, KINDS, TimescaleEstimate, default_max_lag, estimate_timescales, guess_kind)
from rnn_timescales.io import OutputDir, move_into_place
from rnn_timescales.studies.contract import Study

AXES = ("time", "trials", "units")
TABLE = "timescales.csv"
SUMMARY_JSON = "timescales.json"
OUTPUT = OutputDir("timescales", marker=TABLE, kind="timescales")
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


def _check_magic(p: Path, suffix: str) -> None:
    """A .npy must start with the NumPy header and a .npz with a zip header; a text file under
    either name gets a message saying so (np.load would call it pickled data)."""
    with open(p, "rb") as f:
        head = f.read(64)
    want = b"\x93NUMPY" if suffix == ".npy" else b"PK"
    if head.startswith(want):
        return
    if not head:
        raise _Refusal(f"{str(p)!r} is empty")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c.isspace() for c in text):
        raise _Refusal(f"{str(p)!r} is a text file, not a NumPy {suffix} file: name a table of numbers .csv, "
                       f"or save the array with np.save")
    raise _Refusal(f"{str(p)!r} is not a NumPy {suffix} file (it does not start with the {suffix} header)")


def read_array(path: str | Path, key: str | None = None) -> np.ndarray:
    """The array in a ``.npy``, ``.npz`` (``key`` names it when there are several) or ``.csv``
    (numbers only, an optional header row) file. ValueError with one line if it cannot be read."""
    x, names = read_units(path, key)
    if names is not None:
        raise ValueError(f"{str(path)!r} holds several arrays ({', '.join(names)}); choose one with --key")
    return x


def read_units(path: str | Path, key: str | None = None) -> tuple[np.ndarray, list[str] | None]:
    """The data of ``path``: (array, None) for one array, or for a folder of ``.npy`` files or an
    ``.npz`` of several arrays of one shape without ``key``, (arrays stacked on a new last axis,
    their names): one unit each. ValueError with one line if it cannot be read."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() == ".npy")
        if not files:
            raise ValueError(f"folder {str(p)!r} holds no .npy files (one per unit)")
        arrays = [_read_file(f, None) for f in files]
        return _stack(p, [f.stem for f in files], arrays), [f.stem for f in files]
    if not p.is_file():
        raise ValueError(f"data file {str(p)!r} does not exist")
    if p.suffix.lower() == ".npz" and key is None:
        try:
            _check_magic(p, ".npz")
            with np.load(p, allow_pickle=False) as z:
                names = list(z.keys())
                if len(names) > 1:
                    arrays = [z[n] for n in names]
                    if len({a.shape for a in arrays}) > 1:
                        raise _Refusal(f"{str(p)!r} holds arrays {', '.join(names)} of different shapes; choose "
                                       f"one with --key (arrays of one shape are read as one unit each)")
                    return _stack(p, names, arrays), names
        except _Refusal as e:
            raise ValueError(str(e)) from None
        except Exception as e:
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ValueError(f"cannot read {str(p)!r}: {msg}") from None
    return _read_file(p, key), None


def _stack(p: Path, names: list[str], arrays: list[np.ndarray]) -> np.ndarray:
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"the arrays of {str(p)!r} have different shapes {sorted(shapes)}; every unit needs the same "
                         f"trials x steps")
    return np.stack(arrays, axis=-1)


def _read_file(p: Path, key: str | None) -> np.ndarray:
    if not p.is_file():
        raise ValueError(f"data file {str(p)!r} does not exist")
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"cannot read {str(p)!r}: expected one of {', '.join(SUFFIXES)} (or a folder of .npy files)")
    try:
        if suffix == ".npy":
            _check_magic(p, suffix)
            return np.load(p, allow_pickle=False)
        if suffix == ".npz":
            _check_magic(p, suffix)
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
    except _Refusal as e:
        raise ValueError(str(e)) from None
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
    if np.iscomplexobj(x):
        raise ValueError(f"the data are complex numbers (dtype {x.dtype}); give real values, e.g. the magnitude "
                         f"np.abs(x) or the real part x.real")
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.bool_)):
        raise ValueError(f"the data must be numbers, got dtype {x.dtype}")
    for name in AXES:
        if name not in axes:
            x = x[..., None]
            axes = axes + (name,)
    return np.transpose(x, [axes.index(a) for a in AXES])


@dataclass
class Prepared:
    """Checked data: ``data`` (time, trials, units), ``kind``, ``kind_note`` (how the kind was
    guessed, or None when given), ``names`` (one per unit for a folder or .npz of units, else
    None) and the data's ``axes`` as given."""

    data: np.ndarray
    kind: str
    kind_note: str | None
    names: list[str] | None
    axes: tuple[str, ...]


def prepare(path, axes: str, kind: str | None, dt: float, max_lag: int | None, interval: str,
            key: str | None = None) -> Prepared:
    """Read and check everything before any work."""
    names = parse_axes(axes)
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"--dt must be a positive number, got {dt!r}")
    if kind is not None and kind not in KINDS:
        raise ValueError(f"--kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if interval not in INTERVALS:
        raise ValueError(f"--interval must be one of {', '.join(INTERVALS)}, got {interval!r}")
    raw, unit_names = read_units(path, key)
    if unit_names is not None:
        if "units" in names:
            raise ValueError(f"{str(path)!r} holds one unit per array: --axes names each array's axes, without units "
                             f"(got {axes!r})")
        names = names + ("units",)
    x = arrange(raw, names)
    if x.size == 0:
        raise ValueError(f"the data is empty (shape {tuple(x.shape)} as time, trials, units)")
    if np.issubdtype(x.dtype, np.bool_):
        x = x.astype(np.int64)
    bad = ~np.isfinite(x)
    if bad.any():
        raise ValueError(f"the data holds {int(bad.sum())} NaN or infinite values; remove or fill them first")
    n_steps = x.shape[0]
    lag = default_max_lag(n_steps) if max_lag is None else max_lag
    if n_steps < 2 * lag or lag < 4:
        raise ValueError(f"trials of {n_steps} steps are too short for lags up to {lag}: need at least "
                         f"{2 * max(lag, 4)} steps (lower --max-lag, or check --axes)")
    flat = (x.max(axis=0) == x.min(axis=0)).all(axis=0)
    if flat.any():
        raise ValueError(f"unit {int(np.flatnonzero(flat)[0])} is constant in every trial: no autocorrelation to fit")
    note = None
    if kind is None:
        kind = guess_kind(x)
        integer = np.issubdtype(x.dtype, np.integer) or np.array_equal(x, np.round(x))
        why = ("non-negative integers" if kind == "counts" else
               "integers, some negative, so not counts" if integer else "non-integer values")
        note = f"kind: {kind} (guessed from {why}; --kind to say otherwise)"
    if kind == "counts" and (x < 0).any():
        raise ValueError(f"--kind counts needs non-negative data: {int((x < 0).sum())} values are negative (smallest "
                         f"{x.min():g})")
    return Prepared(x, kind, note, unit_names, names)


def axes_warnings(x: np.ndarray, axes: tuple[str, ...]) -> list[str]:
    """A warning when the axis named trials looks like time: its lag-1 autocorrelation (across
    neighbouring trials, mean over steps and units) is above 0.5 and 0.3 above the time axis's."""
    n_steps, n_trials, _ = x.shape
    if n_trials < 4:
        return []
    along_time = _lag1(x, 0)
    along_trials = _lag1(x, 1)
    if along_trials > 0.5 and along_trials > along_time + 0.3:
        return [f"the data correlate more along the axis named trials (lag-1 autocorrelation {along_trials:.2f}, "
                f"{n_trials} long) than along time ({along_time:.2f}, {n_steps} long): are the axes swapped? "
                f"try --axes {swap_time_trials(axes)}"]
    return []


def none_warnings(models: list[str], x_shape: tuple[int, ...], axes: tuple[str, ...]) -> list[str]:
    """A warning when no unit got a timescale and the time axis is shorter than the trials axis."""
    n_steps, n_trials = x_shape[0], x_shape[1]
    if models and all(m == "none" for m in models) and n_steps < n_trials:
        return [f"no unit has a timescale, and the time axis ({n_steps} steps) is shorter than the trials axis "
                f"({n_trials}): if the axes are swapped, try --axes {swap_time_trials(axes)}"]
    return []


def swap_time_trials(axes: tuple[str, ...]) -> str:
    """The --axes text with time and trials exchanged."""
    swap = {"time": "trials", "trials": "time"}
    return ",".join(swap.get(a, a) for a in axes)


def _lag1(x: np.ndarray, axis: int) -> float:
    """Lag-1 autocorrelation along ``axis`` of (time, trials, units), pooled over the other axes."""
    y = np.moveaxis(np.asarray(x, np.float64), axis, 0)
    y = y - y.mean(0, keepdims=True)
    den = (y * y).sum()
    return float((y[1:] * y[:-1]).sum() / den) if den > 0 else 0.0


def check_out(out: str | Path) -> Path:
    """``out`` if the results may be written there: missing, empty, or a previous result (it is
    replaced). Nothing is created. The common output-directory check (:data:`OUTPUT`)."""
    return OUTPUT.check(out)


def run(prep: Prepared, dt: float, **kwargs) -> TimescaleEstimate:
    """The estimate of prepared data (kwargs as :func:`estimate_timescales`), with the units'
    names (a ``name`` column) and the warnings about the axes added."""
    x = prep.data
    warnings = axes_warnings(x, prep.axes)
    est = estimate_timescales(x, dt=dt, kind=prep.kind, **kwargs)
    if prep.names is not None:
        est.table.insert(1, "name", prep.names)
        for u, name in zip(est.units, prep.names):
            u["name"] = name
    est.warnings = warnings + est.warnings + none_warnings(list(est.table["model"]), x.shape, prep.axes)
    est.settings["warnings"] = est.warnings
    return est


def write(est: TimescaleEstimate, out: str | Path, unit_label: str = "steps", figure_units: int = 48) -> Path:
    """timescales.csv, timescales.json and figures/ (the first ``figure_units`` units, 48 per
    page; none for 0) into ``out`` (atomically replaced)."""
    import matplotlib.pyplot as plt

    from rnn_timescales.plots.timescales import PANELS_PER_FIGURE, plot_unit_fits

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        est.table.to_csv(tmp / TABLE, index=False, float_format="%.6g")
        (tmp / SUMMARY_JSON).write_text(json.dumps(to_json(est), indent=1))
        (tmp / "figures").mkdir()
        n = min(len(est.units), figure_units)
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


__all__ = ["AXES", "Prepared", "arrange", "axes_warnings", "check_out", "none_warnings", "parse_axes", "prepare",
           "read_array", "read_units", "run", "swap_time_trials", "to_json", "write"]


STUDY = Study("timescales", "timescales of recorded or simulated activity read from a file, with intervals", None,
              (TABLE, SUMMARY_JSON), ("figures/autocorrelation_fits*.png",),
              no_sweep="it reads a recording (a file of activity), not a run directory; analyze.timescales is its "
                       "counterpart for runs")
