"""The reproduction's per-network rows (both estimators, both aggregations, model-free measures), their
sweep analysis, and the result tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sweep_testing import write_spec

from rnn_timescales.cli import main
from rnn_timescales.errors import ConfigError
from rnn_timescales.experiments.results import RUN_COLUMNS, aggregate_by_n, collect
from rnn_timescales.analysis.autocorrelation import integrated_time
from rnn_timescales.studies.reproduction import ID_COLUMNS, ROWS_DIR, ReproductionSettings
from rnn_timescales.experiments.sweep import load_spec, run_sweep

SMALL = {"n_trials": 2, "n_steps": 400, "max_lag": 40, "fit_lag": 20, "n_points": 2, "n_slowest": 2}


def test_integrated_time_of_an_exponential_is_its_timescale():
    k = np.arange(400)
    rho = np.stack([np.exp(-k / 5.0), np.exp(-k / 1.0), np.r_[1.0, 0.5, -0.1, 0.4, np.zeros(396)]])
    iat = integrated_time(rho)
    assert iat[0] == pytest.approx(1 / (1 - np.exp(-1 / 5)) - 0.5)  # 5.017
    assert iat[1] == pytest.approx(1 / (1 - np.exp(-1)) - 0.5)  # 1.082
    assert iat[2] == pytest.approx(1.0 + 0.5 - 0.5)  # stops at the first lag at or below zero


def test_settings_are_validated_in_one_line():
    assert ReproductionSettings.from_mapping({"ns": [10, 2, 2]}, "here").ns == (2, 10)
    with pytest.raises(ConfigError, match="here: unknown setting 'n_trial'"):
        ReproductionSettings.from_mapping({"n_trial": 3}, "here")
    with pytest.raises(ConfigError, match="ns must be a list of integers"):
        ReproductionSettings.from_mapping({"ns": [1]}, "here")
    with pytest.raises(ConfigError, match="n_trials must be an integer of at least 2"):
        ReproductionSettings.from_mapping({"n_trials": 1}, "here")


def test_a_sweep_analysis_makes_rows_resumably_and_collect_tabulates_them(tmp_path):
    spec_file = write_spec(tmp_path / "spec.yaml", base={"training": {"max_epochs": 4}},
                           grid={"curriculum.kind": ["single", "multi"]},
                           analyze={"reproduction": {**SMALL, "ns": [2, 3]}})
    root = tmp_path / "sweep"
    result = run_sweep(load_spec(spec_file), root, workers=1, progress=False)
    assert result.counts["done"] == 2
    for run in ("curriculum-single", "curriculum-multi"):
        rows = sorted((root / run / ROWS_DIR).glob("N*.json"))
        assert rows, run
        saved = json.loads(rows[0].read_text())
        assert saved["settings"]["n_steps"] == 400 and saved["row"]["n"] == int(rows[0].stem[1:])
    # a second pass finds every row current and redoes none
    before = {p: p.stat().st_mtime_ns for p in root.rglob("N*.json")}
    again = run_sweep(load_spec(spec_file), root, workers=1, progress=False)
    assert again.ran == 0
    assert {p: p.stat().st_mtime_ns for p in root.rglob("N*.json")} == before

    paths = collect([root], tmp_path / "results", revision="abc", machine="test", command="cmd")
    runs = pd.read_csv(paths["runs"])
    assert list(runs.columns) == RUN_COLUMNS and set(runs["curriculum"]) == {"single", "multi"}
    table = pd.read_csv(paths["timescales"])
    for column in [*ID_COLUMNS, "n", "tau_mean", "tau_std", "tau_max", "tau_net_median", "tau_net_paper_mean",
                   "tau_net_dropped", "tau_net_median_aic", "tau_net_paper_mean_aic", "tau_net_dropped_aic",
                   "tau_jump_median", "tau_jump_paper_mean", "tau_jump_none", "jump_weight_median",
                   "population_tau_net", "jacobian_tau_max", "dimensionality", "iat_median", "ac_lag5_median",
                   "share_double", "share_double_aic"]:
        assert column in table, column
    assert table["tau_net_dropped"].between(0, 1).all() and (table["tau_mean"] >= 1).all()
    # the paper's aggregation averages only neurons above one step
    above = table.dropna(subset=["tau_net_paper_mean"])
    assert (above["tau_net_paper_mean"] > 1).all()
    agg = aggregate_by_n(table, ["tau_mean"])
    assert {"tau_mean_mean", "tau_mean_std", "tau_mean_count"} <= set(agg.columns)
    assert json.loads(paths["provenance"].read_text())["revision"] == "abc"
    # the command line: each root's revision from the campaign runner's record beside it
    (tmp_path / "sweep.revision").write_text("f00d\n")
    assert main(["sweep", "collect", str(root), "--out", str(tmp_path / "cli")]) == 0
    provenance = json.loads((tmp_path / "cli" / "provenance.json").read_text())
    assert provenance["revision"] == "f00d" and provenance["roots"] == [{"path": str(root), "revision": "f00d"}]
    assert provenance["command"].startswith("rnn-timescales sweep collect") or provenance["command"] == ""
    assert (pd.read_csv(tmp_path / "cli" / "runs.csv")["revision"] == "f00d").all()
    curves = pd.read_csv(paths["curves"])
    assert set(curves["run"]) == set(runs["run"]) and curves.groupby("run")["n_solved"].apply(
        lambda s: s.dropna().is_monotonic_increasing).all()

    # the figures are redrawn from the tables alone: the run directories are not needed
    import shutil

    shutil.rmtree(root)
    assert main(["report", str(tmp_path / "results"), "--out", str(tmp_path / "figures")]) == 0
    drawn = json.loads((tmp_path / "figures" / "figures.json").read_text())["figures"]
    assert set(drawn) == {"parity_timescales_vs_n.png", "parity_estimators_vs_n.png", "parity_dynamics_vs_n.png",
                          "parity_n_vs_steps.png", "parity_timescales_by_n.csv", "parity_timescales_by_n.md"}
    assert all((tmp_path / "figures" / name).stat().st_size > 10_000 for name in drawn if name.endswith(".png"))
    # the per-N summary across networks: one row per curriculum and N, the mean equal to the table's
    summary = pd.read_csv(tmp_path / "figures" / "parity_timescales_by_n.csv")
    assert len(summary) == len(table.groupby(["curriculum", "n"]))
    first = table.sort_values(["curriculum", "n"]).iloc[0]
    row = summary[(summary["curriculum"] == first["curriculum"]) & (summary["n"] == first["n"])].iloc[0]
    assert row["tau_mean_mean"] == pytest.approx(first["tau_mean"]) and row["tau_mean_count"] == 1
    assert "| tau_net_paper_mean_aic |" in (tmp_path / "figures" / "parity_timescales_by_n.md").read_text()


def _fake_run(root, name, seed, curriculum):
    """A run directory as collect reads it (config.yaml alone: no training needed)."""
    import yaml

    from rnn_timescales.config import RunConfig

    (root / name).mkdir(parents=True)
    config = RunConfig.model_validate({"seed": seed, "curriculum": {"kind": curriculum}})
    (root / name / "config.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json")))


def test_collect_carries_the_robustness_tables_with_the_paper_normalisation(tmp_path):
    root = tmp_path / "k24_parity"
    for seed, curriculum in ((0, "multi"), (0, "single")):
        _fake_run(root, f"s{seed}-{curriculum}", seed, curriculum)
    rob = tmp_path / "k24_parity.robustness" / "robustness"  # as `robustness --out k24_parity.robustness` writes
    rob.mkdir(parents=True)
    (tmp_path / "k24_parity.robustness.revision").write_text("cafe\n")
    rows = []
    for net, intact in (("s0-multi", (1.0, 0.9)), ("s0-single", (0.8, 0.7))):
        curriculum = net.split("-")[1]
        for repeat, acc in enumerate(intact):
            rows.append([net, curriculum, "parity", "perturb-w", "normalized", 0.0, repeat, 0, 5, acc, 0.0, 5])
            rows.append([net, curriculum, "parity", "perturb-w", "normalized", 0.5, repeat, 0, 5, 0.6, 0.0, 5])
    rows.append(["not-a-run", "multi", "parity", "perturb-w", "normalized", 0.0, 0, 0, 5, 1.0, 1.0, 5])
    pd.DataFrame(rows, columns=["network", "curriculum", "task", "kind", "mode", "epsilon", "repeat", "head", "n",
                                "accuracy", "relative_accuracy", "n_max"]).to_csv(rob / "perturbation.csv", index=False)
    pd.DataFrame([["s0-single", "single", "parity", "none", -1, 0, -1, "", np.nan, np.nan, 0, 0, 5, 0.75, 1.0, 5],
                  ["s0-single", "single", "parity", "long", 0, 1, 7, "7", 3.0, np.nan, 0, 0, 5, 0.6, 0.4, 5]],
                 columns=["network", "curriculum", "task", "group", "variant", "size", "neuron", "neurons", "tau",
                          "tau_net", "repeat", "head", "n", "accuracy", "relative_accuracy", "n_max"]
                 ).to_csv(rob / "ablation.csv", index=False)
    pd.DataFrame([["s0-single", 3, 2, 0.5, 0.5], ["s0-multi", 3, 2, 1.0, 0.0]],
                 columns=["network", "checkpoint_n", "n_earlier", "retained", "forgetting"]
                 ).to_csv(rob / "forgetting_scores.csv", index=False)

    pd.DataFrame([[net, net.split("-")[1], "parity", k, 0, 5, acc, 5] for net in ("s0-multi", "s0-single")
                  for k, acc in ((1, 1.0), (2, 0.9), (5, 0.7))],
                 columns=["network", "curriculum", "task", "k", "head", "n", "accuracy", "n_max"]
                 ).to_csv(rob / "continuous.csv", index=False)

    paths = collect([root], tmp_path / "results", revision="abc", machine="test")
    table = pd.read_csv(paths["robustness"])
    assert set(table["run"]) == {"s0-multi", "s0-single"}  # rows of networks not in the sweep are dropped
    assert {"task", "curriculum", "seed", "n", "kind", "epsilon_or_group", "relative_accuracy"} <= set(table.columns)
    pert = table[(table["kind"] == "perturb-w") & (pd.to_numeric(table["epsilon_or_group"], errors="coerce") == 0.5)]
    # (0.6 - 0.5) / (mean intact - 0.5): multi 0.1 / 0.45, single 0.1 / 0.25
    got = pert.groupby("curriculum")["relative_accuracy_mean_baseline"].mean()
    assert got["multi"] == pytest.approx(0.1 / 0.45) and got["single"] == pytest.approx(0.1 / 0.25)
    abl = table[table["kind"] == "ablation"].set_index("epsilon_or_group")
    assert abl.loc["long", "relative_accuracy_mean_baseline"] == pytest.approx(0.1 / 0.25)
    assert abl.loc["long", "seed"] == 0 and abl.loc["long", "curriculum"] == "single"
    scores = pd.read_csv(paths["forgetting_scores"])
    assert list(scores.columns[:2]) == ["task", "curriculum"] and len(scores) == 2
    provenance = json.loads(paths["provenance"].read_text())
    assert provenance["roots"][0]["robustness"] == {"path": str(rob), "revision": "cafe"}

    assert main(["report", str(tmp_path / "results"), "--out", str(tmp_path / "figures")]) == 0
    drawn = json.loads((tmp_path / "figures" / "figures.json").read_text())["figures"]
    assert {"parity_perturbation.png", "parity_ablation.png", "parity_forgetting.png",
            "parity_continuous.png"} <= set(drawn)
    assert len(pd.read_csv(paths["continuous"])) == 6


def test_a_slow_component_of_a_handful_of_neurons_is_not_drawn():
    from rnn_timescales.plots.reproduction import MIN_SLOW_NEURONS, _few_slow_masked

    table = pd.DataFrame({"hidden": [500, 500], "share_double": [4 / 500, MIN_SLOW_NEURONS / 500],
                          "slow_tau_median": [24.0, 3.0], "slow_weight_median": [0.1, 0.3],
                          "share_double_aic": [0.5, 0.5], "slow_tau_median_aic": [2.0, 2.5]})
    masked = _few_slow_masked(table)
    assert masked["slow_tau_median"].isna().tolist() == [True, False]  # 4 neurons: noise; 5: drawn
    assert masked["slow_weight_median"].isna().tolist() == [True, False]
    assert masked["slow_tau_median_aic"].tolist() == [2.0, 2.5] and table["slow_tau_median"].notna().all()


def test_the_committed_results_redraw_the_published_figures(tmp_path):
    """A fresh clone regenerates docs/figures/k24 from results/k24 alone (docs/reproduction.md)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    published = json.loads((root / "docs" / "figures" / "k24" / "figures.json").read_text())["figures"]
    assert main(["report", str(root / "results" / "k24"), "--out", str(tmp_path / "k24")]) == 0
    drawn = json.loads((tmp_path / "k24" / "figures.json").read_text())["figures"]
    assert sorted(drawn) == sorted(published)
    assert all((root / "docs" / "figures" / "k24" / name).is_file() for name in published)
    # the per-N summary is a function of the committed tables: the same numbers
    ours = pd.read_csv(tmp_path / "k24" / "parity_timescales_by_n.csv")
    theirs = pd.read_csv(root / "docs" / "figures" / "k24" / "parity_timescales_by_n.csv")
    pd.testing.assert_frame_equal(ours, theirs)


def _curve(run, curriculum, seed, train_tau, tau_fixed, solved_at):
    """A run's rows of curves.csv: one epoch per 100 steps, ``solved_at`` {step: N first solved there}."""
    steps = range(100, 1 + max(solved_at), 100)
    n, rows = np.nan, []
    for step in steps:
        n = solved_at.get(step, n)
        rows.append({"task": "parity", "curriculum": curriculum, "model": "leaky_rnn", "train_tau": train_tau,
                     "tau_fixed": tau_fixed, "seed": seed, "run": run, "epoch": step // 100, "step": step,
                     "n_solved": n})
    return rows


def test_n_at_budget_compares_trained_and_fixed_tau_over_the_fixed_runs_steps(tmp_path):
    from rnn_timescales.experiments.results import fixed_tau_budget, n_at_budget, n_at_budget_markdown

    curves = pd.DataFrame(
        _curve("t0", "multi", 0, True, np.nan, {100: 2, 300: 5, 500: 7, 900: 12})
        + _curve("t1", "multi", 1, True, np.nan, {200: 2, 400: 6, 700: 9})
        + _curve("f0", "multi", 0, False, 1.0, {300: 2, 400: 3, 500: 3})
        + _curve("f1", "multi", 1, False, 1.0, {500: np.nan})  # solved nothing in its budget
        + _curve("g0", "single", 0, False, 3.0, {200: 2, 400: 3}))  # still short of the budget
    assert fixed_tau_budget(curves) == 500
    assert fixed_tau_budget(curves[curves["train_tau"]]) is None
    table = n_at_budget(curves, 500)
    rows = {(r.curriculum, r.train_tau, r.tau_fixed if not r.train_tau else None): r for r in table.itertuples()}
    trained = rows[("multi", True, None)]
    assert (trained.values, trained.n_mean, trained.n_sd, trained.networks) == ("7 6", 6.5, pytest.approx(0.5 ** 0.5), 2) and trained.complete
    fixed = rows[("multi", False, 1.0)]
    assert (fixed.values, fixed.n_min, fixed.n_max) == ("3 1", 1, 3)
    short = rows[("single", False, 3.0)]
    assert short.values == "3" and not short.complete
    text = n_at_budget_markdown(table)
    assert "within 500 training steps" in text and "| parity | multi | fixed at 1 | 2.0 ± 1.4 | 2 | 3 1 |" in text
    assert "lower bound" in text
    # the report draws the comparison where fixed-tau runs are among the curves
    pd.DataFrame(columns=[*ID_COLUMNS, "run", "n"]).to_csv(tmp_path / "timescales.csv", index=False)
    pd.DataFrame(columns=RUN_COLUMNS).to_csv(tmp_path / "runs.csv", index=False)
    curves.to_csv(tmp_path / "curves.csv", index=False)
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "figures")]) == 0
    drawn = json.loads((tmp_path / "figures" / "figures.json").read_text())["figures"]
    assert set(drawn) == {"parity_n_vs_steps.png", "parity_n_at_budget.csv", "parity_n_at_budget.md"}
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "figures" / "parity_n_at_budget.csv"), table,
                                  check_dtype=False)


def test_collect_reads_robustness_rows_of_another_roots_networks(tmp_path):
    """A continued stage's robustness output compares its networks with another stage's (the
    single-head networks of k24_single_long beside k24_parity's multi-head ones at N = 28): every
    row is identified with its run, whichever root holds it; a run name both roots have is the
    robustness root's own."""
    parity, longer = tmp_path / "k24_parity", tmp_path / "k24_single_long"
    _fake_run(parity, "s1-multi", 1, "multi")
    _fake_run(parity, "shared", 5, "multi")
    _fake_run(longer, "seed-1", 1, "single")
    _fake_run(longer, "shared", 7, "single")
    rob = tmp_path / "k24_single_long.robustness" / "robustness"
    rob.mkdir(parents=True)
    pd.DataFrame([[net, "x", "parity", "perturb-w", "normalized", eps, 0, 0, 28, acc, 0.0, 28]
                  for net in ("s1-multi", "seed-1", "shared", "elsewhere") for eps, acc in ((0.0, 1.0), (0.5, 0.8))],
                 columns=["network", "curriculum", "task", "kind", "mode", "epsilon", "repeat", "head", "n",
                          "accuracy", "relative_accuracy", "n_max"]).to_csv(rob / "perturbation.csv", index=False)

    table = pd.read_csv(collect([parity, longer], tmp_path / "results", revision="abc",
                                machine="test")["robustness"])
    by_run = table.groupby("run").first()
    assert set(by_run.index) == {"s1-multi", "seed-1", "shared"}  # "elsewhere" is no run of either root
    assert by_run.loc["s1-multi", "curriculum"] == "multi" and by_run.loc["seed-1", "curriculum"] == "single"
    assert by_run.loc["shared", "seed"] == 7  # k24_single_long's own "shared", not k24_parity's
    assert (table["n"] == 28).all() and len(table) == 6
    # (0.8 - 0.5) / (1.0 - 0.5)
    assert table[table["epsilon_or_group"] == 0.5]["relative_accuracy_mean_baseline"].tolist() == pytest.approx([0.6] * 3)


def test_collect_lists_a_network_continued_by_another_stage_once(tmp_path):
    """k24_single_long retraces k24_parity's single-head runs further: the same configuration but for
    the budget, so the same networks. Each is one runs.csv row and one curve (the run with the most
    steps), every table names it so, and at an N both analysed its timescales are that run's; a run
    of the same identifying columns but another configuration (the modified model) stays apart."""
    import yaml

    from rnn_timescales.config import RunConfig
    from rnn_timescales.studies.reproduction import ROWS_DIR

    def run(root, name, steps, **settings):
        (root / name).mkdir(parents=True)
        config = RunConfig.model_validate({"seed": 0, **settings})
        (root / name / "config.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json")))
        (root / name / "summary.json").write_text(json.dumps({"steps": steps, "stop_reason": "max_epochs"}))
        return root / name

    parity, longer, inside = tmp_path / "k24_parity", tmp_path / "k24_single_long", tmp_path / "k24_inside"
    short = run(parity, "seed-0_curriculum-single", 40_000, curriculum={"kind": "single"}, training={"max_epochs": 400})
    multi = run(parity, "seed-0_curriculum-multi", 32_300, curriculum={"kind": "multi"})
    full = run(longer, "seed-0", 150_000, curriculum={"kind": "single"}, training={"max_epochs": 1500, "target_n": 30})
    other = run(inside, "seed-0", 11_800, curriculum={"kind": "multi"}, model={"placement": "inside"})
    for run_dir, ns, tau in ((short, (10, 17), 1.0), (multi, (10,), 3.0), (full, (10, 25), 2.0), (other, (10,), 4.0)):
        (run_dir / ROWS_DIR).mkdir(parents=True)
        for n in ns:
            (run_dir / ROWS_DIR / f"N{n}.json").write_text(json.dumps({"row": {"n": n, "tau_mean": tau + n / 100}}))
    rob = tmp_path / "k24_parity.robustness" / "robustness"
    rob.mkdir(parents=True)
    pd.DataFrame([["seed-0_curriculum-single", "single", "parity", "perturb-w", "normalized", 0.0, 0, 0, 17, 1.0, 1.0,
                   17]], columns=["network", "curriculum", "task", "kind", "mode", "epsilon", "repeat", "head", "n",
                                  "accuracy", "relative_accuracy", "n_max"]).to_csv(rob / "perturbation.csv", index=False)

    paths = collect([parity, longer, inside], tmp_path / "results", revision="abc", machine="test")
    runs = pd.read_csv(paths["runs"])
    # k24_inside's run is named seed-0 too: another network (another configuration), listed apart
    assert sorted(zip(runs["run"], runs["curriculum"], runs["steps"])) == [
        ("seed-0", "multi", 11_800), ("seed-0", "single", 150_000), ("seed-0_curriculum-multi", "multi", 32_300)]
    table = pd.read_csv(paths["timescales"])
    got = {(r.run, r.curriculum, r.n): r.tau_mean for r in table.itertuples()}
    assert len(table) == len(got) == 5
    assert got == {("seed-0", "single", 10): 2.10, ("seed-0", "single", 17): 1.17, ("seed-0", "single", 25): 2.25,
                   ("seed-0_curriculum-multi", "multi", 10): 3.10, ("seed-0", "multi", 10): 4.10}
    rob = pd.read_csv(paths["robustness"])
    assert list(zip(rob["run"], rob["curriculum"])) == [("seed-0", "single")]
    assert json.loads(paths["provenance"].read_text())["continued"] == {str(short): str(full)}


def test_robustness_summary_averages_per_network_first_then_across_networks():
    """Two repeats per network, two networks per curriculum: the network's mean first, then mean,
    s.d. (ddof 1: the networks are a sample) and count across networks, with each network's value;
    retraining per change."""
    from rnn_timescales.experiments.robustness_results import robustness_summary, robustness_summary_markdown

    def rows(curriculum, run, kind, cond, column, values):
        return [{"task": "parity", "curriculum": curriculum, "run": run, "n": 17, "kind": kind,
                 "epsilon_or_group": cond, column: v} for v in values]

    rob = pd.DataFrame(rows("single", "a", "perturb-w", "0.464", "relative_accuracy_mean_baseline", [0.5, 0.7])
                       + rows("single", "b", "perturb-w", "0.464", "relative_accuracy_mean_baseline", [0.9, 0.9])
                       + rows("single", "a", "perturb-w", "0.0", "relative_accuracy_mean_baseline", [1.0])
                       + rows("multi", "c", "ablation", "long", "accuracy", [0.8, 1.0]))
    retrain = pd.DataFrame([{"task": "parity", "curriculum": "single", "run": r, "n_max": 17, "change": "w",
                             "epsilon": 0.464, "accuracy_before": b, "accuracy_after": 1.0, "epochs_to_recover": e}
                            for r, b, e in (("a", 0.8, 3), ("b", 0.6, 5))])
    s = robustness_summary(rob, retrain).set_index(["measure", "condition", "curriculum"])
    w = s.loc[("perturb-w", "ε = 0.464", "single")]
    assert (w["mean"], w["sd"], w["count"], w["each"]) == (pytest.approx(0.75), pytest.approx(0.15 * 2 ** 0.5), 2, "0.60 0.90")
    assert ("perturb-w", "ε = 0", "single") not in s.index  # the intact network is the baseline, not a row
    assert s.loc[("ablation", "long", "multi"), "mean"] == pytest.approx(0.9)
    before = s.loc[("accuracy_before", "w 0.464", "single")]
    assert before["mean"] == pytest.approx(0.7) and s.loc[("epochs_to_recover", "w 0.464", "single"), "each"] == "3.00 5.00"
    assert "| perturb-w | ε = 0.464 | 17 | single | 0.75 ± 0.21 (2) | 0.60 0.90 |" in robustness_summary_markdown(
        s.reset_index())
