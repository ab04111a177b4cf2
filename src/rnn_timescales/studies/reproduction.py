"""The reproduction of [K24] at the paper's scale (docs/reproduction.md): per-network timescale rows
with both estimators and both aggregations (the result tables are :mod:`rnn_timescales.experiments.results`).

One simulation per checkpoint (the paper's 10 trials x 10^5 steps) feeds every measure:

- trained tau (mean, s.d., max, quantiles);
- tau_net by our estimator (``parsimonious``) and by the paper's (``paper``: AIC between a single and a
  double exponential from ``curve_fit``'s default start), each aggregated two ways: the median over
  neurons (ours), and the paper's figures' "drop tau_net <= 1 step, mean of the rest" with the share
  dropped;
- what each estimator calls a slow component: the share of neurons given a double exponential, the
  weight and the timescale of its slow part;
- measures that need no model choice: the integrated autocorrelation time and the autocorrelation at
  fixed lags (median over neurons), the slowest Jacobian modes at the operating points;
- the decay that follows the lag-0 jump (one exponential plus white noise, fitted as its expected
  estimate): its timescale (median, quantiles, the paper's aggregation) and its share of the variance;
- the population tau_net and the dimensionality (90 % of the variance).

A sweep runs it as the analysis ``reproduction`` (``rnn-timescales sweep analyze ROOT --set
analyze.reproduction.n_trials=10``); each checkpoint's row is saved as it is computed
(``RUN_DIR/analysis/reproduction/N<n>.json``), so an interrupted analysis resumes where it stopped.
:func:`rnn_timescales.experiments.results.collect` turns the sweep roots into the result tables.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import trim_mean

from rnn_timescales.analysis.acf_models import decay_after_jump
from rnn_timescales.analysis.autocorrelation import integrated_time
from rnn_timescales.analysis.timescales import fit_timescales
from rnn_timescales.errors import ConfigError
from rnn_timescales.io import atomic_write_text
from rnn_timescales.studies.analyze import AnalysisSettings, analyze_checkpoint, check_settings
from rnn_timescales.studies.contract import RunStudy, Study

K24_NS = (2, 5, 10, 15, 20, 25, 30, 40, 50)
"""The N at which [K24]'s timescales are reported here (and the largest N each run reached)."""
FIXED_LAGS = (1, 5, 10, 20, 50)
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
ROWS_DIR = Path("analysis") / "reproduction"
ID_COLUMNS = ["task", "curriculum", "model", "train_tau", "tau_fixed", "seed", "hidden", "preset", "precision"]
"""The columns that identify a network in every result table."""


@dataclass(frozen=True)
class ReproductionSettings:
    """Which checkpoints of a run, and the simulation behind every measure (defaults: the paper's)."""

    ns: tuple[int, ...] = K24_NS
    largest: bool = True  # also the largest N the run reached
    n_trials: int = 10
    n_steps: int = 100_000
    burn_in: int = 500
    max_lag: int = 200
    fit_lag: int = 30
    n_points: int = 4
    n_slowest: int = 5
    seed: int = 0

    def analysis(self, method: str = "parsimonious") -> AnalysisSettings:
        return AnalysisSettings(n_trials=self.n_trials, n_steps=self.n_steps, burn_in=self.burn_in,
                                max_lag=self.max_lag, fit_lag=self.fit_lag, method=method, n_points=self.n_points,
                                n_slowest=self.n_slowest, seed=self.seed)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], where: str) -> ReproductionSettings:
        """Validated settings; ConfigError naming ``where`` and what to fix."""
        allowed = list(cls.__dataclass_fields__)
        unknown = [k for k in raw if k not in allowed]
        if unknown:
            raise ConfigError(f"{where}: unknown setting {unknown[0]!r}; choose from {', '.join(allowed)}")
        data = {**asdict(cls()), **raw}
        ns = data["ns"]
        if not isinstance(ns, (list, tuple)) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 2
                                                        for n in ns):
            raise ConfigError(f"{where}: ns must be a list of integers N >= 2, got {ns!r}")
        data["ns"] = tuple(sorted(set(ns)))
        if not isinstance(data["largest"], bool):
            raise ConfigError(f"{where}: largest must be true or false, got {data['largest']!r}")
        settings = cls(**data)
        check_settings(asdict(settings.analysis()), prefix=f"{where}: ")  # the simulation's, as analyze checks them
        if settings.n_trials < 2:  # the parsimonious rule weighs the fit against the trials' spread
            raise ConfigError(f"{where}: n_trials must be an integer of at least 2, got {settings.n_trials}")
        return settings


# --- one network ---------------------------------------------------------------------------------
def _aggregate(tau_net: np.ndarray, table: pd.DataFrame, suffix: str) -> dict[str, float]:
    """Both aggregations of one estimator's tau_net, and what it calls a slow component."""
    finite = tau_net[np.isfinite(tau_net)]
    above = finite[finite > 1]
    double = table["model"].to_numpy() == 2
    weight_slow = (1 - table["c_fast"].to_numpy())[double]
    out = {
        f"tau_net_median{suffix}": float(np.median(finite)) if finite.size else np.nan,
        f"tau_net_paper_mean{suffix}": float(above.mean()) if above.size else np.nan,
        # the same neurons' median and 10 % trimmed mean: how much of the mean is its upper tail
        f"tau_net_paper_median{suffix}": float(np.median(above)) if above.size else np.nan,
        f"tau_net_paper_trimmed_mean{suffix}": float(trim_mean(above, 0.1)) if above.size else np.nan,
        f"tau_net_dropped{suffix}": float((finite <= 1).mean()) if finite.size else np.nan,
        f"share_double{suffix}": float(double.mean()),
        f"slow_weight_median{suffix}": float(np.median(weight_slow)) if double.any() else np.nan,
        f"slow_tau_median{suffix}": float(np.median(table["tau_slow"].to_numpy()[double])) if double.any() else np.nan,
        f"fast_tau_median{suffix}": float(np.median(table["tau_fast"].to_numpy()[double])) if double.any() else np.nan,
        f"n_no_fit{suffix}": int((table["model"].to_numpy() == 0).sum()),
    }
    for q in QUANTILES:
        out[f"tau_net_q{int(q * 100)}{suffix}"] = float(np.quantile(finite, q)) if finite.size else np.nan
    return out


def network_timescales(ckpt, settings: ReproductionSettings | None = None) -> dict[str, Any]:
    """Every timescale measure of one checkpoint from one simulation (module docstring).

    Returns one flat row: ``n`` (the checkpoint's largest N), trained tau statistics (``tau_mean,
    tau_std, tau_max, tau_q10 ... tau_q90``), per estimator (no suffix: ours; ``_aic``: the paper's)
    ``tau_net_median, tau_net_paper_mean`` (the paper's aggregate: mean of tau_net > 1 step),
    ``tau_net_paper_median, tau_net_paper_trimmed_mean`` (median and 10 % trimmed mean of the same
    neurons), ``tau_net_dropped, share_double, slow_weight_median,
    slow_tau_median, fast_tau_median, n_no_fit, tau_net_q10 ... q90``; ``population_tau_net``,
    ``jacobian_tau_max`` (median over operating points of the slowest mode) and ``jacobian_tau_2 ...``,
    ``dimensionality``; ``iat_median, iat_q90`` (integrated autocorrelation time) and
    ``ac_lag<k>_median`` at :data:`FIXED_LAGS`; the decay after the lag-0 jump
    (:func:`~rnn_timescales.analysis.acf_models.decay_after_jump`): ``tau_jump_median, tau_jump_q75,
    tau_jump_q90``, ``tau_jump_paper_mean`` (mean of those above one step), ``tau_jump_above_1``
    (their share), ``tau_jump_none`` (share without a measurable decay), ``jump_weight_median``
    (the decay's share of the variance, over the neurons with a decay). Timescales in time steps.
    """
    s = settings or ReproductionSettings()
    result = analyze_checkpoint(ckpt, s.analysis("parsimonious"), keep_stats=True)
    ours = result.neurons
    paper = fit_timescales(result.stats.ac, s.fit_lag, "paper")
    tau = ours["tau"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = result.ac / result.ac[:, :1]
    row: dict[str, Any] = {"n": ckpt.n_max, "epoch": ckpt.epoch}
    finite_tau = tau[np.isfinite(tau)]
    row.update(tau_mean=float(finite_tau.mean()) if finite_tau.size else np.nan,
               tau_std=float(finite_tau.std(ddof=1)) if finite_tau.size > 1 else np.nan,
               tau_max=float(finite_tau.max()) if finite_tau.size else np.nan)
    for q in QUANTILES:
        row[f"tau_q{int(q * 100)}"] = float(np.quantile(finite_tau, q)) if finite_tau.size else np.nan
    row.update(_aggregate(ours["tau_net"].to_numpy(), ours, ""))
    row.update(_aggregate(paper["tau_net"].to_numpy(), paper, "_aic"))
    decay, weight = decay_after_jump(result.ac, s.n_steps, s.fit_lag)
    measured = decay[np.isfinite(decay)]
    row.update(tau_jump_median=float(np.median(measured)) if measured.size else np.nan,
               tau_jump_q75=float(np.quantile(measured, 0.75)) if measured.size else np.nan,
               tau_jump_q90=float(np.quantile(measured, 0.9)) if measured.size else np.nan,
               tau_jump_paper_mean=float(measured[measured > 1].mean()) if (measured > 1).any() else np.nan,
               tau_jump_above_1=float((measured > 1).mean()) if measured.size else np.nan,
               tau_jump_none=float(np.mean(~np.isfinite(decay))),
               jump_weight_median=float(np.median(weight[np.isfinite(decay)])) if measured.size else np.nan)
    usable = np.isfinite(rho).all(axis=1)
    iat = integrated_time(rho[usable])
    row.update(iat_median=float(np.median(iat)) if iat.size else np.nan,
               iat_q90=float(np.quantile(iat, 0.9)) if iat.size else np.nan)
    for k in FIXED_LAGS:
        row[f"ac_lag{k}_median"] = float(np.median(rho[usable, k])) if usable.any() and k < rho.shape[1] else np.nan
    summary = result.summary
    row.update(population_tau_net=summary["population_tau_net"], jacobian_tau_max=summary["jacobian_tau_max"],
               dimensionality=summary["dimensionality"])
    for i in range(2, s.n_slowest + 1):
        row[f"jacobian_tau_{i}"] = summary.get(f"jacobian_tau_{i}", np.nan)
    return row


# --- a sweep's runs --------------------------------------------------------------------------------
def _wanted(run_dir: Path, s: ReproductionSettings) -> list[tuple[int, Path]]:
    """(N, checkpoint) of the solved N a run's rows are made at: those in ``s.ns``, and the largest."""
    from rnn_timescales.runs import load_checkpoint, solved_checkpoints

    by_n: dict[int, Path] = {}
    for path in solved_checkpoints(run_dir):
        ckpt = load_checkpoint(path)
        if ckpt.n_max is not None:
            by_n[ckpt.n_max] = path
    keep = {n for n in by_n if n in s.ns}
    if s.largest and by_n:
        keep.add(max(by_n))
    return sorted((n, by_n[n]) for n in keep)


def _settings_key(s: ReproductionSettings) -> dict[str, Any]:
    return {k: v for k, v in asdict(s).items() if k not in ("ns", "largest")}


def rows_current(run_dir: Path, settings: Mapping[str, Any]) -> bool:
    """Whether every wanted checkpoint of the run has its row, made with these simulation settings."""
    s = ReproductionSettings(**settings)
    for n, _ in _wanted(run_dir, s):
        path = run_dir / ROWS_DIR / f"N{n}.json"
        try:
            if json.loads(path.read_text()).get("settings") != _settings_key(s):
                return False
        except (OSError, json.JSONDecodeError):
            return False
    return True


def analyze_run(run_dir: Path, settings: Mapping[str, Any]) -> None:
    """Compute and save the row of every wanted checkpoint of a run that lacks a current one."""
    from rnn_timescales.runs import load_checkpoint

    s = ReproductionSettings(**settings)
    key = _settings_key(s)
    for n, path in _wanted(run_dir, s):
        out = run_dir / ROWS_DIR / f"N{n}.json"
        try:
            if json.loads(out.read_text()).get("settings") == key:
                continue
        except (OSError, json.JSONDecodeError):
            pass
        row = network_timescales(load_checkpoint(path), s)
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out, json.dumps({"settings": key, "checkpoint": path.name, "row": row}, default=_jsonable))


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def checkpoint_rows(paths: Sequence[str | Path], settings: ReproductionSettings | None = None,
                    progress: bool = False) -> pd.DataFrame:
    """:func:`network_timescales` rows of checkpoint files (ours or the paper code's), with the
    identifying columns taken from each checkpoint's configuration and ``checkpoint`` (its path)."""
    from tqdm.auto import tqdm

    from rnn_timescales.runs import load_any

    rows = []
    for path in tqdm(list(paths), desc="checkpoints", disable=not progress):
        ckpt = load_any(path)
        c = ckpt.config
        ids = {"task": c.task.name, "curriculum": c.curriculum.kind, "model": c.model.type,
               "train_tau": c.model.train_tau, "tau_fixed": np.nan, "seed": c.seed, "hidden": c.model.hidden_size,
               "preset": c.preset, "precision": c.model.precision}
        rows.append({**ids, "source": ckpt.source, "checkpoint": str(path), **network_timescales(ckpt, settings)})
    return pd.DataFrame(rows)


def _validate(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    settings = asdict(ReproductionSettings.from_mapping(raw, where))
    return {**settings, "ns": list(settings["ns"])}


RUN_STUDY = RunStudy(str(ROWS_DIR), _validate, rows_current, analyze_run)
"""What a sweep runs as the analysis ``reproduction`` (``--set analyze.reproduction.KEY=VALUE``)."""


STUDY = Study(
    "reproduction", "the reproduction's per-network timescale rows: both estimators, both aggregations",
    ReproductionSettings, (f"{ROWS_DIR}/N<n>.json",), sweep_name="reproduction", sweep=RUN_STUDY,
    tiny={"ns": [2], "n_trials": 2, "n_steps": 300, "burn_in": 10, "max_lag": 20, "fit_lag": 10, "n_points": 1})
