"""``rnn-timescales sweep collect ROOTS --out RESULTS --update`` (experiments.results_update): a
fresh collection merged into committed tables whose run directories are on another machine."""

from __future__ import annotations

import json

import pandas as pd
import yaml

from rnn_timescales.cli import main
from rnn_timescales.config import RunConfig
from rnn_timescales.studies.reproduction import ROWS_DIR

PERTURBATION = ["network", "curriculum", "task", "kind", "mode", "epsilon", "repeat", "head", "n", "accuracy",
                "relative_accuracy", "n_max"]


def _run(root, name, steps, taus, **settings):
    """A run directory as collect reads it: config, summary, a two-epoch curve and timescale rows."""
    d = root / name
    (d / ROWS_DIR).mkdir(parents=True)
    config = RunConfig.model_validate({"seed": 0, **settings})
    (d / "config.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json")))
    (d / "summary.json").write_text(json.dumps({"steps": steps, "stop_reason": "max_epochs"}))
    pd.DataFrame({"epoch": [1, 2], "step": [100, steps], "n_max": [2, 3], "solved": [True, False],
                  "accuracy_mean": [1.0, 0.9], "accuracy_newest": [1.0, 0.9], "tau_mean": [1.5, 1.4],
                  "wall_time_s": [1.0, 2.0]}).to_csv(d / "metrics.csv", index=False)
    for n, tau in taus.items():
        (d / ROWS_DIR / f"N{n}.json").write_text(json.dumps({"row": {"n": n, "tau_mean": tau}}))
    return d


def _perturbation(directory, network, n, accuracy):
    directory.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([[network, "single", "parity", "perturb-w", "normalized", eps, 0, 0, n, acc, 0.0, n]
                  for eps, acc in ((0.0, 1.0), (0.5, accuracy))], columns=PERTURBATION
                 ).to_csv(directory / "perturbation.csv", index=False)


def test_update_keeps_the_earlier_machines_rows_and_continues_its_networks(tmp_path):
    results = tmp_path / "results"
    # the earlier machine: a single-head run (40 000 steps, robustness at N = 17) and a fixed-tau run
    before = tmp_path / "gone" / "k24_parity"
    _run(before, "seed-0_curriculum-single", 40_000, {10: 1.10, 17: 1.17}, curriculum={"kind": "single"},
         training={"max_epochs": 400})
    _run(before, "fixed", 10_000, {5: 1.05}, curriculum={"kind": "multi"}, model={"train_tau": False, "tau_init": 1.0})
    _perturbation(tmp_path / "gone" / "k24_parity.robustness", "seed-0_curriculum-single", 17, 0.8)
    pd.DataFrame([["seed-0_curriculum-single", 3, 2, 0.5, 0.5]],
                 columns=["network", "checkpoint_n", "n_earlier", "retained", "forgetting"]
                 ).to_csv(tmp_path / "gone" / "k24_parity.robustness" / "forgetting_scores.csv", index=False)
    assert main(["sweep", "collect", str(before), "--out", str(results)]) == 0
    (results / "notes.csv").write_text("run,x\nother,1\n")  # a table of its own, naming no continued run
    # this machine: the same single-head network trained to 150 000 steps by another stage
    longer = tmp_path / "k24_single_long"
    _run(longer, "seed-0", 150_000, {10: 2.10, 25: 2.25}, curriculum={"kind": "single"},
         training={"max_epochs": 1500, "target_n": 30})
    _perturbation(tmp_path / "k24_single_long.robustness", "seed-0", 27, 0.6)

    for _ in range(2):  # a second update of the same collection changes nothing
        assert main(["sweep", "collect", str(longer), "--out", str(results), "--update"]) == 0
        runs = pd.read_csv(results / "runs.csv")
        assert sorted(zip(runs["run"], runs["steps"])) == [("fixed", 10_000), ("seed-0", 150_000)]
        taus = pd.read_csv(results / "timescales.csv")
        assert len(taus) == 4
        assert dict(zip(zip(taus["run"], taus["n"]), taus["tau_mean"])) == {
            ("seed-0", 10): 2.10, ("seed-0", 17): 1.17, ("seed-0", 25): 2.25, ("fixed", 5): 1.05}
        curves = pd.read_csv(results / "curves.csv")
        assert sorted(curves.groupby("run")["step"].max().items()) == [("fixed", 10_000), ("seed-0", 150_000)]
        rob = pd.read_csv(results / "robustness.csv")
        assert sorted(set(zip(rob["run"], rob["n"]))) == [("seed-0", 17), ("seed-0", 27)]
        # a table the fresh collection does not have names the continued network by its new name
        assert pd.read_csv(results / "forgetting_scores.csv")["run"].tolist() == ["seed-0"]
        assert (results / "notes.csv").read_text() == "run,x\nother,1\n"
        provenance = json.loads((results / "provenance.json").read_text())
        assert provenance["continued"] == {"seed-0_curriculum-single": "seed-0"}
        assert [r["path"] for r in provenance["roots"]] == [str(before), str(longer)]
    assert not list(tmp_path.glob(".results.collect-*"))  # the fresh collection is removed


def test_update_replaces_a_run_collected_again_and_keeps_ambiguous_ones_apart(tmp_path):
    results = tmp_path / "results"
    first = tmp_path / "a" / "stage"
    _run(first, "r", 100, {5: 1.0}, curriculum={"kind": "single"})
    _run(first, "s1", 100, {5: 3.0}, curriculum={"kind": "multi"})
    assert main(["sweep", "collect", str(first), "--out", str(results)]) == 0
    again = tmp_path / "b" / "stage"
    _run(again, "r", 200, {5: 2.0}, curriculum={"kind": "single"})  # the same run name: replaced
    # two fresh runs with s1's identifying columns (another configuration each): neither continues it
    _run(again, "m1", 300, {5: 4.0}, curriculum={"kind": "multi"}, model={"placement": "inside"})
    _run(again, "m2", 300, {5: 5.0}, curriculum={"kind": "multi"}, model={"nonlinearity": "tanh"})
    assert main(["sweep", "collect", str(again), "--out", str(results), "--update"]) == 0
    taus = pd.read_csv(results / "timescales.csv")
    assert dict(zip(taus["run"], taus["tau_mean"])) == {"r": 2.0, "s1": 3.0, "m1": 4.0, "m2": 5.0}
    assert len(taus) == 4 and json.loads((results / "provenance.json").read_text())["continued"] == {}


def test_update_into_a_file_is_refused_and_writes_nothing(tmp_path, capsys):
    root = tmp_path / "stage"
    _run(root, "r", 100, {5: 1.0}, curriculum={"kind": "single"})
    target = tmp_path / "results"
    target.write_text("not a directory")
    assert main(["sweep", "collect", str(root), "--out", str(target), "--update"]) == 2
    assert "is a file; give a directory" in capsys.readouterr().err
    assert target.read_text() == "not a directory" and not list(tmp_path.glob(".results.collect-*"))


def test_update_into_results_with_an_empty_runs_table_collects_afresh(tmp_path):
    """An empty runs.csv (a results directory whose collection listed no run) holds nothing to keep."""
    root = tmp_path / "stage"
    _run(root, "r", 100, {5: 1.0}, curriculum={"kind": "single"})
    results = tmp_path / "results"
    results.mkdir()
    (results / "runs.csv").write_text("")
    assert main(["sweep", "collect", str(root), "--out", str(results), "--update"]) == 0
    runs = pd.read_csv(results / "runs.csv")
    assert runs["run"].tolist() == ["r"] and runs["steps"].tolist() == [100]


def test_update_refuses_a_shorter_copy_of_a_run_it_holds(tmp_path, capsys):
    """A retrace stopped partway (fewer steps under the same name) would replace the longer run's
    rows: refused, nothing written."""
    results = tmp_path / "results"
    whole = tmp_path / "gone" / "stage"
    _run(whole, "seed-1_multi", 33_100, {30: 4.3, 50: 3.5}, curriculum={"kind": "multi"})
    assert main(["sweep", "collect", str(whole), "--out", str(results)]) == 0
    before = {p.name: p.read_bytes() for p in results.iterdir()}
    partway = tmp_path / "here" / "stage"
    _run(partway, "seed-1_multi", 12_600, {30: 5.0}, curriculum={"kind": "multi"})
    assert main(["sweep", "collect", str(partway), "--out", str(results), "--update"]) == 2
    err = capsys.readouterr().err
    assert "run 'seed-1_multi' has 12600 steps in the sweep collected but 33100 in" in err and len(err.splitlines()) == 1
    assert {p.name: p.read_bytes() for p in results.iterdir()} == before
    assert not list(tmp_path.glob("gone/.results.collect-*")) and not list(tmp_path.glob(".results.collect-*"))
    _run(partway, "seed-2_multi", 100, {5: 1.0}, curriculum={"kind": "multi"}, seed=2)  # no such run before
    (partway / "seed-1_multi" / "summary.json").write_text(json.dumps({"steps": 33_100, "stop_reason": "target_n"}))
    assert main(["sweep", "collect", str(partway), "--out", str(results), "--update"]) == 0  # trained to its end


def test_update_identifies_networks_only_the_results_list_and_keeps_each_level(tmp_path):
    """A robustness stage on this machine compared its continued network with a multi-head run
    collected on the earlier machine (not a root now): those rows are identified from the results'
    runs.csv, and each network keeps its rows at N = 17 beside the new ones at N = 27, in the tables
    whose ``n`` is a head's N (continuous: the level is ``n_max``) as in the others."""
    results = tmp_path / "results"
    before = tmp_path / "gone" / "k24_parity"
    _run(before, "seed-0_single", 40_000, {17: 1.17}, curriculum={"kind": "single"}, training={"max_epochs": 400})
    _run(before, "seed-0_multi", 33_100, {17: 3.0}, curriculum={"kind": "multi"})

    def continuous(directory, network, n_max):
        pd.DataFrame([[network, 1, 0, n, 0.9, n_max] for n in range(2, n_max + 1)],
                     columns=["network", "k", "head", "n", "accuracy", "n_max"]).to_csv(directory / "continuous.csv",
                                                                                         index=False)

    old = tmp_path / "gone" / "k24_parity.robustness"
    _perturbation(old, "seed-0_multi", 17, 0.9)
    continuous(old, "seed-0_multi", 17)
    assert main(["sweep", "collect", str(before), "--out", str(results)]) == 0
    longer = tmp_path / "k24_single_long"
    _run(longer, "seed-0", 150_000, {27: 1.6}, curriculum={"kind": "single"}, training={"max_epochs": 1500})
    new = tmp_path / "k24_single_long.robustness"
    _perturbation(new, "seed-0_multi", 27, 0.7)
    continuous(new, "seed-0_multi", 27)
    assert main(["sweep", "collect", str(longer), "--out", str(results), "--update"]) == 0
    rob = pd.read_csv(results / "robustness.csv")
    assert sorted(set(zip(rob["run"], rob["curriculum"], rob["n"]))) == [("seed-0_multi", "multi", 17),
                                                                        ("seed-0_multi", "multi", 27)]
    cont = pd.read_csv(results / "continuous.csv")
    assert cont.groupby("n_max").size().to_dict() == {17: 16, 27: 26} and set(cont["curriculum"]) == {"multi"}
    # without the results' runs.csv to identify it, a network no root holds is left out
    assert main(["sweep", "collect", str(longer), "--out", str(tmp_path / "alone")]) == 0
    assert not (tmp_path / "alone" / "robustness.csv").is_file() or \
        pd.read_csv(tmp_path / "alone" / "robustness.csv").empty


def test_collect_records_the_revisions_of_a_stage_and_of_its_analyses(tmp_path):
    """run.sh pins STAGE, STAGE:analyze and STAGE:post each at a revision of its own, recorded
    beside the sweep root; provenance.json names all three."""
    root = tmp_path / "h19_curricula"
    _run(root, "seed-0", 100, {5: 1.0}, curriculum={"kind": "single"})
    for name, rev in (("h19_curricula", "aaa"), ("h19_curricula.analyze", "bbb"), ("h19_curricula.post", "ccc")):
        (tmp_path / f"{name}.revision").write_text(rev + "\n")
    assert main(["sweep", "collect", str(root), "--out", str(tmp_path / "results")]) == 0
    entry = json.loads((tmp_path / "results" / "provenance.json").read_text())["roots"][0]
    assert (entry["revision"], entry["analysis_revision"], entry["post_revision"]) == ("aaa", "bbb", "ccc")
