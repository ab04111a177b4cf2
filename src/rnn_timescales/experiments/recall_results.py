"""[H19]'s three delayed-recall claims, judged from a results directory's tables alone
(docs/reproduction.md, "[H19] claims"):

1. the delay curriculum (``delay``, DeCu) extrapolates to delays longer than trained better than the
   vocabulary curriculum (``vocabulary``, VoCu) and than no curriculum (``none``):
   :func:`network_recall`, :func:`extrapolation_summary`, :func:`extrapolation_tests`
   (from ``extrapolation.csv``);
2. the slower a class's slow point (smaller speed q), the longer its memory lasts:
   :func:`slow_point_summary` (from ``recall_correlations.csv``);
3. fine-tuning with λ·Σ_k q(c_k) at the class centres lengthens memory against a λ = 0 control:
   :func:`regularization_summary` (from ``speed_regularization_summary.csv``).

Every statistic is taken per network first (a network is a ``run``: the sweep analyses each run's
latest network), then across networks: mean, s.d. (ddof 1: the networks are a sample) and each
network's value in seed order. Accuracies are shares of correct recalls (0 to 1); delays are in time
steps; q is in state units squared. A network trained with trials of T_max steps saw delays up to
T_max - 1: the *trained* delays are those with ``trained`` true, the *untrained* ones T_max ... the
largest delay measured (``trained`` false). The functions take the rows of one task and return
DataFrames; :func:`recall_figures` and :func:`write_recall_tables` are what
:func:`~rnn_timescales.experiments.results.draw_figures` calls.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from scipy import stats

from rnn_timescales.io import atomic_write_text

CURRICULA = ("delay", "vocabulary", "none")
"""[H19]'s curricula in the order the claims compare them (others follow, sorted)."""
NETWORKS = ("start", "control", "regularized")
"""The networks of the speed-regularisation study: the trained network, its fine-tuning with λ = 0
and with the speed term."""
REGULARIZATION_MEASURES = ("accuracy_untrained", "accuracy_trained", "centre_log10_q_mean")


def _order(curricula) -> list[str]:
    present = list(dict.fromkeys(curricula))
    return [c for c in CURRICULA if c in present] + sorted(c for c in present if c not in CURRICULA)


def _each(values, digits: int = 2) -> str:
    return " ".join("–" if pd.isna(v) else f"{v:.{digits}f}" for v in values)


def _p(test) -> float:
    p = float(test.pvalue)
    return p if np.isfinite(p) else np.nan


def _share(rows: pd.DataFrame) -> float:
    """Correct recalls over trials, pooled over ``rows`` (NaN for none)."""
    trials = rows["n_trials"].sum()
    return float((rows["accuracy"] * rows["n_trials"]).sum() / trials) if trials > 0 else np.nan


# --- claim 1: extrapolation by curriculum ------------------------------------------------------------
def network_recall(extrapolation: pd.DataFrame) -> pd.DataFrame:
    """Each network's recall over its trained and its untrained delays.

    ``extrapolation``: ``extrapolation.csv`` (one row per network and delay: ``curriculum, seed, run,
    delay, accuracy, n_trials, trained``; ``trained_max_delay`` and ``n_classes`` where present).
    Returns one row per network (``run``), sorted by curriculum (:data:`CURRICULA`) and seed:
    ``curriculum, seed, run, trained_max_delay`` (T_max; where the table lacks it, the longest
    trained delay + 1), ``n_classes`` (NaN where absent), ``largest_delay``, ``accuracy_trained``,
    ``accuracy_untrained`` (shares of correct recalls over the trained / untrained delays, trials
    pooled: the mean over delays when every delay has the same trials; NaN where there is none)."""
    rows = []
    for run, g in extrapolation.groupby("run", sort=False):
        trained = g["trained"].astype(bool)
        t_max = (g["trained_max_delay"].iloc[0] if "trained_max_delay" in g
                 else (g.loc[trained, "delay"].max() + 1 if trained.any() else np.nan))
        rows.append({"curriculum": g["curriculum"].iloc[0], "seed": g["seed"].iloc[0], "run": run,
                     "trained_max_delay": t_max, "n_classes": g["n_classes"].iloc[0] if "n_classes" in g else np.nan,
                     "largest_delay": g["delay"].max(), "accuracy_trained": _share(g[trained]),
                     "accuracy_untrained": _share(g[~trained])})
    columns = ["curriculum", "seed", "run", "trained_max_delay", "n_classes", "largest_delay", "accuracy_trained",
               "accuracy_untrained"]
    out = pd.DataFrame(rows, columns=columns)
    rank = {c: i for i, c in enumerate(_order(out["curriculum"]))}
    return out.sort_values(["curriculum", "seed"], key=lambda s: s.map(rank) if s.name == "curriculum" else s,
                           ignore_index=True)


def _values(values) -> str:
    return " ".join(f"{v:g}" for v in sorted(set(values)) if pd.notna(v))


def extrapolation_summary(extrapolation: pd.DataFrame) -> pd.DataFrame:
    """Per curriculum, mean ± s.d. across networks of each network's recall over the trained and
    over the untrained delays (:func:`network_recall`).

    ``extrapolation``: the rows of ``extrapolation.csv`` of one task. Returns one row per curriculum
    (:data:`CURRICULA` first): ``curriculum, networks, seeds, trained_max_delay`` (the networks'
    T_max, distinct values), ``largest_delay``, ``accuracy_trained_mean, accuracy_trained_sd,
    accuracy_untrained_mean, accuracy_untrained_sd`` (ddof 1; NaN for one network) and
    ``each_trained, each_untrained`` (each network's share, two decimals, in seed order)."""
    per = network_recall(extrapolation)
    rows = []
    for curriculum in _order(per["curriculum"]):
        g = per[per["curriculum"] == curriculum]
        rows.append({"curriculum": curriculum, "networks": len(g), "seeds": " ".join(str(s) for s in g["seed"]),
                     "trained_max_delay": _values(g["trained_max_delay"]), "largest_delay": _values(g["largest_delay"]),
                     **{f"{c}_{stat}": getattr(g[c], stat)() for c in ("accuracy_trained", "accuracy_untrained")
                        for stat in ("mean", "std")},
                     "each_trained": _each(g["accuracy_trained"]), "each_untrained": _each(g["accuracy_untrained"])})
    columns = ["curriculum", "networks", "seeds", "trained_max_delay", "largest_delay", "accuracy_trained_mean",
               "accuracy_trained_sd", "accuracy_untrained_mean", "accuracy_untrained_sd", "each_trained",
               "each_untrained"]
    out = pd.DataFrame(rows)
    return out.rename(columns=lambda c: c.replace("_std", "_sd")).reindex(columns=columns)


TEST_COLUMNS = ["group_a", "group_b", "networks_a", "networks_b", "mean_a", "mean_b", "difference", "test",
                "p_value", "alternative", "p_one_sided", "note"]


def _welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float, str]:
    """Welch's t-test of a against b: (two-sided p, one-sided p for mean a > mean b, note)."""
    if len(a) < 2 or len(b) < 2:
        return np.nan, np.nan, "fewer than 2 networks in a group: no test"
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return np.nan, np.nan, "no spread within either group: t undefined"
    one = stats.ttest_ind(a, b, equal_var=False, alternative="greater")
    return _p(stats.ttest_ind(a, b, equal_var=False)), _p(one), ""


def extrapolation_tests(extrapolation: pd.DataFrame) -> pd.DataFrame:
    """The comparisons claim 1 makes, on each network's recall over the untrained delays
    (:func:`network_recall`): every pair of curricula present, in :data:`CURRICULA` order (delay
    against vocabulary, delay against none, vocabulary against none).

    Returns one row per pair (columns :data:`TEST_COLUMNS`): ``group_a, group_b``, the networks of
    each, their means, ``difference`` (mean a - mean b), ``test`` (Welch t: unequal variances),
    ``p_value`` (two-sided), ``alternative`` ("a > b") and ``p_one_sided`` (for that alternative),
    ``note`` (why p is NaN: a group of fewer than two networks, or no spread in either)."""
    per = network_recall(extrapolation)
    rows = []
    for a, b in combinations(_order(per["curriculum"]), 2):
        x = per.loc[per["curriculum"] == a, "accuracy_untrained"].dropna().to_numpy()
        y = per.loc[per["curriculum"] == b, "accuracy_untrained"].dropna().to_numpy()
        p, one, note = _welch(x, y)
        mean_a, mean_b = (float(v.mean()) if len(v) else np.nan for v in (x, y))
        rows.append({"group_a": a, "group_b": b, "networks_a": len(x), "networks_b": len(y), "mean_a": mean_a,
                     "mean_b": mean_b, "difference": mean_a - mean_b, "test": "Welch t", "p_value": p,
                     "alternative": "a > b", "p_one_sided": one, "note": note})
    return pd.DataFrame(rows, columns=TEST_COLUMNS)


# --- claim 2: slow points ----------------------------------------------------------------------------
def slow_point_summary(correlations: pd.DataFrame) -> pd.DataFrame:
    """Per curriculum (and over all networks: curriculum ``all``) and speed, the Spearman
    correlation across a network's classes of log10 q with the class's recall over untrained
    delays, summarised across networks, and a one-sample t-test across networks of r against 0.

    ``correlations``: ``recall_correlations.csv`` of one task; only its per-network rows are used
    (scope ``classes``, network not ``all``); a network whose r is NaN (fewer than three classes
    with a speed, or no spread) is left out and counted in ``note``. Speeds (``speed``):
    ``slow_point_q`` (q at the point the slow-point finder reached from the class's seed),
    ``centre_q`` (q at the class's centre of mass of the memory states), ``seed_q`` (q at the
    seed). Returns one row per (curriculum, speed): ``curriculum, speed, networks, r_mean, r_sd``
    (ddof 1), ``negative`` (networks with r < 0), ``each_r, each_p, each_n`` (per network, seed
    order: r, its p-value, the classes correlated), ``p_value`` (two-sided t-test of the r's
    against 0), ``alternative`` ("r < 0") and ``p_one_sided``, ``note``."""
    rows_in = correlations[(correlations["scope"] == "classes") & (correlations["network"].astype(str) != "all")]
    rows_in = rows_in.sort_values("seed", kind="stable") if "seed" in rows_in else rows_in
    speeds = list(dict.fromkeys(rows_in["speed"]))
    rows = []
    for curriculum in [*_order(rows_in["curriculum"]), "all"]:
        for speed in speeds:
            g = rows_in[(rows_in["speed"] == speed)
                        & ((rows_in["curriculum"] == curriculum) if curriculum != "all" else True)]
            if curriculum == "all" and g["curriculum"].nunique() < 2:
                continue  # one curriculum: its own rows say it all
            r = g["spearman_r"].dropna()
            missing = len(g) - len(r)
            notes = [f"{missing} network{'s' if missing != 1 else ''} without r"] if missing else []
            if len(r) < 2:
                p = one = np.nan
                notes.append("fewer than 2 networks with r: no test")
            elif np.ptp(r) == 0:
                p = one = np.nan
                notes.append("every r equal: t undefined")
            else:
                p, one = _p(stats.ttest_1samp(r, 0.0)), _p(stats.ttest_1samp(r, 0.0, alternative="less"))
            have = g.dropna(subset=["spearman_r"])
            rows.append({"curriculum": curriculum, "speed": speed, "networks": len(r), "r_mean": r.mean(),
                         "r_sd": r.std(ddof=1) if len(r) > 1 else np.nan, "negative": int((r < 0).sum()),
                         "each_r": _each(have["spearman_r"]),
                         "each_p": " ".join(f"{v:.2g}" for v in have["spearman_p"]),
                         "each_n": " ".join(str(int(v)) for v in have["n"]), "p_value": p, "alternative": "r < 0",
                         "p_one_sided": one, "note": "; ".join(notes)})
    return pd.DataFrame(rows, columns=["curriculum", "speed", "networks", "r_mean", "r_sd", "negative", "each_r",
                                       "each_p", "each_n", "p_value", "alternative", "p_one_sided", "note"])


# --- claim 3: speed regularisation -------------------------------------------------------------------
def regularization_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """Per curriculum (and over all networks: ``all``) and measure, mean ± s.d. across networks for
    the start network and its two fine-tunings, and a paired t-test across networks of regularized
    against control.

    ``summary``: ``speed_regularization_summary.csv`` of one task (one row per run and ``network``
    in :data:`NETWORKS`). Measures: ``accuracy_untrained`` and ``accuracy_trained`` (shares of
    correct recalls over the untrained / trained delays) and ``centre_log10_q_mean`` (the mean over
    classes of log10 q at the class centres). Returns one row per (curriculum, measure):
    ``curriculum, measure, networks`` (runs with both fine-tunings), ``start_mean, start_sd,
    control_mean, control_sd, regularized_mean, regularized_sd`` (ddof 1), ``difference``
    (mean over networks of regularized - control), ``each_difference`` (seed order, three decimals), ``test``
    (paired t), ``p_value`` (two-sided), ``alternative`` (the claim's direction: "regularized >
    control" for accuracies, "regularized < control" for log10 q) and ``p_one_sided``, ``note``."""
    table = summary.sort_values("seed", kind="stable") if "seed" in summary else summary
    measures = [m for m in REGULARIZATION_MEASURES if m in table]
    rows = []
    curricula = _order(table["curriculum"])
    for curriculum in [*curricula, *(["all"] if len(curricula) > 1 else [])]:
        g = table if curriculum == "all" else table[table["curriculum"] == curriculum]
        for measure in measures:
            wide = g.pivot_table(index="run", columns="network", values=measure, aggfunc="first", sort=False)
            wide = wide.reindex(columns=list(NETWORKS))
            pairs = wide[["control", "regularized"]].dropna()
            diff = (pairs["regularized"] - pairs["control"]).to_numpy()
            alternative = "less" if measure.startswith("centre") else "greater"
            note = ""
            if len(diff) < 2:
                p = one = np.nan
                note = "fewer than 2 networks with both fine-tunings: no test"
            elif np.ptp(diff) == 0:
                p = one = np.nan
                note = "every difference equal: t undefined"
            else:
                p = _p(stats.ttest_rel(pairs["regularized"], pairs["control"]))
                one = _p(stats.ttest_rel(pairs["regularized"], pairs["control"], alternative=alternative))
            rows.append({"curriculum": curriculum, "measure": measure, "networks": len(diff),
                         **{f"{n}_{s}": (wide[n].mean() if s == "mean" else wide[n].std(ddof=1))
                            for n in NETWORKS for s in ("mean", "sd")},
                         "difference": float(diff.mean()) if len(diff) else np.nan, "each_difference": _each(diff, 3),
                         "test": "paired t", "p_value": p,
                         "alternative": f"regularized {'<' if alternative == 'less' else '>'} control",
                         "p_one_sided": one, "note": note})
    return pd.DataFrame(rows, columns=["curriculum", "measure", "networks", "start_mean", "start_sd", "control_mean",
                                       "control_sd", "regularized_mean", "regularized_sd", "difference",
                                       "each_difference", "test", "p_value", "alternative", "p_one_sided", "note"])


# --- markdown ----------------------------------------------------------------------------------------
def _pm(mean: float, sd: float, digits: int = 2) -> str:
    if pd.isna(mean):
        return "–"
    return f"{mean:.{digits}f}" + ("" if pd.isna(sd) else f" ± {sd:.{digits}f}")


def _pv(p: float) -> str:
    return "–" if pd.isna(p) else f"{p:.2g}"


def _f(v: float, fmt: str = ".3f") -> str:
    return "–" if pd.isna(v) else format(v, fmt)


def extrapolation_markdown(summary: pd.DataFrame) -> str:
    """:func:`extrapolation_summary` as markdown."""
    lines = ["Recall over the trained and the untrained delays (share correct; mean ± s.d. across networks; each "
             "network in seed order)\n",
             "| curriculum | networks | T_max | largest delay | trained delays | untrained delays | each, trained | "
             "each, untrained |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in summary.itertuples():
        lines.append(f"| {r.curriculum} | {r.networks} | {r.trained_max_delay} | {r.largest_delay} | "
                     f"{_pm(r.accuracy_trained_mean, r.accuracy_trained_sd)} | "
                     f"{_pm(r.accuracy_untrained_mean, r.accuracy_untrained_sd)} | {r.each_trained} | "
                     f"{r.each_untrained} |")
    return "\n".join(lines) + "\n"


def tests_markdown(tests: pd.DataFrame) -> str:
    """:func:`extrapolation_tests` as markdown."""
    lines = ["Recall over the untrained delays: Welch t across networks (p two-sided; one-sided for a > b)\n",
             "| a | b | networks | mean a | mean b | a − b | p | p (a > b) | note |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in tests.itertuples():
        lines.append(f"| {r.group_a} | {r.group_b} | {r.networks_a} + {r.networks_b} | {_f(r.mean_a)} | {_f(r.mean_b)} "
                     f"| {_f(r.difference, '+.3f')} | {_pv(r.p_value)} | {_pv(r.p_one_sided)} | {r.note} |")
    return "\n".join(lines) + "\n"


def slow_point_markdown(summary: pd.DataFrame) -> str:
    """:func:`slow_point_summary` as markdown."""
    lines = ["Spearman r across classes of log10 q with recall over the untrained delays (per network, then mean ± "
             "s.d. across networks; t-test of the r's against 0)\n",
             "| curriculum | speed | networks | r | r < 0 | each r | each p | classes | p | p (r < 0) | note |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in summary.itertuples():
        lines.append(f"| {r.curriculum} | {r.speed} | {r.networks} | {_pm(r.r_mean, r.r_sd)} | {r.negative} | "
                     f"{r.each_r} | {r.each_p} | {r.each_n} | {_pv(r.p_value)} | {_pv(r.p_one_sided)} | {r.note} |")
    return "\n".join(lines) + "\n"


def regularization_markdown(summary: pd.DataFrame) -> str:
    """:func:`regularization_summary` as markdown."""
    lines = ["Speed regularisation: start network, λ = 0 control and regularised fine-tuning (mean ± s.d. across "
             "networks; paired t of regularized − control)\n",
             "| curriculum | measure | networks | start | control | regularized | reg. − control | each | p | "
             "one-sided | note |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in summary.itertuples():
        lines.append(f"| {r.curriculum} | {r.measure} | {r.networks} | {_pm(r.start_mean, r.start_sd)} | "
                     f"{_pm(r.control_mean, r.control_sd)} | {_pm(r.regularized_mean, r.regularized_sd)} | "
                     f"{_f(r.difference, '+.3f')} | {r.each_difference} | {_pv(r.p_value)} | "
                     f"{_pv(r.p_one_sided)} ({r.alternative}) | {r.note} |")
    return "\n".join(lines) + "\n"


# --- a results directory -----------------------------------------------------------------------------
def _read(results: Path, name: str) -> pd.DataFrame:
    """A table of the results directory; empty (with a ``task`` column) where absent or empty."""
    path = results / name
    if not path.is_file():
        return pd.DataFrame(columns=["task"])
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=["task"])


def recall_figures(results: Path, figures: Any) -> list[tuple[str, Callable]]:
    """The delayed-recall figures of a results directory, per task whose table is there and not
    empty: ``TASK_extrapolation`` (``extrapolation.csv``), ``TASK_slow_points``
    (``recall_slow_points.csv``, with a speed and a recall per class somewhere) and
    ``TASK_speed_regularization`` (``speed_regularization_extrapolation.csv``, with
    ``speed_regularization_summary.csv`` where there). ``figures``: the module of the drawing
    functions (:mod:`rnn_timescales.plots.delayed_recall`). (name, function making the Figure)."""
    drawn: list[tuple[str, Callable]] = []
    for task, g in _read(results, "extrapolation.csv").groupby("task"):
        drawn.append((f"{task}_extrapolation", lambda g=g: figures.recall_extrapolation(g)))
    for task, g in _read(results, "recall_slow_points.csv").groupby("task"):
        speeds = g[[c for c in ("slow_point_q", "centre_q") if c in g]].gt(0)
        if (speeds.any(axis=1) & g["extrapolation_accuracy"].notna()).any():
            drawn.append((f"{task}_slow_points", lambda g=g: figures.recall_slow_points(g)))
    summary = _read(results, "speed_regularization_summary.csv")
    for task, g in _read(results, "speed_regularization_extrapolation.csv").groupby("task"):
        s = summary[summary["task"] == task] if not summary.empty else None
        drawn.append((f"{task}_speed_regularization", lambda g=g, s=s: figures.recall_speed_regularization(g, s)))
    return drawn


def write_recall_tables(results: Path, out: Path) -> list[str]:
    """Write, per task, ``TASK_extrapolation_summary`` and ``TASK_extrapolation_tests`` (from
    ``extrapolation.csv``), ``TASK_slow_points_summary`` (``recall_correlations.csv``) and
    ``TASK_speed_regularization_summary`` (``speed_regularization_summary.csv``), each as .csv
    and .md, into ``out``, for the tables that are there and not empty; returns the names written."""
    names: list[str] = []

    def write(name: str, table: pd.DataFrame, markdown: str) -> None:
        atomic_write_text(out / f"{name}.csv", table.to_csv(index=False))
        atomic_write_text(out / f"{name}.md", markdown)
        names.extend([f"{name}.csv", f"{name}.md"])

    for task, g in _read(results, "extrapolation.csv").groupby("task"):
        summary, tests = extrapolation_summary(g), extrapolation_tests(g)
        write(f"{task}_extrapolation_summary", summary, extrapolation_markdown(summary))
        if not tests.empty:
            write(f"{task}_extrapolation_tests", tests, tests_markdown(tests))
    for task, g in _read(results, "recall_correlations.csv").groupby("task"):
        summary = slow_point_summary(g)
        if not summary.empty:
            write(f"{task}_slow_points_summary", summary, slow_point_markdown(summary))
    for task, g in _read(results, "speed_regularization_summary.csv").groupby("task"):
        summary = regularization_summary(g)
        if not summary.empty:
            write(f"{task}_speed_regularization_summary", summary, regularization_markdown(summary))
    return names
