"""[H19]'s delayed-recall claims in a results directory's report: the summaries and tests on
hand-made tables whose numbers are worked out by hand, the three figures with their captions and
sections, and nothing of it where the tables are absent (results/k24's report unchanged)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from rnn_timescales.experiments.recall_results import (
    extrapolation_summary,
    extrapolation_tests,
    network_recall,
    regularization_summary,
    slow_point_summary,
)
from rnn_timescales.experiments.report.results_page import CAPTIONS, render_results_html, write_results_report
from rnn_timescales.experiments.results import RUN_COLUMNS, draw_figures
from rnn_timescales.plots import delayed_recall
from rnn_timescales.studies.reproduction import ID_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IDS = {"task": "delayed-recall", "model": "gru", "train_tau": True, "tau_fixed": np.nan, "hidden": 8, "preset": "h19",
       "precision": "fp32"}
T_MAX = 6  # trained delays 4, 5; untrained 6, 7, 8
UNTRAINED = {("delay", 0): 0.6, ("delay", 1): 0.8, ("vocabulary", 0): 0.2, ("vocabulary", 1): 0.4,
             ("none", 0): 0.1, ("none", 1): 0.3}
"""Each network's recall over the untrained delays: delay 0.7 ± 0.1414, vocabulary 0.3 ± 0.1414, none
0.2 ± 0.1414 (mean ± s.d. across networks)."""


def run_name(curriculum: str, seed: int) -> str:
    return f"seed-{seed}_curriculum-{curriculum}"


def extrapolation_rows(untrained: dict = UNTRAINED) -> pd.DataFrame:
    """Per network: trained delays 4, 5 at 1.0 and 0.9 (mean 0.95); untrained 6, 7, 8 at its value
    + 0.1, + 0, - 0.1 (mean: its value); 256 trials each, so the pooled share is the mean."""
    rows = []
    for (curriculum, seed), value in untrained.items():
        for delay, acc in zip(range(4, 9), [1.0, 0.9, value + 0.1, value, value - 0.1]):
            rows.append({**IDS, "curriculum": curriculum, "seed": seed, "run": run_name(curriculum, seed),
                         "checkpoint": "c", "delay": delay, "accuracy": acc, "n_trials": 256, "null_accuracy": 0.9,
                         "trained": delay < T_MAX, "trained_max_delay": T_MAX, "n_classes": 11})
    return pd.DataFrame(rows)


def correlation_rows() -> pd.DataFrame:
    """Spearman r of centre_q: delay -0.5, -0.7; vocabulary -0.2, 0.4; none -0.6, -0.6 (equal); of
    slow_point_q: delay -0.9 and NaN (too few classes); plus rows the summary must ignore."""
    r = {"centre_q": {("delay", 0): -0.5, ("delay", 1): -0.7, ("vocabulary", 0): -0.2, ("vocabulary", 1): 0.4,
                      ("none", 0): -0.6, ("none", 1): -0.6},
         "slow_point_q": {("delay", 0): -0.9, ("delay", 1): np.nan}}
    rows = []
    for speed, values in r.items():
        for (curriculum, seed), value in values.items():
            rows.append({**IDS, "curriculum": curriculum, "seed": seed, "run": run_name(curriculum, seed),
                         "speed": speed, "scope": "classes", "network": run_name(curriculum, seed), "n": 10,
                         "spearman_r": value, "spearman_p": 0.05, "pearson_r": value, "pearson_p": 0.05})
    ignored = {**IDS, "curriculum": "delay", "seed": 0, "run": run_name("delay", 0), "speed": "centre_q",
               "n": 20, "spearman_r": 0.99, "spearman_p": 0.0, "pearson_r": 0.99, "pearson_p": 0.0}
    rows += [{**ignored, "scope": "classes", "network": "all"}, {**ignored, "scope": "networks", "network": "all"}]
    return pd.DataFrame(rows)


def regularization_rows() -> pd.DataFrame:
    """speed_regularization_summary.csv of the two delay networks: recall over the untrained delays
    start 0.4, 0.5; control 0.3, 0.5; regularised 0.5, 0.6 (differences 0.2, 0.1); mean log10 q
    control -2, -2.2, regularised -3, -3.4."""
    values = {0: {"start": (0.4, -2.5), "control": (0.3, -2.0), "regularized": (0.5, -3.0)},
              1: {"start": (0.5, -2.5), "control": (0.5, -2.2), "regularized": (0.6, -3.4)}}
    return pd.DataFrame([{**IDS, "curriculum": "delay", "seed": seed, "run": run_name("delay", seed), "network": net,
                          "centre_q_mean": 10 ** q, "centre_q_median": 10 ** q, "centre_log10_q_mean": q,
                          "seed_q_mean": np.nan, "accuracy_trained": 0.9, "accuracy_untrained": acc}
                         for seed, nets in values.items() for net, (acc, q) in nets.items()])


def slow_point_rows() -> pd.DataFrame:
    """recall_slow_points.csv: three classes per network, q falling as recall rises; class 3 of
    each network has no slow point (no seed read out correctly), class 2's search did not converge."""
    rows = []
    for (curriculum, seed) in UNTRAINED:
        for k, (q, acc) in enumerate([(1e-6, 0.9), (1e-4, 0.5), (1e-2, 0.1)], start=1):
            rows.append({**IDS, "curriculum": curriculum, "seed": seed, "run": run_name(curriculum, seed),
                         "class": k, "digit": k - 1, "slow_point_q": q if k < 3 else np.nan, "converged": k == 1,
                         "centre_q": 10 * q, "seed_q": 20 * q, "extrapolation_accuracy": acc,
                         "network": run_name(curriculum, seed), "n_classes": 11, "max_delay": T_MAX})
    return pd.DataFrame(rows)


def speed_curves() -> pd.DataFrame:
    return pd.DataFrame([{**IDS, "curriculum": "delay", "seed": seed, "run": run_name("delay", seed), "network": net,
                          "delay": d, "accuracy": acc, "n_trials": 256, "null_accuracy": 0.9, "trained": d < T_MAX}
                         for seed in (0, 1) for net, acc in (("start", 0.5), ("control", 0.4), ("regularized", 0.6))
                         for d in range(4, 9)])


def write_results(root: Path, tables: dict[str, pd.DataFrame]) -> Path:
    """A results directory: runs.csv (one GRU run per network, no N reached), curves.csv (no N),
    an empty timescales.csv, and ``tables``."""
    root.mkdir(parents=True, exist_ok=True)
    runs = pd.DataFrame([{**IDS, "curriculum": c, "seed": s, "n_reached": np.nan, "steps": 40, "epochs": 2,
                          "wall_time_s": 3600.0, "budget_s": np.nan, "budget_epochs": 2, "stop_reason": "max_epochs",
                          "machine": "m", "revision": "r", "run": run_name(c, s)} for c, s in UNTRAINED],
                        columns=RUN_COLUMNS)
    runs.to_csv(root / "runs.csv", index=False)
    curves = runs[[*ID_COLUMNS, "run"]].merge(pd.DataFrame({"epoch": [1, 2], "step": [20, 40]}), how="cross")
    curves.assign(n_max=np.nan, n_solved=np.nan, accuracy_mean=0.5, accuracy_newest=0.5, tau_mean=np.nan,
                  wall_time_s=1.0).to_csv(root / "curves.csv", index=False)
    pd.DataFrame(columns=[*ID_COLUMNS, "run", "n"]).to_csv(root / "timescales.csv", index=False)
    for name, table in tables.items():
        table.to_csv(root / name, index=False)
    return root


def all_tables() -> dict[str, pd.DataFrame]:
    return {"extrapolation.csv": extrapolation_rows(), "recall_correlations.csv": correlation_rows(),
            "recall_slow_points.csv": slow_point_rows(), "speed_regularization_summary.csv": regularization_rows(),
            "speed_regularization_extrapolation.csv": speed_curves()}


def welch_p_df2(t: float) -> float:
    """Two-sided p of Student's t with 2 degrees of freedom: 1 - t / sqrt(t² + 2) (Welch's df is 2
    for two groups of two with equal variances)."""
    return 1 - abs(t) / math.sqrt(t * t + 2)


def t_p_df1(t: float) -> float:
    """Two-sided p of Student's t with 1 degree of freedom (Cauchy): 1 - (2/π) arctan |t|."""
    return 1 - 2 / math.pi * math.atan(abs(t))


# --- the statistics -----------------------------------------------------------------------------
def test_each_networks_recall_pools_trials_over_trained_and_untrained_delays():
    per = network_recall(extrapolation_rows()).set_index("run")
    assert per.loc[run_name("delay", 0), "accuracy_untrained"] == pytest.approx(0.6)
    assert per.loc[run_name("delay", 0), "accuracy_trained"] == pytest.approx(0.95)
    assert per["trained_max_delay"].tolist() == [T_MAX] * 6 and per["largest_delay"].tolist() == [8] * 6
    assert list(per["curriculum"]) == ["delay", "delay", "vocabulary", "vocabulary", "none", "none"]
    # trials pooled, not delays averaged: 300 trials at 1.0 and 100 at 0.0 is 0.75 (the mean of delays: 0.5)
    one = pd.DataFrame({**IDS, "curriculum": "delay", "seed": 0, "run": "a", "delay": [4, 6, 7],
                        "accuracy": [1.0, 1.0, 0.0], "n_trials": [10, 300, 100], "trained": [True, False, False]})
    got = network_recall(one).iloc[0]
    assert got["accuracy_untrained"] == pytest.approx(0.75)
    assert got["trained_max_delay"] == 5  # no trained_max_delay column: the longest trained delay + 1


def test_extrapolation_summary_is_mean_and_sd_across_networks():
    s = extrapolation_summary(extrapolation_rows()).set_index("curriculum")
    assert list(s.index) == ["delay", "vocabulary", "none"]
    d = s.loc["delay"]
    assert (d["networks"], d["seeds"], d["trained_max_delay"], d["largest_delay"]) == (2, "0 1", "6", "8")
    assert d["accuracy_untrained_mean"] == pytest.approx(0.7)
    assert d["accuracy_untrained_sd"] == pytest.approx(0.2 / math.sqrt(2))  # 0.1414: ddof 1
    assert d["accuracy_trained_mean"] == pytest.approx(0.95) and d["accuracy_trained_sd"] == pytest.approx(0.0)
    assert (d["each_untrained"], d["each_trained"]) == ("0.60 0.80", "0.95 0.95")
    assert s.loc["none", "accuracy_untrained_mean"] == pytest.approx(0.2)


def test_extrapolation_tests_are_welch_t_on_the_untrained_recall():
    t = extrapolation_tests(extrapolation_rows()).set_index(["group_a", "group_b"])
    assert list(t.index) == [("delay", "vocabulary"), ("delay", "none"), ("vocabulary", "none")]
    se = math.sqrt(0.02 / 2 + 0.02 / 2)  # both groups: variance 0.02, two networks
    for (a, b), diff in {("delay", "vocabulary"): 0.4, ("delay", "none"): 0.5, ("vocabulary", "none"): 0.1}.items():
        row = t.loc[(a, b)]
        assert row["difference"] == pytest.approx(diff)
        assert (row["networks_a"], row["networks_b"], row["test"]) == (2, 2, "Welch t")
        assert row["p_value"] == pytest.approx(welch_p_df2(diff / se), rel=1e-6)
        assert row["p_one_sided"] == pytest.approx(welch_p_df2(diff / se) / 2, rel=1e-6)  # a > b, as found
    assert t.loc[("delay", "vocabulary"), "p_value"] == pytest.approx(0.105573, abs=1e-6)  # t = 2√2
    assert t["note"].fillna("").eq("").all()
    # a group of one network: no test, and the note says why
    few = extrapolation_tests(extrapolation_rows({k: v for k, v in UNTRAINED.items() if k != ("vocabulary", 1)}))
    few = few.set_index(["group_a", "group_b"])
    assert np.isnan(few.loc[("delay", "vocabulary"), "p_value"]) and few.loc[("delay", "vocabulary"), "networks_b"] == 1
    assert "fewer than 2 networks" in few.loc[("delay", "vocabulary"), "note"]
    assert not np.isnan(few.loc[("delay", "none"), "p_value"])
    # the direction: b better than a gives a one-sided p (a > b) above one half
    flipped = extrapolation_tests(extrapolation_rows({("delay", 0): 0.1, ("delay", 1): 0.3, ("none", 0): 0.6,
                                                      ("none", 1): 0.8})).iloc[0]
    assert flipped["difference"] == pytest.approx(-0.5) and flipped["p_one_sided"] > 0.5


def test_slow_point_summary_tests_the_networks_r_against_zero():
    s = slow_point_summary(correlation_rows()).set_index(["curriculum", "speed"])
    d = s.loc[("delay", "centre_q")]
    assert d["networks"] == 2 and d["negative"] == 2 and d["each_r"] == "-0.50 -0.70" and d["each_n"] == "10 10"
    assert d["r_mean"] == pytest.approx(-0.6) and d["r_sd"] == pytest.approx(0.2 / math.sqrt(2))
    t = -0.6 / (0.2 / math.sqrt(2) / math.sqrt(2))  # -6: one-sample t, df 1
    assert d["p_value"] == pytest.approx(t_p_df1(t), rel=1e-6) and d["p_one_sided"] == pytest.approx(t_p_df1(t) / 2)
    v = s.loc[("vocabulary", "centre_q")]
    assert v["negative"] == 1 and v["r_mean"] == pytest.approx(0.1) and v["p_one_sided"] > 0.5
    assert np.isnan(s.loc[("none", "centre_q"), "p_value"]) and "every r equal" in s.loc[("none", "centre_q"), "note"]
    sp = s.loc[("delay", "slow_point_q")]
    assert sp["networks"] == 1 and np.isnan(sp["p_value"]) and "1 network without r" in sp["note"]
    everyone = s.loc[("all", "centre_q")]  # the 'all' and 'networks' rows of the input are left out
    assert everyone["networks"] == 6 and everyone["negative"] == 5
    assert everyone["r_mean"] == pytest.approx(np.mean([-0.5, -0.7, -0.2, 0.4, -0.6, -0.6]))


def test_regularization_summary_pairs_regularized_with_control_per_network():
    s = regularization_summary(regularization_rows()).set_index(["curriculum", "measure"])
    assert "all" not in s.index.get_level_values(0)  # one curriculum: no pooled rows
    acc = s.loc[("delay", "accuracy_untrained")]
    assert acc["networks"] == 2 and acc["control_mean"] == pytest.approx(0.4)
    assert acc["regularized_mean"] == pytest.approx(0.55)
    assert acc["start_mean"] == pytest.approx(0.45) and acc["control_sd"] == pytest.approx(0.2 / math.sqrt(2))
    assert acc["difference"] == pytest.approx(0.15) and acc["each_difference"] == "0.200 0.100"
    t = 0.15 / (0.1 / math.sqrt(2) / math.sqrt(2))  # paired t = 3, df 1
    assert acc["p_value"] == pytest.approx(t_p_df1(t), rel=1e-6)
    assert acc["p_one_sided"] == pytest.approx(t_p_df1(t) / 2, rel=1e-6)
    assert acc["alternative"] == "regularized > control"
    q = s.loc[("delay", "centre_log10_q_mean")]
    assert q["difference"] == pytest.approx(-1.1) and q["alternative"] == "regularized < control"
    assert q["p_one_sided"] == pytest.approx(t_p_df1(-1.1 / (0.2 / math.sqrt(2) / math.sqrt(2))) / 2, rel=1e-6)
    same = s.loc[("delay", "accuracy_trained")]  # 0.9 everywhere: nothing to test
    assert np.isnan(same["p_value"]) and "every difference equal" in same["note"]


# --- the figures --------------------------------------------------------------------------------
def test_the_figures_mark_the_trained_range_and_chance():
    fig = delayed_recall.recall_extrapolation(extrapolation_rows())
    try:
        ax = fig.axes[0]
        vertical = [line for line in ax.lines if len(set(line.get_xdata())) == 1]
        assert [line.get_xdata()[0] for line in vertical] == [T_MAX]
        horizontal = [line for line in ax.lines if len(set(line.get_ydata())) == 1 and len(line.get_xdata()) == 2]
        assert [line.get_ydata()[0] for line in horizontal] == [pytest.approx(0.1)]  # 1/(11 - 1)
        assert len(fig.axes) == 2 and "delay" in ax.get_xlabel() and "time steps" in ax.get_xlabel()
        means = {line.get_label(): line.get_ydata() for line in ax.lines if len(line.get_xdata()) == 5}
        assert means["delay (DeCu): 2 networks"][2:] == pytest.approx([0.8, 0.7, 0.6])
    finally:
        plt.close(fig)
    fig = delayed_recall.recall_slow_points(slow_point_rows())
    try:
        assert len(fig.axes) == 2 and "slow point" in fig.axes[0].get_xlabel()
        assert "12 of 18 classes have one" in fig.axes[0].get_title()
    finally:
        plt.close(fig)
    fig = delayed_recall.recall_speed_regularization(speed_curves(), regularization_rows())
    try:
        assert len([ax for ax in fig.axes if ax.get_visible()]) == 2  # one curriculum and the speeds
    finally:
        plt.close(fig)


# --- the report ---------------------------------------------------------------------------------
H19_TABLES = {"delayed-recall_extrapolation_summary.csv", "delayed-recall_extrapolation_summary.md",
              "delayed-recall_extrapolation_tests.csv", "delayed-recall_extrapolation_tests.md",
              "delayed-recall_slow_points_summary.csv", "delayed-recall_slow_points_summary.md",
              "delayed-recall_speed_regularization_summary.csv", "delayed-recall_speed_regularization_summary.md"}
H19_FIGURES = {"delayed-recall_extrapolation.png", "delayed-recall_slow_points.png",
               "delayed-recall_speed_regularization.png"}
SECTIONS = ["Delayed recall: extrapolation", "Delayed recall: slow points", "Delayed recall: speed regularisation"]


def test_a_delayed_recall_results_report_draws_and_summarises_the_three_claims(tmp_path):
    results = write_results(tmp_path / "h19", all_tables())
    out = write_results_report(results, tmp_path / "report")
    drawn = json.loads((out / "figures.json").read_text())["figures"]
    assert set(drawn) == H19_FIGURES | H19_TABLES  # no N: no training-speed figure of empty axes
    for name in H19_FIGURES:
        data = (out / name).read_bytes()
        assert data[:8] == PNG_SIGNATURE and len(data) > 2000
        with Image.open(out / name) as im:
            assert im.size[0] > 300 and im.size[1] > 200
    page = (out / "index.html").read_text(encoding="utf-8")
    positions = [page.index(f"<h2>{s}</h2>") for s in SECTIONS]
    assert positions == sorted(positions)
    for kind in ("extrapolation", "slow_points", "speed_regularization"):
        section, shows, look = CAPTIONS[kind]
        figure = page.index(f"data-figure='delayed-recall_{kind}.png'")
        assert page.index(f"<h2>{section}</h2>") < figure and "What to look for" in page[figure:figure + 3000]
    # the tables on the page, with human column names and the numbers of the summaries
    assert "recall, untrained delays" in page and "0.70 ± 0.14 (2)" in page and "0.60 0.80" in page
    assert "p, one-sided (a &gt; b)" in page and "Spearman r" in page and "-0.60 ± 0.14 (2)" in page
    assert "regularised − control" in page and "+0.150" in page
    # the runs: a GRU has no τ (not "fixed at nan"), and its level is T_max and classes, not N
    assert "fixed at nan" not in page and "T_max 6, 11 classes" in page and "<td>gru</td>" in page
    assert "largest N solved" not in page
    summary = pd.read_csv(out / "delayed-recall_extrapolation_summary.csv",
                          dtype={"seeds": str, "trained_max_delay": str, "largest_delay": str})
    pd.testing.assert_frame_equal(summary, extrapolation_summary(extrapolation_rows()), check_dtype=False)


def test_absent_or_empty_tables_draw_nothing_of_delayed_recall(tmp_path):
    only = write_results(tmp_path / "some", {"extrapolation.csv": extrapolation_rows(),
                                             "recall_correlations.csv": correlation_rows().iloc[:0]})
    (only / "speed_regularization_summary.csv").write_text("")  # an empty file
    drawn = json.loads((write_results_report(only, tmp_path / "r1") / "figures.json").read_text())["figures"]
    assert set(drawn) == {"delayed-recall_extrapolation.png", "delayed-recall_extrapolation_summary.csv",
                          "delayed-recall_extrapolation_summary.md", "delayed-recall_extrapolation_tests.csv",
                          "delayed-recall_extrapolation_tests.md"}
    page = (tmp_path / "r1" / "index.html").read_text(encoding="utf-8")
    assert SECTIONS[0] in page and SECTIONS[1] not in page and SECTIONS[2] not in page
    none = write_results(tmp_path / "none", {})
    assert draw_figures(none, tmp_path / "r2") == []
    assert "Delayed recall" not in (write_results_report(none, tmp_path / "r3") / "index.html").read_text()


def test_the_k24_report_is_unchanged(tmp_path):
    """results/k24 holds no delayed-recall table: the same files, and the committed page."""
    published = ROOT / "docs" / "figures" / "k24"
    out = write_results_report(ROOT / "results" / "k24", tmp_path / "k24")
    names = json.loads((out / "figures.json").read_text())["figures"]
    assert names == json.loads((published / "figures.json").read_text())["figures"]
    assert render_results_html(ROOT / "results" / "k24", published, names, out) == (
        published / "index.html").read_text(encoding="utf-8")
