"""The report of a results directory (the reproduction's committed tables, ``results/k24``): the
figures :func:`~rnn_timescales.experiments.results.draw_figures` redraws from the tables alone, on
one HTML page with a caption under each figure (what it shows, what to look for), the tables the
documentation quotes with human column names and a definitions list, and links to every CSV
(:func:`write_results_report`).

The page carries no date: it is a function of the tables, so that the committed copy
(``docs/figures/k24/index.html``) is redrawn identically from ``results/k24``.
"""

from __future__ import annotations

import html
import json
import os
import shutil
from pathlib import Path

import pandas as pd

from rnn_timescales.experiments.recall_results import CURRICULA as RECALL_CURRICULA
from rnn_timescales.experiments.report.glossary import ABLATION_GROUPS, definitions_html, human, mean_sd
from rnn_timescales.experiments.report.page import CSS
from rnn_timescales.io import OutputDir

# figure name (after "TASK_") -> (section, caption: what it shows, what to look for)
CAPTIONS: dict[str, tuple[str, str, str]] = {
    "timescales_vs_n": (
        "Timescales against N",
        "Single-neuron and network-mediated timescales against N, per curriculum (lines: mean across networks; "
        "band: ± s.d.; the title counts the networks). Left: the trained τ, a network's mean over its neurons "
        "(dotted: the 25 % and 75 % quantiles over neurons). Middle: τ_net the paper's way (AIC choice of one or "
        "two exponentials; mean of the neurons above one step). Right: τ_net by our parsimonious fit: the median "
        "of all neurons (solid) and the mean of those above one step (dashed); dotted, right axis: the share of "
        "neurons at or below one step.",
        "whether τ_net grows with N under the single-head curriculum and stays flat under the multi-head one (the "
        "paper's claim), and whether that holds for both estimators and both aggregations."),
    "estimators_vs_n": (
        "Timescales against N",
        "What each estimator calls a slow component, against N (mean ± s.d. across networks): the share of "
        "neurons fitted with two exponentials, the weight and the timescale of the slow part (medians over those "
        "neurons), and two timescales that need no model choice: the integrated autocorrelation time and the "
        "slowest mode of the linearised dynamics.",
        "whether a rising τ_net comes from more neurons having a slow part (first panel) or from the slow part "
        "itself slowing down (third panel); the model-free measures (last panel) settle which."),
    "dynamics_vs_n": (
        "Timescales against N",
        "Collective measures against N (mean ± s.d. across networks): τ_net of the summed population activity "
        "(open circles: below 0.1 step, no correlation left at lag 1), the slowest mode of the linearised dynamics "
        "(−1/ln|λ|, median over operating points) and the dimensionality (principal components for 90 % of the "
        "variance).",
        "the slowest mode rising with N for single-head networks and levelling off for multi-head ones; the "
        "dimensionality growing with N in both."),
    "n_vs_steps": (
        "Training speed",
        "Largest N solved against training steps, one line per network: τ trained (solid), τ fixed at 1 (dashed) "
        "or at 3 (dotted), colour by curriculum. The vertical line marks the fixed-τ runs' budget; the right panel "
        "zooms on it.",
        "the multi-head curriculum reaching larger N in the same number of steps, and how fixing τ changes the "
        "pace (the table below gives each network's N at the budget)."),
    "perturbation": (
        "Robustness",
        "Relative accuracy (accuracy − 0.5)/(intact accuracy − 0.5) after a random change of size ε (log axis) of "
        "the recurrent weights W (left) or of the timescales τ (right). Solid, filled: our networks at the N the "
        "legend gives; dashed, open: the paper's published networks, at their own N (different N: compare the "
        "shape of the fall, not its position). Mean over repeats per network, then mean ± s.d. across networks.",
        "the ε at which each curriculum's accuracy falls: multi-head networks should tolerate larger changes."),
    "ablation": (
        "Robustness",
        "Accuracy with one neuron silenced: none (intact), one of the 20 fastest neurons, or one of the 20 slowest "
        "(mean over the group's neurons per network, then mean ± s.d. across networks); plain bars: ours, hatched: "
        "the paper's networks at their N.",
        "single-head networks losing more when a slow neuron is silenced than a fast one; multi-head networks "
        "losing little either way."),
    "retraining": (
        "Robustness",
        "Accuracy (mean over heads) during retraining after a change of W or τ (epoch 0: right after the change; "
        "band: ± s.d. across networks); dotted: the unchanged networks retrained for the same epochs.",
        "how many epochs each curriculum needs to recover, against the unchanged networks' level."),
    "forgetting": (
        "Forgetting and continuous time",
        "The network trained up to N, evaluated on every earlier N (mean accuracy over them; multi-head networks "
        "answer each N with its own head); dotted: chance (0.5).",
        "multi-head networks keeping every earlier N; single-head networks at chance on the earlier ones."),
    "continuous": (
        "Forgetting and continuous time",
        "Accuracy at the largest N when every input is held for k steps and τ is scaled by k (k = 1: the trained "
        "network; log axis; band: ± s.d. across networks); dotted: chance.",
        "whether the networks carry their computation to a slower clock (a continuous-time solution would keep "
        "its accuracy as k grows)."),
    "extrapolation": (
        "Delayed recall: extrapolation",
        "Recall accuracy at the response time t_a against the delay t_a − t_s (time steps), per curriculum: each "
        "network's accuracy (256 trials a delay), then mean ± s.d. across networks (band; the legend counts the "
        "networks). Delays below T_max (dashed line; shaded) were trained, longer ones never seen; dotted: chance, "
        "1/(classes − 1). Right: the share of the steps before t_a at which the networks correctly said nothing.",
        "whether the delay curriculum (DeCu) stays above the vocabulary curriculum (VoCu) and above no curriculum "
        "beyond T_max (claim 1; the tests below compare the networks' recall over the untrained delays), and "
        "whether a curve that falls does so by answering early (the null share falling) or by forgetting."),
    "slow_points": (
        "Delayed recall: slow points",
        "One point per class and network: the class's recall over the untrained delays against log10 of the speed "
        "q (state units squared) where its memory sits. Left: q at the slow point the finder reached from the "
        "class's seed (filled: the finder converged; open: q where it stopped; a class without a seed read out "
        "correctly has no slow point, and the title counts the classes that have one). Right: q at the class's "
        "centre of mass of the memory states, which every class has. Colour: curriculum; dotted: chance.",
        "points falling from upper left to lower right (slower memory, longer recall: claim 2), within each "
        "network; the table below gives each network's Spearman r and tests whether the r's are below 0."),
    "speed_regularization": (
        "Delayed recall: speed regularisation",
        "Recall accuracy against the delay (time steps) of the trained networks (dashed grey) and of their two "
        "fine-tunings from the same weights and batches: without (control, λ = 0, blue) and with the speed term "
        "λ·Σq at the class centres (red); one panel per curriculum, mean ± s.d. across networks; dashed line: "
        "T_max. Last panel: the mean log10 q at the class centres of each, mean ± s.d. across networks.",
        "the red curve above the blue one beyond T_max (claim 3: slower class centres, longer memory), and the "
        "red points below the blue ones in the last panel (the regularisation did slow the centres down); the "
        "control shows what fine-tuning alone does."),
}
FLOOR = 0.1
"""A timescale below this many steps: no correlation left at lag 1; shown as "< 0.1", not as a value."""
FLOORED = {"tau_net_median", "tau_net_paper_mean", "tau_net_paper_mean_aic", "tau_jump_median", "iat_median",
           "population_tau_net", "jacobian_tau_max"}
SECTIONS = ["Timescales against N", "Training speed", "Robustness", "Forgetting and continuous time",
            "Delayed recall: extrapolation", "Delayed recall: slow points", "Delayed recall: speed regularisation"]


class _ReportOutput(OutputDir):
    """A results report's directory: an earlier report (``index.html``) or an earlier figures-only
    output (``figures.json``, as ``rnn-timescales figures`` writes) is replaced."""

    def is_ours(self, out: Path) -> bool:
        return (out / "index.html").exists() or (out / "figures.json").exists()


OUTPUT = _ReportOutput("report", marker="index.html", kind="a report or the figures of a results directory")


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, escape=True, classes="data", border=0, na_rep="")


def _has_tau(model: str) -> bool:
    """Whether networks of ``model`` have per-neuron timescales τ (the leaky RNN; a GRU or an LSTM
    has gates instead); a model not registered here is taken to have them."""
    from rnn_timescales.models import MODELS

    return model not in MODELS or bool(MODELS.get(model).leaky_weights)


def _trained_levels(results: Path) -> dict[str, str]:
    """Run -> its delayed-recall level (T_max and classes), as the delayed-recall tables record it
    for the network they analysed; {} where none of them is there."""
    for name, t_max in (("extrapolation.csv", "trained_max_delay"), ("recall_slow_points.csv", "max_delay")):
        path = results / name
        if path.is_file() and path.stat().st_size:
            table = pd.read_csv(path)
            if {"run", t_max, "n_classes"} <= set(table.columns) and not table.empty:
                first = table.groupby("run", sort=False)[[t_max, "n_classes"]].first()
                return {run: f"T_max {r[t_max]:.0f}, {r['n_classes']:.0f} classes" for run, r in first.iterrows()}
    return {}


def _runs(results: Path) -> tuple[str, list[str]]:
    runs = pd.read_csv(results / "runs.csv")
    if runs.empty:
        return "<p class='nodata'>No networks in runs.csv.</p>", []
    has_tau = [_has_tau(m) for m in runs["model"]]
    tau = ["no τ" if not h else "trained" if bool(t) else f"fixed at {f:g}"
           for h, t, f in zip(has_tau, runs["train_tau"], runs["tau_fixed"])]
    levels = _trained_levels(results) if runs["n_reached"].isna().all() else {}  # no N: a delayed-recall level
    curricula = set(runs["curriculum"])
    recall = bool(levels) or bool(curricula & (set(RECALL_CURRICULA) - {"none"}))
    shown = {human("run"): runs["run"], human("curriculum"): runs["curriculum"]}
    columns = ["run", *(["curriculum"] if not recall or curricula - set(RECALL_CURRICULA) else []),
               *(["recall_curriculum"] if recall else [])]
    if not all(has_tau):
        shown[human("model")] = runs["model"]
        columns.append("model")
    if any(has_tau):
        shown[human("train_tau")] = tau
        columns.append("train_tau")
    shown.update({human("seed"): runs["seed"], human("hidden"): runs["hidden"]})
    if levels:
        shown[human("trained_level")] = runs["run"].map(levels).fillna("")
    else:
        shown[human("n_reached")] = runs["n_reached"].map(lambda v: "" if pd.isna(v) else f"{v:.0f}")
    shown.update({
        human("steps"): runs["steps"].map(lambda v: "" if pd.isna(v) else f"{v:.0f}"),
        human("epochs"): runs["epochs"].map(lambda v: "" if pd.isna(v) else f"{v:.0f}"),
        f"{human('wall_time_s')} (h)": runs["wall_time_s"].map(lambda v: "" if pd.isna(v) else f"{v / 3600:.1f}"),
        human("stop_reason"): runs["stop_reason"]})
    columns += ["seed", "hidden", "trained_level" if levels else "n_reached", "steps", "epochs", "wall_time_s",
                "stop_reason"]
    return _table(pd.DataFrame(shown)), columns


def _timescales(summary: pd.DataFrame) -> tuple[str, list[str]]:
    """One table per curriculum and τ: the measures down, N across, mean ± s.d. (networks)."""
    from rnn_timescales.experiments.results import SUMMARY_COLUMNS

    parts, used = [], []
    for (curriculum, model, train_tau), g in summary.groupby(["curriculum", "model", "train_tau"], sort=False):
        g = g.sort_values("n")
        rows = []
        for c in SUMMARY_COLUMNS:
            if f"{c}_mean" not in g:
                continue
            used.append(c)
            integer = c == "dimensionality"
            floor = c in FLOORED
            rows.append([human(c)] + [f"< {FLOOR:g} ({int(k)})" if floor and m < FLOOR else mean_sd(m, s, k, integer=integer)
                                      for m, s, k in zip(g[f"{c}_mean"], g[f"{c}_sd"], g[f"{c}_count"])])
        frame = pd.DataFrame(rows, columns=["measure", *[f"N = {n}" for n in g["n"]]])
        parts.append(f"<p><b>{html.escape(str(curriculum))}</b> ({html.escape(str(model))}, τ "
                     f"{'trained' if train_tau else 'fixed'}): mean ± s.d. across networks (their number)</p>"
                     + _table(frame))
    return "".join(parts), used


def _robustness(summary: pd.DataFrame) -> str:
    measure = summary["measure"].map(human)
    condition = summary["condition"].map(lambda c: ABLATION_GROUPS.get(c, c))
    integer = summary["measure"] == "epochs_to_recover"
    shown = pd.DataFrame({"measure": measure, "condition": condition, "N": summary["n"],
                          "curriculum": summary["curriculum"],
                          "mean ± s.d. (networks)": [mean_sd(m, s, k, integer=i) for m, s, k, i in
                                                     zip(summary["mean"], summary["sd"], summary["count"], integer)],
                          "each network": summary["each"]})
    return _table(shown)


def _at_budget(table: pd.DataFrame) -> str:
    shown = pd.DataFrame({
        "curriculum": table["curriculum"],
        "τ": ["trained" if bool(t) else f"fixed at {f:g}" for t, f in zip(table["train_tau"], table["tau_fixed"])],
        "budget (steps)": table["budget_steps"].map(lambda v: f"{v:.0f}"),
        "largest N solved within the budget": [mean_sd(m, s, k, digits=1) + ("" if c else " (lower bound)") for
                                               m, s, k, c in zip(table["n_mean"], table["n_sd"], table["networks"],
                                                                 table["complete"])],
        "each network": table["values"]})
    return _table(shown)


# --- delayed recall [H19] (experiments.recall_results) ----------------------------------------------
RECALL_TEXT = ("each_trained", "each_untrained", "each_r", "each_p", "each_n", "each_difference", "trained_max_delay",
               "largest_delay", "note")
"""Columns of the delayed-recall summaries shown as written (a single network's "1.00" stays so)."""


def _pv(p) -> str:
    return "" if pd.isna(p) else f"{float(p):.2g}"


def _signed(v) -> str:
    return "" if pd.isna(v) else f"{float(v):+.3f}"


def _recall_extrapolation(summary: pd.DataFrame) -> tuple[str, list[str]]:
    columns = ["recall_curriculum", "networks", "trained_max_delay", "largest_delay", "accuracy_trained",
               "accuracy_untrained", "each_trained", "each_untrained"]
    shown = pd.DataFrame({
        human("recall_curriculum"): summary["curriculum"], human("networks"): summary["networks"],
        human("trained_max_delay"): summary["trained_max_delay"], human("largest_delay"): summary["largest_delay"],
        **{human(c): [mean_sd(m, sd, k) for m, sd, k in zip(summary[f"{c}_mean"], summary[f"{c}_sd"],
                                                            summary["networks"])]
           for c in ("accuracy_trained", "accuracy_untrained")},
        human("each_trained"): summary["each_trained"], human("each_untrained"): summary["each_untrained"]})
    return _table(shown), columns


def _recall_tests(tests: pd.DataFrame) -> tuple[str, list[str]]:
    columns = ["group_a", "group_b", "networks", "mean_a", "mean_b", "difference", "p_value", "p_one_sided", "note"]
    shown = pd.DataFrame({
        human("group_a"): tests["group_a"], human("group_b"): tests["group_b"],
        human("networks"): [f"{a} + {b}" for a, b in zip(tests["networks_a"], tests["networks_b"])],
        human("mean_a"): tests["mean_a"].map(lambda v: "" if pd.isna(v) else f"{v:.3f}"),
        human("mean_b"): tests["mean_b"].map(lambda v: "" if pd.isna(v) else f"{v:.3f}"),
        human("difference"): tests["difference"].map(_signed),
        f"{human('p_value')} (Welch t)": tests["p_value"].map(_pv),
        f"{human('p_one_sided')} (a > b)": tests["p_one_sided"].map(_pv), human("note"): tests["note"]})
    return _table(shown), columns


def _recall_slow_points(summary: pd.DataFrame) -> tuple[str, list[str]]:
    columns = ["recall_curriculum", "speed", *dict.fromkeys(summary["speed"]), "r_mean", "negative", "each_r", "each_p",
               "each_n", "p_value", "p_one_sided", "note"]
    shown = pd.DataFrame({
        human("recall_curriculum"): summary["curriculum"], human("speed"): summary["speed"].map(human),
        human("r_mean"): [mean_sd(m, sd, k) for m, sd, k in
                          zip(summary["r_mean"], summary["r_sd"], summary["networks"])],
        human("negative"): [f"{a} of {b}" for a, b in zip(summary["negative"], summary["networks"])],
        human("each_r"): summary["each_r"], human("each_p"): summary["each_p"], human("each_n"): summary["each_n"],
        f"{human('p_value')} (t of the r's)": summary["p_value"].map(_pv),
        f"{human('p_one_sided')} (r < 0)": summary["p_one_sided"].map(_pv), human("note"): summary["note"]})
    return _table(shown), columns


def _recall_regularization(summary: pd.DataFrame) -> tuple[str, list[str]]:
    columns = ["recall_curriculum", "measure", *dict.fromkeys(summary["measure"]), "networks", "start", "control",
               "regularized", "difference_regularized", "each_difference", "p_value", "p_one_sided", "note"]
    shown = pd.DataFrame({
        human("recall_curriculum"): summary["curriculum"], human("measure"): summary["measure"].map(human),
        human("networks"): summary["networks"],
        **{human(n): [mean_sd(m, sd, k) for m, sd, k in zip(summary[f"{n}_mean"], summary[f"{n}_sd"],
                                                            summary["networks"])]
           for n in ("start", "control", "regularized")},
        human("difference_regularized"): summary["difference"].map(_signed),
        human("each_difference"): summary["each_difference"],
        f"{human('p_value')} (paired t)": summary["p_value"].map(_pv),
        human("p_one_sided"): [f"{_pv(p)} ({a})" if pd.notna(p) else "" for p, a in
                               zip(summary["p_one_sided"], summary["alternative"])],
        human("note"): summary["note"]})
    return _table(shown), columns


RECALL_TABLES = {
    "extrapolation_summary": ("Delayed recall: extrapolation", "Recall over the trained and the untrained delays",
                              _recall_extrapolation),
    "extrapolation_tests": ("Delayed recall: extrapolation", "Claim 1, tested: recall over the untrained delays, "
                            "curriculum against curriculum (Welch t across networks)", _recall_tests),
    "slow_points_summary": ("Delayed recall: slow points", "Claim 2, tested: Spearman r across classes of log10 q "
                            "with recall, per network, and a t-test across networks of the r's against 0",
                            _recall_slow_points),
    "speed_regularization_summary": ("Delayed recall: speed regularisation", "Claim 3, tested: regularised against "
                                     "control, paired by network (paired t)", _recall_regularization),
}
"""Summary kind -> (section, heading, the function making its HTML table and the columns it defines)."""


def _link(href: str, text: str) -> str:
    return f"<a href='{html.escape(href)}'>{html.escape(text)}</a>"


def render_results_html(results: Path, out: Path, names: list[str], tmp: Path) -> str:
    """The page of a results directory whose figures and summaries ``names`` lie in ``tmp`` (the
    report directory being written; ``out`` its final place, for the links to the source tables)."""
    e = html.escape
    provenance = json.loads((results / "provenance.json").read_text()) if (results / "provenance.json").is_file() else {}
    body: dict[str, list[str]] = {s: [] for s in SECTIONS}
    for name in names:
        if not name.endswith(".png"):
            continue
        task, _, kind = name[:-4].partition("_")
        section, shows, look = CAPTIONS.get(kind, ("Other figures", f"{kind} ({task}).", ""))
        look_html = f"<p class='look'><b>What to look for:</b> {e(look)}</p>" if look else ""
        body.setdefault(section, []).append(
            f"<figure data-figure='{e(name)}'><img src='{e(name)}' alt='{e(shows)}'>"
            f"<figcaption>{e(shows)}{look_html}</figcaption></figure>")
    csvs = [n for n in names if n.endswith(".csv")]
    for name in csvs:
        task, _, kind = name[:-4].partition("_")
        table = pd.read_csv(tmp / name)
        link = f"<p class='meta'>As a table: {_link(name, name)}.</p>"
        if kind == "timescales_by_n" and not table.empty:
            text, used = _timescales(table)
            body["Timescales against N"].append(f"<h3>Timescales per N ({e(task)})</h3>" + text + link
                                                + definitions_html(used, {f"< {FLOOR:g}": "A timescale below "
                                                  f"{FLOOR:g} step: no correlation left at lag 1, below what integer "
                                                  "lags resolve; not a measured value (the number of networks in "
                                                  "brackets)."}))
        elif kind == "robustness_summary" and not table.empty:
            body["Robustness"].append(f"<h3>The numbers quoted ({e(task)})</h3>" + _robustness(table) + link
                                      + definitions_html(["curriculum", "n", "condition",
                                                          *dict.fromkeys(table["measure"])]))
        elif kind == "n_at_budget" and not table.empty:
            body["Training speed"].append(f"<h3>Largest N at the fixed-τ budget ({e(task)})</h3>" + _at_budget(table)
                                          + link + definitions_html(["curriculum", "train_tau", "budget_steps",
                                                                     "networks", "values", "complete"]))
        elif kind in RECALL_TABLES and not table.empty:
            section, heading, render = RECALL_TABLES[kind]
            text, used = render(pd.read_csv(tmp / name, dtype={c: str for c in RECALL_TEXT}))
            body[section].append(f"<h3>{e(heading)} ({e(task)})</h3>" + text + link + definitions_html(used))
    runs_html, run_columns = _runs(results)
    roots = "".join(f"<li><code>{e(str(r.get('path', '')))}</code> at revision {e(str(r.get('revision') or '?'))}</li>"
                    for r in provenance.get("roots", []))
    sources = sorted(p.name for p in results.glob("*.csv"))
    rel = Path(os.path.relpath(results.resolve(), out.resolve()))  # the page lies in out
    page = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{e(results.name)} results report"
            f"</title><style>{CSS}</style></head><body>",
            f"<h1>rnn-timescales report: results {e(results.name)}</h1>",
            "<p>The reproduction's figures and numbers, redrawn from its result tables alone (no run directory is "
            "needed). Timescales are in time steps; every spread is the standard deviation across networks (seeds) "
            "unless a caption says otherwise.</p>"]
    if provenance:
        page.append(f"<p class='meta'>Tables collected by <code>{e(provenance.get('command', ''))}</code> on "
                    f"{e(provenance.get('machine', ''))}.</p><ul class='meta'>{roots}</ul>")
    page.append("<h2>Runs</h2><p>One row per trained network.</p>" + runs_html + definitions_html(run_columns))
    for section, items in body.items():
        if items:
            page.append(f"<h2>{e(section)}</h2>" + "".join(items))
    page.append("<h2>Tables</h2><p>Drawn here: " + ", ".join(_link(n, n) for n in csvs) + ". The result tables "
                "they come from (in the results directory): "
                + ", ".join(_link((rel / s).as_posix(), s) for s in sources) + ".</p>")
    page.append("</body></html>")
    return "\n".join(page)


def write_results_report(results: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of a results directory into ``out`` (default ``results/report``): the
    figures and summary tables of :func:`~rnn_timescales.experiments.results.draw_figures` (with
    their ``figures.json``) and ``index.html``, all made in a temporary directory and renamed into
    place."""
    from rnn_timescales.experiments.results import draw_figures

    results = Path(results)
    out = Path(out) if out is not None else results / "report"

    def fill(tmp: Path) -> None:
        staged = tmp / "figures"
        draw_figures(results, staged)
        for path in staged.iterdir():
            shutil.move(str(path), tmp / path.name)
        staged.rmdir()
        names = json.loads((tmp / "figures.json").read_text())["figures"]
        (tmp / "index.html").write_text(render_results_html(results, out, names, tmp), encoding="utf-8")

    OUTPUT.write(out, fill)
    return out
