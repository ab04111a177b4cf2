"""The report: aggregation on hand-computed cases, and pages built from hand-written run tables
(every expected figure is a valid PNG the page shows, the page has no broken local links, panels
without data say so)."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sweep_testing import TINY_BASE

from rnn_timescales.config import ConfigError, build_config
from rnn_timescales.experiments.report import (
    curve_on_grid,
    neuron_quantiles,
    paper_tau_net,
    share_below_one_step,
    solved_curves,
    spread_interval,
    write_report,
)
from rnn_timescales.experiments.sweep import SweepSpec, plan, prepare_sweep

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.links += [v for k, v in attrs if k in ("src", "href") and v]


def local_links(page: Path) -> list[str]:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return [link for link in parser.links if not link.startswith(("http://", "https://", "#", "mailto:"))]


def assert_valid_report(out: Path, expected: set[str]) -> str:
    """Every expected figure is a non-empty PNG that the page shows; every local link resolves."""
    page = out / "index.html"
    links = local_links(page)
    missing = [link for link in links if not (out / link).is_file()]
    assert not missing, f"broken local links: {missing}"
    pngs = {p.name for p in out.glob("*.png")}
    assert pngs == expected
    assert set(links) >= pngs  # the page shows every figure
    for name in pngs:
        data = (out / name).read_bytes()
        assert data[:8] == PNG_SIGNATURE and len(data) > 2000, name
        with Image.open(out / name) as im:
            im.verify()
        with Image.open(out / name) as im:
            assert im.size[0] > 100 and im.size[1] > 100
    return page.read_text(encoding="utf-8")


# --- statistics ---------------------------------------------------------------------------------
def test_spreads_on_hand_computed_values():
    mean, lo, hi, n = spread_interval(np.array([1.0, 2.0, 3.0, np.nan]), "sem")
    assert (mean, n) == (2.0, 3) and hi - mean == pytest.approx(1 / np.sqrt(3)) and mean - lo == pytest.approx(hi - mean)
    assert spread_interval(np.array([2.0, 4.0]), "sd") == (3.0, 2.0, 4.0, 2)  # ddof 0, as the paper's notebooks
    assert spread_interval(np.array([5.0]), "sem") == (5.0, 5.0, 5.0, 1)
    mean, lo, hi, n = spread_interval(np.array([1.0, 2.0, 6.0]), "bootstrap")
    assert mean == 3.0 and 1.0 <= lo < mean < hi <= 6.0
    assert spread_interval(np.array([1.0, 2.0, 6.0]), "bootstrap") == (mean, lo, hi, n)  # seeded


def test_largest_n_solved_curves_and_their_reading_on_a_grid():
    metrics = pd.DataFrame({"run": "a", "epoch": [1, 2, 3], "n_max": [2, 3, 3], "solved": [True, False, True],
                            "wall_time_s": [1.0, 2.0, 3.0]})
    metrics = pd.concat([metrics, pd.DataFrame({"run": "b", "epoch": [1], "n_max": [5], "solved": [False],
                                                "wall_time_s": [0.5]})])
    curves = solved_curves(metrics, {"a": 2, "b": 5})
    assert curves[curves["run"] == "a"]["n_solved"].tolist() == [1, 2, 2, 3]
    assert curves[curves["run"] == "b"]["n_solved"].tolist() == [4, 4]
    grid = curve_on_grid(curves, "epoch", np.arange(5), carry={"a"})
    assert grid[grid["run"] == "a"]["value"].tolist() == [1, 2, 2, 3, 3]  # reached its goal: carried on
    b = grid[grid["run"] == "b"]["value"].tolist()
    assert b[:2] == [4, 4] and np.isnan(b[2:]).all()  # stopped otherwise: no value past its end


def test_the_papers_tau_net_drops_neurons_at_or_below_one_step():
    neurons = pd.DataFrame({"n_max": [3, 3, 3, 3, 4, 4], "tau_net": [0.5, 1.0, 2.0, 4.0, 0.3, np.nan]})
    table = paper_tau_net(neurons)
    assert table["value"].iloc[0] == 3.0 and table[["kept", "neurons"]].iloc[0].tolist() == [2, 4]
    assert np.isnan(table["value"].iloc[1]) and table["kept"].iloc[1] == 0


def test_neuron_distributions_and_the_share_below_one_step():
    neurons = pd.DataFrame({"condition": "c", "run": ["a"] * 4 + ["b"] * 4, "n_max": 3,
                            "tau_net": [0.5, 1.0, 2.0, 4.0, 0.2, 3.0, 6.0, np.nan]})
    q = neuron_quantiles(neurons, "tau_net", above=1.0)  # pooled: 2, 3, 4, 6
    assert q[["q50", "neurons"]].iloc[0].tolist() == [3.5, 4] and q["q25"].iloc[0] == pytest.approx(2.75)
    share = share_below_one_step(neurons)
    assert share["share"].tolist() == [0.5, pytest.approx(1 / 3)]  # a: 0.5 and 1.0; b: 0.2 of 3 finite
    assert neuron_quantiles(neurons.drop(columns="tau_net"), "tau_net").empty


# --- pages --------------------------------------------------------------------------------------
def fake_run(run_dir: Path, config, seed: int, tau_net_median: float, neurons_tau_net: list[float],
             robustness: bool = True, stop_reason: str = "target_n") -> None:
    """A run directory written by hand: every table a report reads, with small known values."""
    run_dir.mkdir(parents=True, exist_ok=True)
    config.save(run_dir / "config.yaml")
    (run_dir / "summary.json").write_text(json.dumps({"stop_reason": stop_reason, "epochs": 3, "n_max_solved": 4,
                                                      "wall_time_s": 30.0 + seed}))
    pd.DataFrame({"epoch": [1, 2, 3], "n_min": 2, "n_max": [2, 3, 4], "solved": True, "tau_mean": [1.5, 1.6, 1.7 + seed],
                  "wall_time_s": [10.0, 20.0, 30.0 + seed]}).to_csv(run_dir / "metrics.csv", index=False)
    pd.DataFrame({"epoch": [1, 2, 2, 3, 3, 3], "head": [0, 0, 1, 0, 1, 2], "n": [2, 2, 3, 2, 3, 4],
                  "accuracy": [0.99, 0.99, 0.9, 0.99, 0.99, 0.95]}).to_csv(run_dir / "head_metrics.csv", index=False)
    (run_dir / "analysis").mkdir()
    pd.DataFrame({"n_max": [3, 4], "tau_mean": [1.5, 2.0 + seed], "tau_net_median": [tau_net_median, 1.5],
                  "jacobian_tau_max": [2.0, 3.0 + seed], "population_tau_net": [0.025, 2.0],
                  "dimensionality": [3, 5 + seed]}).to_csv(run_dir / "analysis" / "summary.csv", index=False)
    pd.DataFrame({"n_max": [3] * len(neurons_tau_net) + [4, 4], "tau_net": neurons_tau_net + [2.0, 3.0]}).to_csv(
        run_dir / "analysis" / "neurons.csv", index=False)
    if robustness:
        (run_dir / "robustness").mkdir()
        eps = [0.0, 0.1, 1.0]
        pd.DataFrame({"kind": ["W"] * 6 + ["tau"] * 6, "epsilon": eps * 4, "repeat": ([0] * 3 + [1] * 3) * 2, "n": 4,
                      "accuracy": 0.9, "relative_accuracy": [1.0, 0.8, 0.2] * 4}).to_csv(
            run_dir / "robustness" / "perturbation.csv", index=False)
        pd.DataFrame({"neuron": [0, 1, 2, 3], "tau": [5.0, 4.0, 1.0, 1.1], "group": ["slow", "slow", "fast", "fast"],
                      "n": 4, "accuracy": [0.7, 0.75, 0.95, 0.97]}).to_csv(run_dir / "robustness" / "ablation.csv",
                                                                           index=False)
        pd.DataFrame({"checkpoint_n": [3, 4, 4], "n": [2, 2, 3], "accuracy": [0.9, 0.8, 0.95]}).to_csv(
            run_dir / "robustness" / "forgetting.csv", index=False)
        pd.DataFrame({"k": [1, 2, 5, 10], "n": 4, "accuracy": [0.99, 0.97, 0.9, 0.8]}).to_csv(
            run_dir / "robustness" / "continuous.csv", index=False)
        (run_dir / "extrapolation").mkdir()
        pd.DataFrame({"delay": [4, 8, 16, 32], "accuracy": [0.99, 0.95, 0.7, 0.4], "n_trials": 100}).to_csv(
            run_dir / "extrapolation" / "extrapolation.csv", index=False)


ALL_FIGURES = {"progress.png", "tau_training.png", "accuracy_per_head.png", "tau_vs_n.png", "tau_net_vs_n.png",
               "collective_vs_n.png", "dimensionality_vs_n.png", "perturbation.png", "ablation.png", "forgetting.png",
               "continuous.png", "extrapolation.png"}


def test_a_sweep_report_draws_every_panel_its_data_allows(tmp_path):
    spec = SweepSpec.from_mapping({"base": TINY_BASE, "grid": {"curriculum.kind": ["single", "multi"], "seed": [0, 1]}})
    root, points = prepare_sweep(spec, tmp_path / "sweep")
    values = {  # (tau_net median at N = 3, neurons' tau_net at N = 3)
        "curriculum-single_seed-0": (0.5, [0.5, 2.0, 4.0]), "curriculum-single_seed-1": (0.7, [1.0, 5.0, 7.0]),
        "curriculum-multi_seed-0": (1.2, [0.2, 1.5]), "curriculum-multi_seed-1": (1.4, [0.9, 2.5])}
    for p in points:
        fake_run(root / p.name, p.config, p.config.seed, *values[p.name])
    out = write_report(root)
    assert out == root / "report"
    text = assert_valid_report(out, ALL_FIGURES)
    assert "No data" not in text
    # single-head: our tau_net (median per network 0.5, 0.7) is below one step; the paper's drops
    # tau_net <= 1 per neuron: network means 3 and 6, so 4.5 ± 1.5 (s.d., ddof 0)
    assert "below one step (0.6)" in text
    assert "4.5 ± 1.5" in text
    # one neuron in three at or below one step in each single-head network
    assert "33 %" in text and "Timescales per N, curriculum single" in text
    assert "curriculum single" in text and "curriculum multi" in text


def test_a_run_directory_report_says_which_panels_have_no_data(tmp_path):
    run = tmp_path / "run"
    fake_run(run, build_config("paper", overrides=["model.hidden_size=16"]), 0, 0.6, [0.5, 2.0], robustness=False)
    text = assert_valid_report(write_report(run), ALL_FIGURES - {"perturbation.png", "ablation.png", "forgetting.png",
                                                                 "continuous.png", "extrapolation.png"})
    for table in ("robustness/perturbation.csv", "robustness/ablation.csv", "robustness/forgetting.csv",
                  "robustness/continuous.csv", "extrapolation/extrapolation.csv"):
        assert f"No data: no run has {table}" in text
    # a second report replaces the first; a directory holding anything else is refused
    assert_valid_report(write_report(run, spread="bootstrap"), ALL_FIGURES - {
        "perturbation.png", "ablation.png", "forgetting.png", "continuous.png", "extrapolation.png"})
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("mine")
    with pytest.raises(ConfigError, match="holds files that are not a report"):
        write_report(run, tmp_path / "notes")


def test_a_collection_of_runs_that_differ_in_model_type_gets_the_model_comparison(tmp_path):
    base = build_config("paper", overrides=["model.hidden_size=16"])
    for i, kind in enumerate(["single", "multi"]):
        for model in ("leaky_rnn", "gru"):
            d = tmp_path / "runs" / f"{model}_{kind}"
            fake_run(d, base.model_copy(update={"curriculum": base.curriculum.model_copy(update={"kind": kind})}), i,
                     1.0, [2.0], robustness=False)
            cfg = d / "config.yaml"  # another model type, as the gated-model issue will allow
            cfg.write_text(cfg.read_text().replace("type: leaky_rnn", f"type: {model}"))
    (tmp_path / "runs" / "not_a_run").mkdir()
    text = assert_valid_report(write_report(tmp_path / "runs"), ALL_FIGURES - {
        "perturbation.png", "ablation.png", "forgetting.png", "continuous.png", "extrapolation.png"} | {
        "models_progress.png"})
    assert "Gated-model comparison" in text


def test_an_analysed_sweep_without_runs_on_disk_yet_still_reports(tmp_path):
    spec = SweepSpec.from_mapping({"base": TINY_BASE, "grid": {"seed": [0, 1]}})
    root, _ = prepare_sweep(spec, tmp_path / "sweep")
    text = assert_valid_report(write_report(root), set())
    assert "No data: no run has a training log (metrics.csv). seed-0, seed-1: not started yet." in text
    assert "paper's code" not in text  # the real cause, not a guess
    assert [p.name for p in plan(spec)] == ["seed-0", "seed-1"]


def test_a_report_names_why_each_run_has_no_training_log(tmp_path):
    """Imported, interrupted and trained runs side by side: the trained one is drawn, the others are
    named with their own cause."""
    base = build_config("paper", overrides=["model.hidden_size=16"])
    fake_run(tmp_path / "runs" / "trained", base, 0, 1.0, [2.0], robustness=False)
    imported = tmp_path / "runs" / "imported"
    fake_run(imported, base, 1, 1.0, [2.0], robustness=False)
    (imported / "metrics.csv").unlink()
    (imported / "summary.json").write_text(json.dumps({"stop_reason": "imported", "n_max_solved": 5}))
    interrupted = tmp_path / "runs" / "interrupted"
    fake_run(interrupted, base, 2, 1.0, [2.0], robustness=False)
    (interrupted / "metrics.csv").unlink()
    (interrupted / "summary.json").unlink()
    text = (write_report(tmp_path / "runs") / "index.html").read_text()
    assert "imported: imported from the paper&#x27;s code, which keeps no training log" in text
    assert "interrupted: interrupted before the end of its first epoch" in text
    assert "progress.png" in text


def test_the_figures_command_draws_a_results_directory_without_a_page(tmp_path):
    """`figures` is the figures-only program; `report` on the same folder adds the page, and a
    folder holding something else is refused in one line, nothing written."""
    from rnn_timescales.cli import main

    root = Path(__file__).resolve().parents[2] / "results" / "k24"
    assert main(["figures", str(root), "--out", str(tmp_path / "figs")]) == 0
    drawn = json.loads((tmp_path / "figs" / "figures.json").read_text())["figures"]
    assert "parity_timescales_vs_n.png" in drawn and not (tmp_path / "figs" / "index.html").exists()
    # a report may replace a figures-only output (and the reverse): the same files plus the page
    assert main(["report", str(root), "--out", str(tmp_path / "figs")]) == 0
    assert (tmp_path / "figs" / "index.html").is_file()
    assert set(drawn) <= {p.name for p in (tmp_path / "figs").iterdir()}
    page = (tmp_path / "figs" / "index.html").read_text()
    assert not [link for link in local_links(tmp_path / "figs" / "index.html")
                if not (tmp_path / "figs" / link).resolve().is_file()]
    assert "trained τ, network mean" in page and "What to look for" in page and "tau_jump_none" not in page
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    assert main(["report", str(root), "--out", str(tmp_path / "other")]) == 2
    assert [p.name for p in (tmp_path / "other").iterdir()] == ["notes.txt"]


def test_a_results_page_is_a_function_of_the_tables():
    """The committed reproduction page is what `report results/k24` writes now (no date on it)."""
    from rnn_timescales.experiments.report.results_page import render_results_html

    root = Path(__file__).resolve().parents[2]
    published = root / "docs" / "figures" / "k24"
    names = json.loads((published / "figures.json").read_text())["figures"]
    assert render_results_html(root / "results" / "k24", published, names, published) == (
        published / "index.html").read_text(encoding="utf-8")
