"""The reproduction's result tables (``results/k24``) and the figures drawn from them alone
(docs/reproduction.md).

:func:`collect` turns the sweep roots of the campaign into ``runs.csv`` (one row per trained
network), ``curves.csv`` (one row per network and epoch) and ``timescales.csv`` (one row per network
and analysed N, the rows of :mod:`rnn_timescales.studies.reproduction`) and the tables of every other
sweep analysis run (:mod:`rnn_timescales.experiments.run_tables`), with ``provenance.json``;
where a stage's robustness output lies beside its sweep root (``ROOT.robustness``, written by
``configs/reproduce/run.sh STAGE:robustness``), also ``robustness.csv``, ``forgetting.csv`` and
the retraining tables. :func:`draw_figures` redraws the published figures from those tables, with no
run directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from rnn_timescales.config import RESUMABLE, RunConfig, flatten, read_yaml
from rnn_timescales.errors import ConfigError
from rnn_timescales.io import OutputDir, atomic_write_text
from rnn_timescales.runtime import describe_machine
from rnn_timescales.experiments.robustness_results import (
    robustness_dir, robustness_rows, robustness_summary, robustness_summary_markdown)
from rnn_timescales.experiments.run_tables import add_run_tables, analysis_provenance, write_run_tables
from rnn_timescales.studies.reproduction import ID_COLUMNS, ROWS_DIR

RUN_COLUMNS = [*ID_COLUMNS, "n_reached", "steps", "epochs", "wall_time_s", "budget_s", "budget_epochs", "stop_reason",
               "machine", "revision", "run"]
FIGURES = OutputDir("figures", marker="figures.json", kind="an output of report")


def run_row(run_dir: Path, revision: str = "", machine: str = "") -> dict[str, Any]:
    """The ``runs.csv`` row of one run directory (RUN_COLUMNS); a run still training (no
    ``summary.json``) is described by its metrics so far, with stop_reason ``training``."""
    config = RunConfig.model_validate(read_yaml(run_dir / "config.yaml"))
    summary = json.loads((run_dir / "summary.json").read_text()) if (run_dir / "summary.json").is_file() else {}
    if not summary:
        curve = training_curve(run_dir)
        if not curve.empty:
            last = curve.iloc[-1]
            summary = {"n_max_solved": None if pd.isna(curve["n_solved"].max()) else int(curve["n_solved"].max()),
                       "steps": int(last["step"]), "epochs": int(last["epoch"]), "wall_time_s": float(last["wall_time_s"])}
    m, t = config.model, config.training
    return {
        "task": config.task.name, "curriculum": config.curriculum.kind, "model": m.type, "train_tau": m.train_tau,
        "tau_fixed": np.nan if m.train_tau else (m.tau_init if m.tau_init is not None else np.nan),
        "seed": config.seed, "hidden": m.hidden_size, "preset": config.preset, "precision": m.precision,
        "n_reached": summary.get("n_max_solved"), "steps": summary.get("steps"), "epochs": summary.get("epochs"),
        "wall_time_s": summary.get("wall_time_s"), "budget_s": t.time_budget_s, "budget_epochs": t.max_epochs,
        "stop_reason": summary.get("stop_reason", "training"), "machine": machine, "revision": revision,
        "run": run_dir.name,
    }


CURVE_COLUMNS = ["epoch", "step", "n_max", "n_solved", "accuracy_mean", "accuracy_newest", "tau_mean", "wall_time_s"]


def training_curve(run_dir: Path) -> pd.DataFrame:
    """One row per epoch of a run: CURVE_COLUMNS, ``n_solved`` the largest N solved so far (NaN
    before the first)."""
    path = run_dir / "metrics.csv"
    if not path.is_file():
        return pd.DataFrame(columns=CURVE_COLUMNS)
    m = pd.read_csv(path)
    solved = m["n_max"].where(m["solved"].astype(bool))
    m["n_solved"] = solved.cummax().ffill()  # held between the epochs that solve a level
    return m[CURVE_COLUMNS]


def root_revision(root: Path) -> str:
    """The revision a campaign stage ran at: the first line of ``ROOT.revision`` beside the sweep
    root (written by ``configs/reproduce/run.sh``), else ''."""
    record = root.parent / f"{root.name}.revision"
    if not record.is_file():
        return ""
    lines = record.read_text().split()
    return lines[0] if lines else ""


def check_roots(roots: Iterable[str | Path]) -> list[Path]:
    """The sweep roots to collect, each a directory holding run directories; ConfigError (one line)
    naming the first that is not."""
    checked = []
    for root in (Path(r) for r in roots):
        if not root.is_dir():
            raise ConfigError(f"{str(root)!r} is not a directory; give sweep directories to collect")
        if not any((p / "config.yaml").is_file() for p in root.iterdir()):
            raise ConfigError(f"{str(root)!r} holds no run directories (no config.yaml in its subdirectories); "
                              "give sweep directories to collect")
        checked.append(root)
    if not checked:
        raise ConfigError("no sweep directories to collect")
    return checked


def collect(roots: Iterable[str | Path], out: str | Path, *, revision: str | None = None, machine: str | None = None,
            command: str = "", known_runs: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Path]:
    """Write ``runs.csv`` (one row per network: per run directory under the sweep ``roots``, but
    see below), ``curves.csv`` (one row per run and epoch: the identifying columns, ``run`` and
    CURVE_COLUMNS) and
    ``timescales.csv`` (one row per run and analysed N: the run's identifying columns and
    :func:`network_timescales`'s row) and the robustness tables beside each root (whose networks may
    be runs of any of the ``roots``: a stage's robustness output can compare its networks with another
    stage's) into ``out``, with ``provenance.json`` (command, machine,
    each root with its training and analysis revisions, and ``tables``: every table's command,
    revision and settings). ``revision`` names the code every root ran at; None reads
    each root's own record (:func:`root_revision`). Runs still training are listed with
    stop_reason ``training``. Runs of one network (:func:`network_key`: a stage that retraces another's
    runs further) are one row of ``runs.csv`` and one curve, those of its run with the most steps,
    under whose name every table lists the network (its timescales at an N both analysed are that
    run's); ``provenance.json``'s ``continued`` maps the other runs' directories to its.
    ``known_runs`` (run name -> its row of an earlier ``runs.csv``) identifies the robustness rows of
    networks no root holds (a robustness stage that compared its networks with runs collected on
    another machine); without it those rows are left out. Each file is replaced atomically; other
    files in ``out`` are kept."""
    machine = machine if machine is not None else describe_machine()
    roots = check_roots(roots)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output path {str(out)!r} is a file; give a directory for the result tables")
    revisions = {root: revision if revision is not None else root_revision(root) for root in roots}
    runs, rows, curves = [], [], []
    row_settings: set[str] = set()
    robustness: dict[str, list[pd.DataFrame]] = {}
    analyses: dict[str, tuple[str, list[pd.DataFrame]]] = {}  # every sweep analysis's tables (run_tables)
    provenance_roots, root_runs, robustness_dirs = [], {}, []
    found = [(root, d, run_row(d, revisions[root], machine)) for root in roots
             for d in sorted(p for p in root.iterdir() if (p / "config.yaml").is_file())]
    keys = {run_dir: network_key(run_dir) for _, run_dir, _ in found}
    fullest: dict[str, tuple[Path, dict[str, Any]]] = {}  # network -> its run with the most steps (a tie: later)
    for _, run_dir, run in found:
        if keys[run_dir] not in fullest or _steps(run) >= _steps(fullest[keys[run_dir]][1]):
            fullest[keys[run_dir]] = (run_dir, run)
    kept = {d: fullest[key][1] for d, key in keys.items()}  # run directory -> its network's fullest run
    continued = {d: fullest[key][0] for d, key in keys.items() if fullest[key][0] != d}  # ... and its directory
    for root, run_dir, run in found:
        root_runs.setdefault(root, {})[run["run"]] = kept[run_dir]
        ids = {**{k: run[k] for k in ID_COLUMNS}, "run": kept[run_dir]["run"]}
        if kept[run_dir] is run:
            runs.append(run)
            curve = training_curve(run_dir)
            for i, (k, v) in enumerate(ids.items()):
                curve.insert(i, k, v)
            curves.append(curve)
        for path in sorted((run_dir / ROWS_DIR).glob("N*.json"), key=lambda p: int(p.stem[1:])):
            saved = json.loads(path.read_text())
            rows.append({**ids, **saved["row"], "_fullest": kept[run_dir] is run,
                         "_network": str(continued.get(run_dir, run_dir))})
            row_settings.add(json.dumps(saved.get("settings", {}), sort_keys=True))
        add_run_tables(analyses, run_dir, ids)
    for root in roots:
        entry = {"path": str(root), "revision": revisions[root]}
        for mode in ("analyze", "post"):  # run.sh STAGE:analyze's and STAGE:post's records
            if revision := root_revision(root.parent / f"{root.name}.{mode}"):
                entry["analysis_revision" if mode == "analyze" else "post_revision"] = revision
        rob = robustness_dir(root)
        if rob is not None:
            robustness_dirs.append((root, rob))
            stage = root.parent / f"{root.name}.robustness"  # its revision record: STAGE.robustness.revision
            entry["robustness"] = {"path": str(rob), "revision": root_revision(stage)}
        provenance_roots.append(entry)
    everyone = {**(known_runs or {}), **{name: run for runs_of in root_runs.values() for name, run in runs_of.items()}}
    for root, rob in robustness_dirs:  # its networks may be any root's (the root's own first, by name)
        for name, table in robustness_rows(rob, {**everyone, **root_runs.get(root, {})}).items():
            robustness.setdefault(name, []).append(table)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"runs": out / "runs.csv", "curves": out / "curves.csv", "timescales": out / "timescales.csv",
             "provenance": out / "provenance.json"}
    atomic_write_text(paths["runs"], pd.DataFrame(runs, columns=RUN_COLUMNS).to_csv(index=False))
    atomic_write_text(paths["curves"], (pd.concat(curves, ignore_index=True) if curves else
                                        pd.DataFrame(columns=[*ID_COLUMNS, "run", *CURVE_COLUMNS])).to_csv(index=False))
    timescales = pd.DataFrame(rows, columns=None if rows else [*ID_COLUMNS, "run", "n", "_fullest", "_network"])
    timescales = timescales.sort_values("_fullest", kind="stable").drop_duplicates(["_network", "n"], keep="last")
    atomic_write_text(paths["timescales"], timescales.sort_index().drop(columns=["_fullest", "_network"])
                      .to_csv(index=False))
    for name, tables in robustness.items():
        paths[name] = out / f"{name}.csv"
        atomic_write_text(paths[name], pd.concat(tables, ignore_index=True).to_csv(index=False))
    distinct = sorted(set(revisions.values()))
    tables = _table_provenance(paths, provenance_roots, row_settings, command)
    paths.update(write_run_tables(analyses, out))
    tables.update(analysis_provenance(analyses, provenance_roots, command))
    atomic_write_text(paths["provenance"], json.dumps({
        "command": command, "revision": distinct[0] if len(distinct) == 1 else "", "machine": machine,
        "roots": provenance_roots, "tables": tables,
        "continued": {str(d): str(by) for d, by in continued.items()}}, indent=2))
    return paths


def network_key(run_dir: Path) -> str:
    """What makes runs one network: the run's configuration without the settings a resumed run may
    change (:data:`~rnn_timescales.config.RESUMABLE`: budgets and guards). Training is deterministic
    for a configuration, so a stage that trains the same configuration further (``k24_single_long``
    for ``k24_parity``'s single-head runs) retraces the same network past where the other stopped."""
    settings = flatten(read_yaml(run_dir / "config.yaml"))
    return json.dumps({k: v for k, v in settings.items() if k not in RESUMABLE}, sort_keys=True, default=str)


def _steps(run: dict[str, Any]) -> float:
    return -1.0 if run["steps"] is None or pd.isna(run["steps"]) else float(run["steps"])


def _table_provenance(paths: dict[str, Path], roots: list[dict], row_settings: set[str], command: str) -> dict[str, dict]:
    """provenance.json's ``tables``: for every table ``collect`` writes, the command, revision and
    settings of the stage that made it (training: each root's revision and sweep spec; timescales:
    the analysis stage's revision and the distinct simulation settings of its rows; robustness: the
    robustness stage's revision and output). Entries of the previous provenance.json for tables
    ``collect`` does not write (tables added by other scripts) are kept."""
    previous = paths["provenance"]
    try:
        kept = json.loads(previous.read_text()).get("tables", {}) if previous.is_file() else {}
    except json.JSONDecodeError:
        kept = {}
    by_root = lambda key: {r["path"]: r.get(key, "") for r in roots}  # noqa: E731
    training = {"command": f"rnn-timescales sweep SPEC --out ROOT (per root), then {command}".strip(),
                "revision": by_root("revision"), "settings": {r["path"]: f"{r['path']}/sweep.yaml" for r in roots}}
    settings = [json.loads(t) for t in sorted(row_settings)]
    tables = {name: entry for name, entry in kept.items() if name not in {p.name for p in paths.values()}}
    tables["runs.csv"] = dict(training)
    tables["curves.csv"] = dict(training)
    tables["timescales.csv"] = {"command": "rnn-timescales sweep analyze ROOT --set analyze.reproduction={...} "
                                           f"(per root), then {command}".strip(),
                                "revision": {r["path"]: r.get("analysis_revision") or r["revision"] for r in roots},
                                "settings": settings or "no analysed rows"}
    for name, path in paths.items():
        if name in ("runs", "curves", "timescales", "provenance"):
            continue
        rob = [r["robustness"] for r in roots if "robustness" in r]
        tables[path.name] = {"command": f"rnn-timescales robustness ROOT --out ROOT.robustness (per root), then {command}"
                                        .strip(), "revision": {r["path"]: r["revision"] for r in rob},
                             "settings": {r["path"]: "the options recorded in this directory" for r in rob}}
    return tables


def aggregate_by_n(table: pd.DataFrame, columns: Sequence[str], by: Sequence[str] = ("task", "curriculum"),
                   ddof: int = 1) -> pd.DataFrame:
    """Mean, s.d. (``ddof``) and count across networks of each column, per group and N (the paper's
    second step), as columns ``COLUMN_mean``, ``COLUMN_std``, ``COLUMN_count``."""
    grouped = table.groupby([*by, "n"])[list(columns)]
    out = grouped.agg(["mean", lambda x: x.std(ddof=ddof), "count"])
    out.columns = [f"{c}_{'std' if stat.startswith('<lambda') else stat}" for c, stat in out.columns]
    return out.reset_index()


SUMMARY_COLUMNS = ["tau_mean", "tau_max", "tau_net_median", "tau_net_paper_mean", "tau_net_dropped",
                   "tau_net_paper_mean_aic", "tau_net_dropped_aic", "share_double", "share_double_aic",
                   "tau_jump_median", "tau_jump_none", "iat_median", "population_tau_net", "jacobian_tau_max",
                   "dimensionality"]
"""The columns of ``timescales.csv`` summarised per N across networks (``TASK_timescales_by_n``)."""


def timescales_by_n(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, s.d. (ddof 1) and count across networks of SUMMARY_COLUMNS, per task, curriculum,
    model, trained-or-fixed tau and N: the numbers docs/reproduction.md quotes."""
    columns = [c for c in SUMMARY_COLUMNS if c in table]
    out = aggregate_by_n(table, columns, by=("task", "curriculum", "model", "train_tau"), ddof=1)
    return out.rename(columns={f"{c}_std": f"{c}_sd" for c in columns})


def fixed_tau_budget(curves: pd.DataFrame) -> int | None:
    """The training budget of the fixed-τ runs ([K24] Fig. 4a), in steps: the most steps any of
    them trained; None when ``curves`` has no fixed-τ run."""
    fixed = curves[~curves["train_tau"].astype(bool)]
    return None if fixed.empty else int(fixed["step"].max())


def n_at_budget(curves: pd.DataFrame, budget_steps: int) -> pd.DataFrame:
    """The largest N each run had solved within its first ``budget_steps`` training steps, summarised
    per task, curriculum and trained-or-fixed τ: trained against fixed τ at one budget ([K24] Fig. 4a).

    ``curves``: ``curves.csv`` (one row per run and epoch). Returns one row per condition: ``task,
    curriculum, model, train_tau, tau_fixed, budget_steps, n_mean, n_sd`` (ddof 1), ``n_min, n_max,
    networks, values`` (each run's N, by seed; 1 where a run had solved nothing) and ``complete``
    (whether every run trained the whole budget: a run still short of it is a lower bound)."""
    rows = []
    for run, c in curves.groupby("run", sort=False):
        within = c[c["step"] <= budget_steps]
        solved = within["n_solved"].max() if not within.empty else np.nan
        rows.append({**{k: c[k].iloc[0] for k in ("task", "curriculum", "model", "train_tau", "tau_fixed", "seed")},
                     "n": 1 if pd.isna(solved) else int(solved), "trained": int(c["step"].max())})
    per_run = pd.DataFrame(rows)
    by = ["task", "curriculum", "model", "train_tau", "tau_fixed"]
    out = []
    for key, g in per_run.sort_values("seed").groupby(by, sort=False, dropna=False):
        out.append({**dict(zip(by, key)), "budget_steps": budget_steps, "n_mean": g["n"].mean(),
                    "n_sd": g["n"].std(ddof=1), "n_min": g["n"].min(), "n_max": g["n"].max(), "networks": len(g),
                    "values": " ".join(str(v) for v in g["n"]), "complete": bool((g["trained"] >= budget_steps).all())})
    return pd.DataFrame(out).sort_values(["task", "curriculum", "train_tau", "tau_fixed"], ignore_index=True)


def n_at_budget_markdown(table: pd.DataFrame) -> str:
    """:func:`n_at_budget` as a markdown table: one row per condition."""
    lines = [f"Largest N solved within {int(table['budget_steps'].iloc[0])} training steps (mean ± s.d. across "
             "networks; each network's N by seed)\n",
             "| task | curriculum | τ | N | networks | each |", "| --- | --- | --- | --- | --- | --- |"]
    for r in table.itertuples():
        tau = "trained" if r.train_tau else f"fixed at {r.tau_fixed:g}"
        bound = "" if r.complete else " (a run short of the budget: lower bound)"
        spread = "" if pd.isna(r.n_sd) else f" ± {r.n_sd:.1f}"  # one network: no spread
        lines.append(f"| {r.task} | {r.curriculum} | {tau} | {r.n_mean:.1f}{spread}{bound} | {r.networks} | "
                     f"{r.values} |")
    return "\n".join(lines) + "\n"


def timescales_by_n_markdown(summary: pd.DataFrame) -> str:
    """:func:`timescales_by_n` as one markdown table per curriculum: N across, "mean ± s.d. (networks)"."""
    parts = []
    for (curriculum, model, train_tau), g in summary.groupby(["curriculum", "model", "train_tau"], sort=False):
        g = g.sort_values("n")
        parts.append(f"**{curriculum}** ({model}, τ {'trained' if train_tau else 'fixed'})\n")
        parts.append("| | " + " | ".join(f"N = {n}" for n in g["n"]) + " |")
        parts.append("| --- " * (len(g) + 1) + "|")
        for c in SUMMARY_COLUMNS:
            if f"{c}_mean" not in g:
                continue
            cells = [("–" if pd.isna(m) else f"{m:.2f} ± {0.0 if pd.isna(sd) else sd:.2f} ({int(k)})")
                     for m, sd, k in zip(g[f"{c}_mean"], g[f"{c}_sd"], g[f"{c}_count"])]
            parts.append(f"| {c} | " + " | ".join(cells) + " |")
        parts.append("")
    return "\n".join(parts)


def is_results_dir(path: str | Path) -> bool:
    """Whether ``path`` holds the reproduction's result tables (``runs.csv`` and ``timescales.csv``)."""
    p = Path(path)
    return (p / "runs.csv").is_file() and (p / "timescales.csv").is_file()


def _robustness_figures(results: Path, figures: Any) -> list[tuple[str, Any]]:
    """The robustness figures of a results directory, per task: perturbation and ablation (with the
    paper's numbers beside ours where ``paper_robustness.csv`` is there), forgetting, retraining and
    the continuous-time test."""
    drawn: list[tuple[str, Any]] = []

    def read(name: str) -> pd.DataFrame:
        path = results / f"{name}.csv"
        return pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=["task"])

    rob, paper = read("robustness"), read("paper_robustness")
    for task, group in rob.groupby("task"):
        p = paper[paper["task"] == task] if not paper.empty else None
        if group["kind"].isin(["perturb-w", "perturb-tau"]).any():
            drawn.append((f"{task}_perturbation", lambda g=group, p=p: figures.perturbation(g, p)))
        if (group["kind"] == "ablation").any():
            drawn.append((f"{task}_ablation", lambda g=group, p=p: figures.ablation(g, p)))
    scores = read("forgetting_scores")
    for task, group in scores.groupby("task"):
        if group["retained"].notna().any():
            drawn.append((f"{task}_forgetting", lambda g=group: figures.forgetting(g)))
    for task, group in read("retrain").groupby("task"):
        drawn.append((f"{task}_retraining", lambda g=group: figures.retraining(g)))
    for task, group in read("continuous").groupby("task"):
        drawn.append((f"{task}_continuous", lambda g=group: figures.continuous(g)))
    return drawn


def draw_figures(results: str | Path, out: str | Path) -> list[Path]:
    """Redraw the published figures of a results directory (``results/k24``, ``results/h19``) from its
    tables alone into ``out`` (replaced as a whole; ``figures.json`` lists what was drawn from what),
    with the per-N summary of the timescales across networks (``TASK_timescales_by_n.csv``, ``.md``),
    where fixed-τ runs are among the curves, the largest N at their budget (``TASK_n_at_budget``),
    where robustness tables are there, the numbers quoted from them (``TASK_robustness_summary``), and
    where delayed-recall tables are there, [H19]'s figures and summaries (:mod:`.recall_results`)."""
    import matplotlib.pyplot as plt

    from rnn_timescales.experiments.recall_results import recall_figures, write_recall_tables
    from rnn_timescales.experiments.robustness_tests import robustness_tests, robustness_tests_markdown
    from rnn_timescales.plots import delayed_recall, reproduction as figures

    results = Path(results)
    if not is_results_dir(results):
        raise ConfigError(f"{str(results)!r} holds no result tables (runs.csv and timescales.csv); give a results "
                          "directory such as results/k24")
    table = pd.read_csv(results / "timescales.csv")
    curves = pd.read_csv(results / "curves.csv") if (results / "curves.csv").is_file() else None
    drawn: list[tuple[str, Any]] = []
    if not table.empty:
        for task, group in table.groupby("task"):
            parity_tau = group[group["model"] == "leaky_rnn"]
            if not parity_tau.empty:
                drawn += [(f"{task}_timescales_vs_n", lambda g=parity_tau: figures.timescales_vs_n(g)),
                          (f"{task}_estimators_vs_n", lambda g=parity_tau: figures.estimators_vs_n(g)),
                          (f"{task}_dynamics_vs_n", lambda g=parity_tau: figures.dynamics_vs_n(g))]
    budgets: dict[str, int] = {}
    if curves is not None and not curves.empty:
        for task, group in curves.groupby("task"):
            if group["n_solved"].isna().all() and group.get("n_max", group["n_solved"]).isna().all():
                continue  # a task without N (delayed recall): curves.csv holds no level to draw
            budget = fixed_tau_budget(group)
            if budget is not None:
                budgets[task] = budget
            drawn.append((f"{task}_n_vs_steps", lambda g=group, b=budget: figures.n_vs_steps(g, budget=b)))
    drawn += _robustness_figures(results, figures) + recall_figures(results, delayed_recall)

    def fill(tmp: Path) -> list[str]:
        names = []
        for name, make in drawn:
            fig = make()
            fig.savefig(tmp / f"{name}.png", dpi=110)
            plt.close(fig)
            names.append(f"{name}.png")
        for task, group in table.groupby("task") if not table.empty else ():
            summary = timescales_by_n(group)
            atomic_write_text(tmp / f"{task}_timescales_by_n.csv", summary.to_csv(index=False))
            atomic_write_text(tmp / f"{task}_timescales_by_n.md", timescales_by_n_markdown(summary))
            names += [f"{task}_timescales_by_n.csv", f"{task}_timescales_by_n.md"]
        rob, retrain = (pd.read_csv(results / f) if (results / f).is_file() else pd.DataFrame(columns=["task"])
                        for f in ("robustness.csv", "retrain_summary.csv"))
        for task in sorted(set(rob["task"]) | set(retrain["task"])):
            summary = robustness_summary(rob[rob["task"] == task], retrain[retrain["task"] == task])
            atomic_write_text(tmp / f"{task}_robustness_summary.csv", summary.to_csv(index=False))
            atomic_write_text(tmp / f"{task}_robustness_summary.md", robustness_summary_markdown(summary))
            names += [f"{task}_robustness_summary.csv", f"{task}_robustness_summary.md"]
            if not rob.empty:  # the significance of the comparisons the summary's numbers make
                tests = robustness_tests(rob[rob["task"] == task])
                atomic_write_text(tmp / f"{task}_robustness_tests.csv", tests.to_csv(index=False))
                atomic_write_text(tmp / f"{task}_robustness_tests.md", robustness_tests_markdown(tests))
                names += [f"{task}_robustness_tests.csv", f"{task}_robustness_tests.md"]
        for task, budget in budgets.items():
            at = n_at_budget(curves[curves["task"] == task], budget)
            atomic_write_text(tmp / f"{task}_n_at_budget.csv", at.to_csv(index=False))
            atomic_write_text(tmp / f"{task}_n_at_budget.md", n_at_budget_markdown(at))
            names += [f"{task}_n_at_budget.csv", f"{task}_n_at_budget.md"]
        names += write_recall_tables(results, tmp)
        atomic_write_text(tmp / FIGURES.marker, json.dumps({"results": str(results), "figures": names}, indent=2))
        return names

    names = FIGURES.write(out, fill)
    return [Path(out) / n for n in names]
