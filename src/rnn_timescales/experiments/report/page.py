"""The report's page: one section per subject (training, timescales, robustness, delayed recall),
each with its figures (plots/report.py), inline tables and notes, written as one HTML file with its
PNG figures beside it (:func:`write_report`)."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rnn_timescales.errors import ConfigError
from rnn_timescales.experiments.report.data import TABLES, ReportData, load_report_data
from rnn_timescales.experiments.report.glossary import DEFINITIONS, LOOK_FOR
from rnn_timescales.experiments.report.statistics import (
    CARRY_STOPS,
    ONE_STEP,
    SPREADS,
    aggregate,
    curve_on_grid,
    neuron_quantiles,
    share_below_one_step,
    solved_curves,
)
from rnn_timescales.io import OutputDir
from rnn_timescales.runs.rundir import read_summary

OUTPUT = OutputDir("report", marker="index.html")


@dataclass
class Section:
    """A part of the page: figures (file name, caption), inline tables (HTML) and notes."""

    title: str
    items: list[tuple[str, str]] = field(default_factory=list)  # (kind: figure|table|note|nodata, content)


class _Figures:
    """Saves figures into the report directory and records them in the page's sections."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.files: list[str] = []

    def add(self, section: Section, name: str, fig, caption: str) -> None:
        import matplotlib.pyplot as plt

        fig.savefig(self.out / f"{name}.png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        self.files.append(f"{name}.png")
        section.items.append(("figure", f"{name}.png|{caption}"))


def _fmt(mean: float, lo: float, hi: float, n: int, spread: str, timescale: bool) -> str:
    if not np.isfinite(mean):
        return ""
    if timescale and mean < ONE_STEP:
        return f"below one step (n={n})"
    digits = 3
    if n <= 1:
        return f"{mean:.{digits}g} (n=1)"
    if spread == "bootstrap":
        return f"{mean:.{digits}g} [{lo:.{digits}g}, {hi:.{digits}g}] (n={n})"
    return f"{mean:.{digits}g} ± {(hi - lo) / 2:.2g} (n={n})"


def _pivot_html(table: pd.DataFrame, x: str, spread: str, timescale: bool) -> str:
    cells = table.assign(cell=[_fmt(r.mean, r.lo, r.hi, r.n, spread, timescale) for r in table.itertuples()])
    wide = cells.pivot(index=x, columns="condition", values="cell").fillna("")
    wide = wide[[c for c in dict.fromkeys(table["condition"]) if c in wide.columns]]
    wide.columns.name = None
    wide = wide.reset_index().rename(columns={"n_max": "N", "what": ""})
    return wide.to_html(index=False, escape=True, classes="data", border=0)


def _colors(conditions: list[str]) -> dict[str, str]:
    return {c: f"C{i % 10}" for i, c in enumerate(conditions)}


def _training_section(data: ReportData, figs: _Figures, spread: str, colors: dict[str, str]) -> Section:
    from rnn_timescales.plots import report as plotting

    sec = Section("Training")
    without = [r for r in data.runs if data.metrics.empty or r.name not in set(data.metrics["run"])]
    if without:
        causes: dict[str, list[str]] = {}
        for r in without:
            causes.setdefault(missing_metrics_cause(r), []).append(r.name)
        listed = "; ".join(f"{', '.join(names[:5])}{f' and {len(names) - 5} more' if len(names) > 5 else ''}: {cause}"
                           for cause, names in causes.items())
        if data.metrics.empty:
            sec.items.append(("nodata", f"No data: no run has a training log (metrics.csv). {listed}."))
            return sec
        sec.items.append(("note", f"Not drawn (no metrics.csv): {listed}."))
    n_start = {r.name: r.n_start for r in data.runs}
    carry = {r.name for r in data.runs if r.stop_reason in CARRY_STOPS}
    cond = {r.name: r.condition for r in data.runs}
    curves = solved_curves(data.metrics, n_start)
    by_epoch = _curve_aggregate(curves, "epoch", np.arange(0, int(curves["epoch"].max()) + 1), carry, cond, spread)
    by_time = _curve_aggregate(curves, "wall_time_s", np.linspace(0, float(curves["wall_time_s"].max()), 200), carry,
                               cond, spread)
    figs.add(sec, "progress", plotting.plot_progress(by_epoch, by_time, colors, spread),
             "Largest N solved against epochs and wall time, per condition (band: spread across runs; "
             "wall time is each run's own clock, which depends on the machine and how busy it was).")
    finals = curves.groupby("run").tail(1).assign(condition=lambda t: t["run"].map(cond))
    if finals.groupby("condition").size().max() > 1:  # with one run per condition, the runs table says it
        sec.items.append(("table", "<p>Largest N solved at the end of each run, per condition:</p>"
                          + _pivot_html(aggregate(finals.assign(what="largest N solved"), ["what", "condition"],
                                                  "n_solved", spread), "what", spread, False)))
    if "model.type" in data.varying:
        info = {r.name: f"{r.model_type}, {r.curriculum}" for r in data.runs}
        by_epoch_m = _curve_aggregate(curves, "epoch", np.arange(0, int(curves["epoch"].max()) + 1), carry, info, spread)
        by_time_m = _curve_aggregate(curves, "wall_time_s", np.linspace(0, float(curves["wall_time_s"].max()), 200),
                                     carry, info, spread)
        figs.add(sec, "models_progress",
                 plotting.plot_progress(by_epoch_m, by_time_m, _colors(list(dict.fromkeys(info.values()))), spread,
                                        title="model comparison (model type, curriculum)"),
                 "Gated-model comparison: largest N solved per model type and curriculum (other settings pooled).")
    if "tau_mean" in data.metrics and data.metrics["tau_mean"].notna().any():
        tau = aggregate(data.metrics.dropna(subset=["tau_mean"]), ["condition", "epoch"], "tau_mean", spread)
        figs.add(sec, "tau_training", plotting.plot_tau_during_training(tau, colors, spread),
                 "Mean trained τ of each network during training.")
    if not data.heads.empty:
        runs = [r.name for r in data.runs if r.name in set(data.heads["run"])]
        more = f" (the first 12 of {len(runs)} runs)" if len(runs) > 12 else ""
        figs.add(sec, "accuracy_per_head", plotting.plot_accuracy_per_head(data.heads, runs),
                 f"Accuracy of every head (its N on the y axis) after each epoch{more}.")
    return sec


def missing_metrics_cause(run) -> str:
    """Why a run has no ``metrics.csv``, in words, from what its directory says: imported from the
    paper's code, not started, still before its first epoch, failed, interrupted, or removed."""
    if run.stop_reason == "imported":
        return "imported from the paper's code, which keeps no training log"
    if run.status == "running":
        return "still training, before the end of its first epoch"
    if run.status == "failed":
        return f"failed ({run.detail})"
    if run.status in ("pending", "unfinished") and (not (run.path / "config.yaml").is_file() or "not started" in run.detail):
        return "not started yet"
    if run.status in ("pending", "unfinished"):
        return "interrupted before the end of its first epoch"
    return "its metrics.csv is missing (removed after training?)"


def _curve_aggregate(curves: pd.DataFrame, x: str, grid: np.ndarray, carry: set[str], cond: dict[str, str],
                     spread: str) -> pd.DataFrame:
    on_grid = curve_on_grid(curves, x, grid, carry)
    return aggregate(on_grid.assign(condition=on_grid["run"].map(cond)).dropna(subset=["value"]), ["condition", x],
                     "value", spread)


def _cell(mean: float, lo: float, hi: float, n: int, spread: str, timescale: bool, digits: int = 3) -> str:
    """A table cell without the count (the table has a column for it)."""
    if not np.isfinite(mean):
        return ""
    if timescale and mean < ONE_STEP:
        return f"below one step ({mean:.2g})"
    if n <= 1 or hi == lo:
        return f"{mean:.{digits}g}"
    if spread == "bootstrap":
        return f"{mean:.{digits}g} [{lo:.{digits}g}, {hi:.{digits}g}]"
    return f"{mean:.{digits}g} ± {(hi - lo) / 2:.2g}"


def _per_n_table(columns: dict[str, tuple[pd.DataFrame, str, str, bool]], dists: dict[str, tuple[pd.DataFrame, str]],
                 condition: str, spread: str, order: list[str]) -> pd.DataFrame:
    """One condition's timescales per N in one table: ``columns`` name -> (aggregate table, value
    kind: mean|percent, spread, timescale?) and ``dists`` name -> (distribution table, band: 10-90
    or 25-75)."""
    rows: dict = {}
    for name, (table, kind, how, timescale) in columns.items():
        for r in table[table["condition"] == condition].itertuples():
            row = rows.setdefault(r.n_max, {"networks": int(r.n)})
            row["networks"] = max(row["networks"], int(r.n))
            if kind == "percent":
                row[name] = _cell(100 * r.mean, 100 * r.lo, 100 * r.hi, r.n, how, False, 2) + " %"
            else:
                row[name] = _cell(r.mean, r.lo, r.hi, r.n, how, timescale)
    for name, (dist, band) in dists.items():
        lo, hi = ("q10", "q90") if band == "10-90" else ("q25", "q75")
        for r in dist[dist["condition"] == condition].itertuples():
            row = rows.setdefault(r.n_max, {})
            row[name] = f"{r.q50:.3g} [{getattr(r, lo):.3g}, {getattr(r, hi):.3g}] ({r.neurons})"
    if not rows:
        return pd.DataFrame()
    order = ["networks", *order]
    table = pd.DataFrame.from_dict(rows, orient="index").sort_index()
    table = table[[c for c in order if c in table]].fillna("")
    table.index.name = "N"
    return table.reset_index()


def _definitions(columns) -> str:
    from rnn_timescales.experiments.report.glossary import definitions_html

    return definitions_html([], {c: DEFINITIONS[c] for c in columns if c in DEFINITIONS})


def _timescales_section(data: ReportData, figs: _Figures, spread: str, colors: dict[str, str]) -> Section:
    from rnn_timescales.plots import report as plotting

    sec = Section("Timescales and dimensionality")
    a = data.analysis
    if a.empty:
        sec.items.append(("nodata", "No data: no run has been analysed (rnn-timescales analyze RUN_DIR, or an "
                                    "analyze: section in the sweep spec, or rnn-timescales sweep analyze DIR)."))
        return sec
    if "solved" in a and (a["solved"].astype(str).str.lower() == "false").any():
        unsolved = sorted(set(a.loc[a["solved"].astype(str).str.lower() == "false", "run"]))
        sec.items.append(("note", f"Unsolved: {', '.join(unsolved)} solved no N; analysed at their final weights, "
                                  "they are drawn at the N they were still learning."))
    empty = pd.DataFrame(columns=["condition", "n_max", "mean", "lo", "hi", "n"])
    cells = data.neurons
    columns: dict[str, tuple[pd.DataFrame, str, str, bool]] = {}
    dists: dict[str, tuple[pd.DataFrame, str]] = {}
    order: list[str] = []
    tau = aggregate(a, ["condition", "n_max"], "tau_mean", spread) if "tau_mean" in a else empty
    tau_dist = neuron_quantiles(cells, "tau")
    if len(tau):
        columns["trained τ: network mean"] = (tau, "mean", spread, True)
        dists["trained τ per neuron: median [10 %, 90 %] (neurons)"] = (tau_dist, "10-90")
        order += ["trained τ: network mean", "trained τ per neuron: median [10 %, 90 %] (neurons)"]
        figs.add(sec, "tau_vs_n", plotting.plot_trained_tau_vs_n(tau, tau_dist, colors, spread),
                 f"Trained τ against N. Left: the mean over a network's neurons, then mean ± {spread} across "
                 "networks, on an axis fitted to the data (first and last values written). Right: every neuron's τ "
                 "(pooled over a condition's networks): the median (dashed) and the bands holding the middle 50 % "
                 "and 80 % of the neurons. The forward pass uses max(τ, 1), so no trained τ lies below one step.")
    if "tau_net_median" in a:
        ours = aggregate(a, ["condition", "n_max"], "tau_net_median", spread)
        paper = aggregate(data.paper, ["condition", "n_max"], "value", "sd") if not data.paper.empty else empty
        if "tau_net" in cells:
            share = aggregate(share_below_one_step(cells), ["condition", "n_max"], "share", spread)
            above = neuron_quantiles(cells, "tau_net", above=ONE_STEP)
        else:
            share, above = empty, neuron_quantiles(cells, "tau_net")
        columns["τ_net ≤ 1 step (share of neurons)"] = (share, "percent", spread, False)
        columns["τ_net median of all neurons (ours)"] = (ours, "mean", spread, True)
        dists["τ_net > 1 step: median [25 %, 75 %] (neurons)"] = (above, "25-75")
        columns["τ_net > 1 step: mean (paper's figures, ± s.d.)"] = (paper, "mean", "sd", True)
        order += ["τ_net ≤ 1 step (share of neurons)", "τ_net median of all neurons (ours)",
                  "τ_net > 1 step: median [25 %, 75 %] (neurons)", "τ_net > 1 step: mean (paper's figures, ± s.d.)"]
        overall = ""
        if not data.paper.empty:
            dropped = data.paper.assign(dropped=data.paper["neurons"] - data.paper["kept"])
            overall = (f" Over all checkpoints {100 * dropped['dropped'].sum() / max(1, dropped['neurons'].sum()):.0f} % "
                       "of the neurons had τ_net ≤ 1 step.")
        figs.add(sec, "tau_net_vs_n", plotting.plot_tau_net_distribution(above, share, paper, ours, colors, spread),
                 "Network-mediated τ_net against N. Left: the neurons that have memory (τ_net > 1 step), pooled over a "
                 "condition's networks: their median (dashed) and the bands holding the middle 50 % and 80 % of them; "
                 "diamonds: the paper's figures' aggregation (their mean per network, then mean ± s.d. across "
                 "networks); open squares: ours (the median τ_net of all neurons per network, mean across networks) "
                 "where it is at least one step. Right: the share of each network's neurons with τ_net ≤ 1 step "
                 f"(no memory beyond one step), mean ± {spread} across networks; above 50 % the median neuron, and so "
                 f"ours, is below one step.{overall}")
    if "jacobian_tau_max" in a or "population_tau_net" in a:
        jac = aggregate(a, ["condition", "n_max"], "jacobian_tau_max", spread) if "jacobian_tau_max" in a else empty
        pop = aggregate(a, ["condition", "n_max"], "population_tau_net", spread) if "population_tau_net" in a else empty
        figs.add(sec, "collective_vs_n", plotting.plot_collective_vs_n(jac, pop, colors, spread),
                 "Collective timescales against N: the slowest mode of the linearised dynamics (−1/ln|λ|, median over "
                 "operating points per network) and τ_net of the summed population activity; values below one step "
                 "are open markers in the grey strip, and a panel with nothing above one step says so.")
        columns["slowest Jacobian mode"] = (jac, "mean", spread, True)
        columns["population τ_net"] = (pop, "mean", spread, True)
        order += ["slowest Jacobian mode", "population τ_net"]
    if "dimensionality" in a:
        dim = aggregate(a, ["condition", "n_max"], "dimensionality", spread)
        figs.add(sec, "dimensionality_vs_n", plotting.plot_dimensionality_vs_n(dim, colors, spread),
                 "Dimensionality (principal components for 90 % of the variance, counted from 1; the paper's code "
                 "reports one less) against N.")
        columns["dimensionality"] = (dim, "mean", spread, False)
        order.append("dimensionality")
    for m, column in panel_measures(a):  # registered measures without a figure of their own
        table = aggregate(a, ["condition", "n_max"], column, spread)
        unit = f" ({m.unit})" if m.unit else ""
        figs.add(sec, f"measure_{m.name}", plotting.plot_measure_vs_n(table, colors, spread, f"{m.label}{unit}"),
                 f"{m.label[:1].upper()}{m.label[1:]}{unit} against N: {m.definition} (summary.csv's {column} per "
                 f"network, then mean ± {spread} across networks).")
        columns[m.label] = (table, "mean", spread, m.timescale)
        order.append(m.label)
    spread_words = "mean ± s.e.m." if spread == "sem" else "mean [95 % bootstrap interval]"
    tables = []
    for condition in data.conditions:
        table = _per_n_table(columns, dists, condition, spread, order)
        if not table.empty:
            tables.append(table.assign(condition=condition))
            sec.items.append(("table", f"<p>Timescales per N, {html.escape(condition)} (across networks: "
                                       f"{spread_words}; per neuron: median [quantiles] (neurons)):</p>"
                              + table.to_html(index=False, escape=True, classes="data", border=0)))
    if tables:
        both = pd.concat(tables, ignore_index=True)
        both = both[["condition", *[c for c in both.columns if c != "condition"]]]
        both.to_csv(figs.out / "timescales_by_n.csv", index=False)
        sec.items.append(("table", "<p class='meta'>As a table: <a href='timescales_by_n.csv'>timescales_by_n.csv"
                                   "</a>.</p>" + _definitions(["N", *both.columns])))
    return sec


def panel_measures(analysis: pd.DataFrame) -> list[tuple[type, str]]:
    """(measure, ``summary.csv`` column) of every registered measure of the timescales section that
    the report draws in a panel of its own (``panel`` None), where the runs' analyses have it."""
    from rnn_timescales.studies.measures import REPORT_SECTION, measures

    chosen = []
    for m in measures():
        column = m.summary_column()
        if m.panel is None and m.section == REPORT_SECTION and column in analysis and analysis[column].notna().any():
            chosen.append((m, column))
    return chosen


def _measure_look_for(figure: str) -> str:
    """The reading guide of a registered measure's own panel (``measure_NAME``), else ''."""
    from rnn_timescales.studies.measures import measures

    return next((m.look_for for m in measures() if figure == f"measure_{m.name}"), "")


# name -> (settings a curve is drawn over, the value, the figure, its caption)
ROBUSTNESS_PANELS = {
    "perturbation": (["kind", "n", "epsilon"], "relative_accuracy", "plot_perturbation_across_runs",
                     "Relative accuracy (acc − 0.5)/(baseline − 0.5) after perturbing the recurrent weights W or the "
                     "timescales τ by ε (mean over repeats per network, then across networks)."),
    "ablation": (["n", "group"], "accuracy", "plot_ablation_across_runs",
                 "Accuracy after silencing single neurons, by ablation group (mean over a group's neurons per network, "
                 "then across networks)."),
    "forgetting": (["checkpoint_n", "n"], "accuracy", "plot_forgetting_across_runs",
                   "Forgetting: the network trained up to N_ckpt evaluated on every earlier N (mean across networks)."),
    "continuous": (["n", "k"], "accuracy", "plot_continuous_across_runs",
                   "Continuous-time test: accuracy when every input is repeated k times and τ scaled by k."),
}


def _robustness_section(data: ReportData, figs: _Figures, spread: str, colors: dict[str, str]) -> Section:
    from rnn_timescales.plots import report_robustness as plotting

    sec = Section("Robustness and generalisation")
    for name, (keys, value, figure, caption) in ROBUSTNESS_PANELS.items():
        table = data.tables[name]
        if not table.empty:  # e.g. a relative accuracy is undefined where the baseline is at chance
            table = table.dropna(subset=[value])
        if table.empty:
            sec.items.append(("nodata", f"No data: no run has {TABLES[name][0]} (written by the robustness analysis)."))
            continue
        per_run = table.groupby(["condition", "run", *keys], sort=False)[value].mean().reset_index()
        agg = _aggregate_keep_n(per_run, ["condition", *keys], value, spread)
        figs.add(sec, name, getattr(plotting, figure)(agg, colors, spread), caption)
    return sec


def _aggregate_keep_n(per_run: pd.DataFrame, by: list[str], value: str, spread: str) -> pd.DataFrame:
    """:func:`aggregate` for tables that have their own ``n`` (the task's N): the count of runs is
    returned as ``runs`` so that ``n`` keeps meaning N."""
    renamed = per_run.rename(columns={"n": "task_n"})
    by2 = ["task_n" if b == "n" else b for b in by]
    out = aggregate(renamed, by2, value, spread).rename(columns={"n": "runs"})
    return out.rename(columns={"task_n": "n"})


def _recall_section(data: ReportData, figs: _Figures, spread: str, colors: dict[str, str]) -> Section:
    from rnn_timescales.plots import report_robustness as plotting

    sec = Section("Delayed recall")
    ex = data.tables["extrapolation"]
    if ex.empty:
        sec.items.append(("nodata", f"No data: no run has {TABLES['extrapolation'][0]} (written by the delayed-recall "
                                    "extrapolation analysis)."))
        return sec
    per_run = ex.groupby(["condition", "run", "delay"], sort=False)["accuracy"].mean().reset_index()
    agg = aggregate(per_run, ["condition", "delay"], "accuracy", spread)
    figs.add(sec, "extrapolation", plotting.plot_extrapolation_across_runs(agg, colors, spread),
             "Accuracy against delay, including delays longer than any trained (extrapolation), per condition.")
    sec.items.append(("table", _pivot_html(agg, "delay", spread, False)))
    return sec


def runs_table(data: ReportData) -> pd.DataFrame:
    """One row per run: its condition, seed, status, largest N solved, epochs, wall time and the N analysed."""
    rows = []
    summaries = {}
    for r in data.runs:
        s = read_summary(r.path) or {}
        summaries[r.name] = s
        analysed = data.analysis[data.analysis["run"] == r.name]["n_max"].tolist() if not data.analysis.empty else []
        wall = s.get("wall_time_s")
        rows.append({"run": r.name, "condition": r.condition, "seed": r.seed, "status": r.status, "detail": r.detail,
                     "largest N solved": s.get("n_max_solved"), "epochs": s.get("epochs"),
                     "wall time (min)": f"{wall / 60:.1f}" if isinstance(wall, (int, float)) else "",
                     "analysed N": f"{min(analysed)}–{max(analysed)} ({len(analysed)})" if analysed else ""})
    table = pd.DataFrame(rows).astype(object)
    return table.where(table.notna(), "")


CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; padding-top: 1em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #444; max-width: 900px; }
table.data { border-collapse: collapse; font-size: 0.8em; margin: 0.5em 0 1em; }
table.data td, table.data th { border: 1px solid #ddd; padding: 2px 6px; text-align: left; }
p.nodata { color: #885; font-style: italic; } .notes li { font-size: 0.85em; }
dl.defs { font-size: 0.8em; display: grid; grid-template-columns: max-content auto; gap: 2px 12px; max-width: 1000px; }
dl.defs dt { font-weight: 600; } dl.defs dd { margin: 0; color: #333; }
p.look { font-size: 0.85em; color: #245; margin: 0.2em 0; } .meta { font-size: 0.85em; color: #444; }
"""
"""The report pages' style sheet (inline: a page needs no other file than its figures)."""


_RUN_DEFINITIONS = (
    "<dl class='defs'><dt>condition</dt><dd>The settings that vary between runs other than the seed.</dd>"
    "<dt>status</dt><dd>done, training, failed, ... (detail: why).</dd><dt>largest N solved</dt><dd>The largest N "
    "whose accuracy passed the curriculum's threshold.</dd><dt>analysed N</dt><dd>The N of the checkpoints "
    "analysed (their number).</dd></dl>")


def render_html(data: ReportData, sections: list[Section], spread: str, runs: pd.DataFrame | None = None) -> str:
    """The report page: a header, the runs (``runs``: :func:`runs_table`, made when not given), then
    each section's figures (relative paths beside the page), tables and notes."""
    e = html.escape
    runs = runs_table(data) if runs is None else runs
    what = {"sweep": "sweep", "run": "run", "runs": "collection of runs"}[data.kind]
    varying = ", ".join(data.varying) or "nothing"
    out = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{e(data.title)} report</title>",
           f"<style>{CSS}</style></head><body>",
           f"<h1>rnn-timescales report: {e(data.title)}</h1>",
           f"<p>A {what} of {len(data.runs)} run{'s' if len(data.runs) != 1 else ''} in {len(data.conditions)} "
           f"condition{'s' if len(data.conditions) != 1 else ''}; settings that vary: {e(varying)}. "
           f"Generated {e(time.strftime('%Y-%m-%d %H:%M:%S'))}.</p>"]
    if data.description:
        out.append(f"<p>{e(data.description)}</p>")
    out.append(f"<p>Curves: mean across the runs (seeds) of a condition; spread: "
               f"{'standard error of the mean' if spread == 'sem' else '95 % bootstrap interval of the mean'}, "
               f"unless a caption says otherwise. Timescales are in steps; those below one step cannot be resolved "
               f"at integer lags and are shown as \"below one step\".</p>")
    out.append("<h2>Runs</h2>" + runs.to_html(index=False, escape=True, classes="data", border=0)
               + "<p class='meta'>As a table: <a href='runs.csv'>runs.csv</a>.</p>" + _RUN_DEFINITIONS)
    for sec in sections:
        out.append(f"<h2>{e(sec.title)}</h2>")
        for kind, content in sec.items:
            if kind == "figure":
                src, caption = content.split("|", 1)
                look = LOOK_FOR.get(src.removesuffix(".png"), "") or _measure_look_for(src.removesuffix(".png"))
                look = f"<p class='look'><b>What to look for:</b> {e(look)}</p>" if look else ""
                out.append(f"<figure><img src='{e(src)}' alt='{e(caption)}'><figcaption>{e(caption)}{look}"
                           "</figcaption></figure>")
            elif kind == "table":
                out.append(content)
            elif kind == "note":
                out.append(f"<p class='meta'>{e(content)}</p>")
            else:
                out.append(f"<p class='nodata'>{e(content)}</p>")
    if data.notes:
        out.append("<h2>Notes</h2><ul class='notes'>" + "".join(f"<li>{e(n)}</li>" for n in data.notes) + "</ul>")
    out.append("</body></html>")
    return "\n".join(out)


def check_report_dir(out: str | Path) -> Path:
    """``out`` if a report may be written there: missing, empty, or an earlier report (replaced);
    ConfigError otherwise."""
    return OUTPUT.check(out)


def write_report(path: str | Path, out: str | Path | None = None, spread: str = "sem") -> Path:
    """Write the report of ``path`` (a sweep, a run, or a directory of runs) into ``out`` (default
    ``path/report``): ``index.html`` and its PNG figures. Assembled in a temporary directory and
    renamed into place, so a reader sees the old report or the new one, never a mix."""
    if spread not in SPREADS:
        raise ConfigError(f"spread must be one of {', '.join(SPREADS)}, got {spread!r}")
    data = load_report_data(path)
    out = Path(out) if out is not None else Path(path) / "report"

    def fill(tmp: Path) -> None:
        figs = _Figures(tmp)
        colors = _colors(data.conditions)
        sections = [_training_section(data, figs, spread, colors), _timescales_section(data, figs, spread, colors),
                    _robustness_section(data, figs, spread, colors), _recall_section(data, figs, spread, colors)]
        runs = runs_table(data)
        runs.to_csv(tmp / "runs.csv", index=False)
        (tmp / "index.html").write_text(render_html(data, sections, spread, runs), encoding="utf-8")

    OUTPUT.write(out, fill)
    return out
