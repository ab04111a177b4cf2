"""The robustness tables of the reproduction's results directory: what ``sweep collect`` gathers
from a stage's robustness output (``robustness.csv`` in the long form of :data:`ROBUSTNESS_COLUMNS`,
and :data:`ROBUSTNESS_TABLES` carried over), each row led by its network's identifying columns, and
the numbers docs/reproduction.md quotes from them (:func:`robustness_summary`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from rnn_timescales.studies.reproduction import ID_COLUMNS

ROBUSTNESS_COLUMNS = [*ID_COLUMNS, "run", "n", "kind", "epsilon_or_group", "mode", "repeat", "head", "neuron", "tau",
                      "accuracy", "relative_accuracy", "relative_accuracy_mean_baseline"]
"""``robustness.csv``: one row per network, perturbation (or ablated neuron) and repeat."""
ROBUSTNESS_TABLES = {"forgetting": "forgetting.csv", "forgetting_scores": "forgetting_scores.csv",
                     "retrain": "retrain.csv", "retrain_summary": "retrain_summary.csv", "continuous": "continuous.csv"}
"""The other robustness tables carried over as they are, with the networks' identifying columns."""


def robustness_dir(root: Path) -> Path | None:
    """The robustness output of a campaign stage beside the sweep root, if it holds any table:
    ``ROOT.robustness/robustness`` (what ``rnn-timescales robustness --out ROOT.robustness`` writes,
    as ``run.sh STAGE:robustness`` runs it), else ``ROOT.robustness`` itself."""
    base = root.parent / f"{root.name}.robustness"
    for d in (base / "robustness", base):
        if d.is_dir() and any(d.glob("*.csv")):
            return d
    return None


def _mean_baseline(table: pd.DataFrame, keys: list[str], intact: pd.Series) -> pd.Series:
    """(accuracy - 1/2) / (mean over repeats of the intact network's accuracy - 1/2), per ``keys``
    group: the paper's pickles' normalisation (NaN where the intact network is at chance)."""
    from rnn_timescales.analysis.robustness.streams import relative_accuracy

    base = table[intact].groupby(keys)["accuracy"].mean().rename("base")
    b = table[keys].merge(base, left_on=keys, right_index=True, how="left")["base"].to_numpy()
    return pd.Series(relative_accuracy(table["accuracy"].to_numpy(), b), index=table.index)


def robustness_rows(directory: Path, runs: dict[str, dict[str, Any]]) -> dict[str, pd.DataFrame]:
    """The robustness tables of one ``rnn-timescales robustness`` output over the networks ``runs``
    (the network's name in the output, a run name -> the runs.csv row it is listed under, whose
    ``run`` names it in the tables): ``robustness`` (perturbation and ablation rows in the long form of
    ROBUSTNESS_COLUMNS; ``epsilon_or_group`` the perturbation's epsilon or the ablation group, with
    ``none`` the intact network) and each of ROBUSTNESS_TABLES that exists, every row led by its
    network's identifying columns and ``run``. Rows of networks not in ``runs`` are dropped."""

    def identify(t: pd.DataFrame) -> pd.DataFrame:
        t = t[t["network"].isin(runs)].drop(columns=[c for c in ("curriculum", "task", "run") if c in t])
        ids = pd.DataFrame([{**{k: runs[net][k] for k in ID_COLUMNS}, "run": runs[net]["run"]}
                            for net in t["network"]],
                           index=t.index, columns=[*ID_COLUMNS, "run"])
        return pd.concat([ids, t.drop(columns="network")], axis=1)

    out: dict[str, pd.DataFrame] = {}
    parts = []
    if (directory / "perturbation.csv").is_file():
        p = identify(pd.read_csv(directory / "perturbation.csv"))
        p["relative_accuracy_mean_baseline"] = _mean_baseline(p, ["run", "kind", "n", "head"], p["epsilon"] == 0)
        parts.append(p.rename(columns={"epsilon": "epsilon_or_group"}))
    if (directory / "ablation.csv").is_file():
        a = identify(pd.read_csv(directory / "ablation.csv"))
        a["relative_accuracy_mean_baseline"] = _mean_baseline(a, ["run", "n", "head"], a["group"] == "none")
        a["kind"] = "ablation"
        parts.append(a.rename(columns={"group": "epsilon_or_group"}))
    if parts:
        out["robustness"] = pd.concat(parts, ignore_index=True).reindex(columns=ROBUSTNESS_COLUMNS)
    for name, file in ROBUSTNESS_TABLES.items():
        if (directory / file).is_file():
            out[name] = identify(pd.read_csv(directory / file))
    return out


def robustness_summary(robustness: pd.DataFrame, retrain_summary: pd.DataFrame) -> pd.DataFrame:
    """The robustness numbers docs/reproduction.md quotes, one row per curriculum, N, measure and
    condition: ``curriculum, n, measure, condition, mean, sd, count, each`` (per network first, then
    across networks, as the figures draw them: ``plots.reproduction.per_network``). Measures:
    ``perturb-w`` / ``perturb-tau`` (relative accuracy with the intact repeats' mean as baseline, per
    ε), ``ablation`` (accuracy, per group: none, short, long), and from the retraining
    ``accuracy_before`` / ``accuracy_after`` / ``epochs_to_recover`` (per change)."""
    from rnn_timescales.plots.reproduction import per_network

    parts = []
    if not robustness.empty:
        for kind in ("perturb-w", "perturb-tau"):
            rows = robustness[robustness["kind"] == kind].assign(
                epsilon=lambda t: t["epsilon_or_group"].astype(float))
            rows = rows[rows["epsilon"] > 0]
            if not rows.empty:
                t = per_network(rows, ["n", "epsilon"], "relative_accuracy_mean_baseline").sort_values(
                    ["curriculum", "n", "epsilon"], kind="stable")
                parts.append(t.assign(measure=kind, condition=[f"ε = {e:.3g}" for e in t["epsilon"]]))
        rows = robustness[robustness["kind"] == "ablation"]
        if not rows.empty:
            t = per_network(rows, ["n", "epsilon_or_group"], "accuracy")
            parts.append(t.rename(columns={"epsilon_or_group": "condition"}).assign(measure="ablation"))
    if not retrain_summary.empty:
        rs = retrain_summary.assign(condition=[c if pd.isna(e) else f"{c} {e:g}" for c, e in
                                               zip(retrain_summary["change"], retrain_summary["epsilon"])])
        for column in ("accuracy_before", "accuracy_after", "epochs_to_recover"):
            t = per_network(rs.rename(columns={"n_max": "n"}), ["n", "condition"], column)
            parts.append(t.assign(measure=column))
    columns = ["curriculum", "n", "measure", "condition", "mean", "sd", "count", "each"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def robustness_summary_markdown(summary: pd.DataFrame) -> str:
    """:func:`robustness_summary` as one markdown table: "mean ± s.d. (networks): each"."""
    lines = ["| measure | condition | N | curriculum | mean ± s.d. (networks) | each network |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in summary.itertuples():
        lines.append(f"| {r.measure} | {r.condition} | {r.n} | {r.curriculum} | {r.mean:.2f} ± {r.sd:.2f} "
                     f"({r.count}) | {r.each} |")
    return "\n".join(lines) + "\n"
