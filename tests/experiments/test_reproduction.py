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
                          "parity_n_vs_steps.png"}
    assert all((tmp_path / "figures" / name).stat().st_size > 10_000 for name in drawn)
