"""The numbers docs/reproduction.md quotes, made from the committed tables (results/k24) rather than
typed: the section "Our tau_net against the authors'" (:func:`tau_net_comparison_markdown`), the
map from the page's timescale rows to the columns of timescales.csv (:data:`TIMESCALE_ROWS`), and
the tables of candidates (c)/(d) and of the simulation seeds (:func:`preset_comparison_markdown`,
:func:`simulation_seeds_markdown`), and the check that every committed table names the command,
revision and settings that made it (:func:`provenance_gaps`). tests/experiments/test_reproduction_numbers.py holds the page to them.

    python -m rnn_timescales.experiments.reproduction_numbers [results/k24]   # prints the section's tables
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

# the rows of the page's two timescale tables -> the column of timescales.csv they average
TIMESCALE_ROWS = {
    "trained τ, mean": "tau_mean",
    "trained τ, max": "tau_max",
    "τ_net, ours, median": "tau_net_median",
    "τ_net, AIC, paper's aggregation": "tau_net_paper_mean_aic",
    "share of neurons AIC gives two components": "share_double_aic",
    "AIC's slow component: median τ": "slow_tau_median_aic",
    "decay after the jump: median τ": "tau_jump_median",
    "neurons with no measurable decay": "tau_jump_none",
    "integrated autocorrelation time, median": "iat_median",
    "slowest Jacobian mode (steps)": "jacobian_tau_max",
    "dimensionality (90 % of the variance)": "dimensionality",
}

PROVENANCE_KEYS = ("command", "revision", "settings")


def provenance_gaps(results: str | Path) -> list[str]:
    """What is missing for every CSV under ``results`` (subfolders included) to name its origin:
    an entry ``tables[<relative path>]`` of ``results/provenance.json`` with a non-empty
    ``command``, ``revision`` and ``settings``. Also an entry naming a table that is not there.
    The summaries ``rnn-timescales report`` derives from the tables (a folder with its
    ``figures.json``, e.g. ``results/h19/report``) are its output, redrawn by that one command, and
    need no entry. Returns one line per gap (empty: complete)."""
    results = Path(results)
    prov_file = results / "provenance.json"
    tables = json.loads(prov_file.read_text()).get("tables", {}) if prov_file.is_file() else {}
    reports = {f.parent for f in results.rglob("figures.json")}
    gaps = []
    for csv in sorted(results.rglob("*.csv")):
        if csv.parent in reports:
            continue
        name = csv.relative_to(results).as_posix()
        entry = tables.get(name)
        if entry is None:
            gaps.append(f"{name}: no entry in provenance.json's tables")
            continue
        gaps += [f"{name}: no {key}" for key in PROVENANCE_KEYS if not entry.get(key)]
    gaps += [f"{name}: named in provenance.json but not in {results}" for name in tables
             if not (results / name).is_file()]
    return gaps


def _f(value: float, digits: int = 2) -> str:
    return "–" if not np.isfinite(value) else f"{value:.{digits}f}"


STAGE_LABELS = {0: "", 1: "paper preset, ", 2: "modified model, "}
"""How the comparison names our networks of each campaign stage (quick preset: no label)."""


def _stage(checkpoint: str) -> int:
    """0 for k24_parity (the quick preset) and the published networks, 1 for k24_paper_preset, 2 for
    k24_inside (the modified model), read from the checkpoint's path."""
    return 1 if "k24_paper_preset" in str(checkpoint) else 2 if "k24_inside" in str(checkpoint) else 0


def tau_net_comparison_markdown(table: pd.DataFrame) -> str:
    """The per-checkpoint table of the section "Our tau_net against the authors'", from
    results/k24/authors_tau_net.csv (``configs/reproduce/authors_tau_net.py``): the paper-style
    mean by the authors' code and by ours on the same activity, the unit-by-unit agreement, the
    spread under rounding, what the mean is made of, and our former optimiser's value."""
    head = ("| network | N | authors' code | ours, same activity | same model, per neuron | ours on their curves "
            "| authors' code under rounding-size changes (min–max) | neurons > 1, authors' code (at the bound) "
            "| authors' code without the bound | median, authors' / ours | 10 % trimmed mean, authors' / ours "
            "| former optimiser |\n"
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
    rows = []
    order = {"multi": 0, "single": 1}
    table = table.assign(sort_curriculum=table["curriculum"].map(order), stage=table["checkpoint"].map(_stage))
    table = table.sort_values(["network", "stage", "sort_curriculum", "n"], kind="stable")
    for r in table.itertuples():
        seed = re.search(r"seed-(\d+)", str(r.checkpoint))
        who = "the paper's" if r.network == "authors" else \
            f"ours, {STAGE_LABELS[r.stage]}seed {seed.group(1) if seed else '?'}"
        rows.append(
            f"| {who} {r.curriculum}-head | {r.n} | {_f(r.authors_paper_mean)} | {_f(r.ours_paper_mean)} "
            f"| {r.same_model_same_activity:.3f} | {'identical' if r.identical_on_their_curves == 1 else _f(r.identical_on_their_curves, 3)} "
            f"| {_f(r.rounding_min)}–{_f(r.rounding_max)} "
            f"| {int(r.authors_n_above_1)} ({int(r.authors_n_at_bound)}) | {_f(r.authors_mean_without_bound)} "
            f"| {_f(r.authors_median)} / {_f(r.ours_median)} | {_f(r.authors_trimmed_mean_10)} / {_f(r.ours_trimmed_mean_10)} "
            f"| {_f(r.batched_paper_mean)} |")
    return head + "\n".join(rows) + "\n"


AGGREGATION_NS = {"multi": (5, 10, 15, 20, 30, 40, 50), "single": (5, 10, 15)}


def aggregation_markdown(timescales: pd.DataFrame) -> str:
    """What the paper-style mean of the committed networks is made of, from timescales.csv: per
    curriculum and N, the mean over networks of the paper's aggregate (AIC tau_net, mean of the
    neurons above one step), the share of neurons it drops (tau_net <= 1) and the 50th, 75th and
    90th percentiles of AIC tau_net over all neurons."""
    head = ("| curriculum | N | networks | paper-style mean | neurons dropped (≤ 1 step) | median | 75th percentile "
            "| 90th percentile |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
    rows = []
    for curriculum, ns in AGGREGATION_NS.items():
        for n in ns:
            g = timescales[(timescales["curriculum"] == curriculum) & (timescales["n"] == n)]
            if g.empty:
                continue
            rows.append(f"| {curriculum}-head | {n} | {len(g)} | {g['tau_net_paper_mean_aic'].mean():.2f} "
                        f"| {g['tau_net_dropped_aic'].mean():.2f} | {g['tau_net_q50_aic'].mean():.2f} "
                        f"| {g['tau_net_q75_aic'].mean():.2f} | {g['tau_net_q90_aic'].mean():.2f} |")
    return head + "\n".join(rows) + "\n"


def _pm(mean: float, sd: float, networks: int) -> str:
    return _f(mean) + (f" ± {_f(sd)}" if networks > 1 else "")


def preset_comparison_markdown(table: pd.DataFrame) -> str:
    """Candidates (c) and (d) of the section "Our tau_net against the authors'", from
    results/k24/preset_comparison.csv (``configs/reproduce/compare_presets.py``): per N and group of
    networks, trained tau, tau_net by the paper's estimator (its mean of the neurons above one step,
    their median and 10 % trimmed mean, the share dropped), ours (median over neurons) and the three
    slowest Jacobian modes; mean ± s.d. (ddof 1) over the networks where there are several."""
    head = ("| networks | N | count | trained τ, mean | trained τ, median | τ_net, paper-style mean "
            "| median of τ_net > 1 | 10 % trimmed mean of τ_net > 1 | neurons dropped (≤ 1 step) "
            "| τ_net, ours, median | slowest Jacobian modes (steps) |\n"
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
    rows = []
    for r in table.sort_values(["n", "group"], ascending=[True, False], kind="stable").itertuples():
        k = int(r.networks)
        seeds = str(r.seeds).split()
        label = f"{r.group}, seed{'s' if len(seeds) > 1 else ''} {', '.join(seeds)}"
        modes = ", ".join(_f(getattr(r, c)) for c in ("jacobian_tau_max", "jacobian_tau_2", "jacobian_tau_3"))
        rows.append(f"| {label} | {r.n} | {k} | {_pm(r.tau_mean, r.tau_mean_sd, k)} | {_pm(r.tau_q50, r.tau_q50_sd, k)} "
                    f"| {_pm(r.tau_net_paper_mean_aic, r.tau_net_paper_mean_aic_sd, k)} "
                    f"| {_pm(r.tau_net_paper_median_aic, r.tau_net_paper_median_aic_sd, k)} "
                    f"| {_pm(r.tau_net_paper_trimmed_mean_aic, r.tau_net_paper_trimmed_mean_aic_sd, k)} "
                    f"| {_pm(r.tau_net_dropped_aic, r.tau_net_dropped_aic_sd, k)} "
                    f"| {_pm(r.tau_net_median, r.tau_net_median_sd, k)} | {modes} |")
    return head + "\n".join(rows) + "\n"


NETWORK_LABELS = {0: "quick preset, seed 0", 1: "paper preset, seed 0", 2: "modified model, seed 0"}
"""How the simulation-seed tables name the network of each campaign stage."""


def simulation_seeds_markdown(table: pd.DataFrame) -> str:
    """The paper-style tau_net of single networks under several simulations, from
    results/k24/simulation_seeds.csv (``configs/reproduce/simulation_seeds.py``): per N and network,
    input rates (drawn from the seed, or fixed) and seed, the paper's estimator by curve_fit (its mean,
    the neurons above one step and at the bound, their median and 10 % trimmed mean) and by the former
    optimiser."""
    head = ("| N | network | the trials' input rates p (min–max) | simulation seed | paper-style mean, curve_fit "
            "| neurons > 1 (at the bound) | median of τ_net > 1 | 10 % trimmed mean of τ_net > 1 "
            "| paper-style mean, former optimiser |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
    rows = []
    table = table.assign(fixed=table["rates"].eq("fixed"), stage=table["checkpoint"].map(_stage))
    table = table.sort_values(["n", "stage", "fixed", "simulation_seed"], kind="stable")
    for r in table.itertuples():
        p = [float(v) for v in str(r.p_sorted).split()]
        which = "the authors' simulation's" if r.fixed else "drawn"
        rates = f"{which} ({min(p):.2f}–{max(p):.2f})"
        rows.append(f"| {r.n} | {NETWORK_LABELS[r.stage]} | {rates} | {r.simulation_seed} | {_f(r.paper_paper_mean)} "
                    f"| {int(r.paper_n_above_1)} ({int(r.paper_n_at_bound)}) | {_f(r.paper_median)} "
                    f"| {_f(r.paper_trimmed_mean_10)} | {_f(r.former_paper_mean)} |")
    return head + "\n".join(rows) + "\n"


def simulation_seeds_summary_markdown(table: pd.DataFrame) -> str:
    """Per N and network, the mean ± s.d. (ddof 1) over the simulations with drawn input rates of
    results/k24/simulation_seeds.csv: the paper-style mean by curve_fit, the median and the 10 %
    trimmed mean of the neurons above one step, and the range of the paper-style mean. Every network
    is simulated with the same seeds (the same rates, bits and initial states), so the rows of one N
    are paired."""
    head = ("| N | network | simulations | paper-style mean, curve_fit (range) | median of τ_net > 1 "
            "| 10 % trimmed mean of τ_net > 1 |\n| --- | --- | --- | --- | --- | --- |\n")
    drawn = table[table["rates"].eq("drawn")].assign(stage=table["checkpoint"].map(_stage))
    rows = []
    for (n, stage), g in drawn.groupby(["n", "stage"], sort=True):
        def pm(column: str) -> str:
            return f"{_f(g[column].mean())} ± {_f(g[column].std(ddof=1))}"
        rows.append(f"| {n} | {NETWORK_LABELS[stage]} | {len(g)} (seeds {', '.join(str(s) for s in sorted(g.simulation_seed))}) "
                    f"| {pm('paper_paper_mean')} ({_f(g.paper_paper_mean.min())}–{_f(g.paper_paper_mean.max())}) "
                    f"| {pm('paper_median')} | {pm('paper_trimmed_mean_10')} |")
    return head + "\n".join(rows) + "\n"


REFIT_GROUPS = {"multi-head": "multi", "single-head": "single"}
"""The groups of results/k24/timescales_refit_rows.csv -> the curriculum of timescales.csv."""


FORMER_TIMESCALES = "timescales_former_optimiser.csv"
"""results/k24's timescale rows as the first campaign's analysis fitted them (the former optimiser),
kept when timescales.csv is re-analysed with ``curve_fit``; until then timescales.csv holds them."""


def former_timescales(results: str | Path) -> pd.DataFrame:
    """The committed networks' timescale rows fitted by the former optimiser: :data:`FORMER_TIMESCALES`
    in ``results`` where it exists, else ``results/timescales.csv``."""
    results = Path(results)
    former = results / FORMER_TIMESCALES
    return pd.read_csv(former if former.is_file() else results / "timescales.csv")


def refit_markdown(timescales: pd.DataFrame, refit: pd.DataFrame) -> str:
    """The campaign's networks analysed again with the fixed estimator, beside their committed rows:
    per network (curriculum, seed) and N in both the former optimiser's rows (:func:`former_timescales`)
    and results/k24/timescales_refit_rows.csv (``configs/reproduce/compare_presets.py
    --name timescales_refit``: the same simulation, the paper's estimator by ``curve_fit``). Trained
    tau and our estimator's median tau_net, which the fix does not touch, show whether the network and
    its simulated activity are the same; the paper-style mean (and its change), the share of neurons
    it drops and the share given two exponentials show what the fix changes."""
    head = ("| curriculum | seed | N | trained τ, mean: committed / retraced | τ_net, ours, median: committed / now "
            "| paper-style mean: former optimiser / curve_fit (change) | neurons dropped (≤ 1 step): former / curve_fit "
            "| two exponentials: former / curve_fit |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
    old = timescales.set_index(["curriculum", "seed", "n"])
    rows = []
    refit = refit.assign(curriculum=refit["group"].map(REFIT_GROUPS))
    for r in refit.sort_values(["curriculum", "seed", "n"], ascending=[True, True, True], kind="stable").itertuples():
        key = (r.curriculum, r.seed, r.n)
        if key not in old.index:
            continue
        o = old.loc[key]
        change = r.tau_net_paper_mean_aic / o.tau_net_paper_mean_aic - 1
        rows.append(f"| {r.curriculum}-head | {r.seed} | {r.n} | {o.tau_mean:.3f} / {r.tau_mean:.3f} "
                    f"| {_f(o.tau_net_median)} / {_f(r.tau_net_median)} "
                    f"| {_f(o.tau_net_paper_mean_aic)} / {_f(r.tau_net_paper_mean_aic)} ({change:+.0%}) "
                    f"| {_f(o.tau_net_dropped_aic)} / {_f(r.tau_net_dropped_aic)} "
                    f"| {_f(o.share_double_aic)} / {_f(r.share_double_aic)} |")
    return head + "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    results = Path(args[0]) if args else Path("results/k24")
    print(aggregation_markdown(pd.read_csv(results / "timescales.csv")))
    if (results / "authors_tau_net.csv").is_file():
        print(tau_net_comparison_markdown(pd.read_csv(results / "authors_tau_net.csv")))
    if (results / "preset_comparison.csv").is_file():
        print(preset_comparison_markdown(pd.read_csv(results / "preset_comparison.csv")))
    if (results / "simulation_seeds.csv").is_file():
        print(simulation_seeds_markdown(pd.read_csv(results / "simulation_seeds.csv")))
        print(simulation_seeds_summary_markdown(pd.read_csv(results / "simulation_seeds.csv")))
    if (results / "timescales_refit_rows.csv").is_file():
        print(refit_markdown(former_timescales(results), pd.read_csv(results / "timescales_refit_rows.csv")),
              end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
