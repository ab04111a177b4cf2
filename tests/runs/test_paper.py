"""import-reference: the paper code's checkpoints become run directories every command accepts."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from conftest import assert_refused

from rnn_timescales.cli import main
from rnn_timescales.runs import list_run_checkpoints, load_any, load_checkpoint


@pytest.fixture(scope="module")
def imported(reference_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("imported")
    assert main(["import-reference", str(reference_dir), "--out", str(root)]) == 0
    return root


def _evaluate(path, capsys, batches="10"):
    capsys.readouterr()
    assert main(["evaluate", str(path), "--json", "--batches", batches, "--seed", "0"]) == 0
    return json.loads(capsys.readouterr().out)["heads"]


def test_one_run_directory_per_reference_network(imported, reference_dir):
    names = sorted(p.name for p in imported.iterdir())
    assert names == ["cumulative_parity_network_1", "single_parity_network_1", "sliding_10_5_parity_network_1"]
    cumulative = imported / "cumulative_parity_network_1"
    assert [p.name for p in list_run_checkpoints(cumulative)] == [
        "init.safetensors", "rnn_N2_N2.safetensors", "rnn_N2_N5.safetensors", "rnn_N2_N8.safetensors",
        "rnn_N2_N11.safetensors",
    ]
    summary = json.loads((cumulative / "summary.json").read_text())
    assert summary["stop_reason"] == "imported" and summary["n_max_solved"] == 11
    sliding = load_checkpoint(imported / "sliding_10_5_parity_network_1" / "checkpoints" / "rnn_N2_N11.safetensors")
    assert sliding.curriculum == "sliding" and sliding.ns == list(range(2, 12))
    assert (sliding.config.curriculum.window, sliding.config.curriculum.forget) == (10, 5)
    single = load_any(imported / "single_parity_network_1")
    assert single.ns == [11] and single.config.model.hidden_size == 500 and single.config.model.n_heads == 100
    assert not list(imported.glob(".*"))  # no temporary directory left behind


def test_imported_weights_are_the_reference_weights(imported, reference_dir):
    for source in sorted((reference_dir / "cumulative_parity_network_1").iterdir()):
        name = "init" if source.name == "rnn_init" else source.name
        ours = load_checkpoint(imported / "cumulative_parity_network_1" / "checkpoints" / f"{name}.safetensors")
        theirs = load_any(source)
        for key, value in theirs.model.state_dict().items():
            assert torch.equal(ours.model.state_dict()[key], value), (source.name, key)
        assert ours.extra["source"] == "paper-code" and len(ours.extra["source_sha256"]) == 64


def test_evaluate_on_imported_multi_head_run(imported, capsys):
    heads = _evaluate(imported / "cumulative_parity_network_1", capsys)
    assert [h["n"] for h in heads] == list(range(2, 12))
    assert min(h["accuracy"] for h in heads) >= 0.99 and min(h["streaming_accuracy"] for h in heads) >= 0.99


@pytest.mark.parametrize("n", [2, 11])
def test_evaluate_on_imported_single_head_checkpoints(imported, capsys, n):
    path = imported / "single_parity_network_1" / "checkpoints" / f"rnn_N{n}_N{n}.safetensors"
    [head] = _evaluate(path, capsys)
    assert head["n"] == n and head["accuracy"] >= 0.97 and head["streaming_accuracy"] >= 0.95


def test_a_bad_file_among_good_ones_imports_nothing(reference_dir, tmp_path, capsys):
    folder = tmp_path / "src" / "cumulative_parity_network_7"
    folder.mkdir(parents=True)
    shutil.copy(reference_dir / "cumulative_parity_network_1" / "rnn_N2_N2", folder / "rnn_N2_N2")
    data = (reference_dir / "cumulative_parity_network_1" / "rnn_N2_N5").read_bytes()
    (folder / "rnn_N2_N5").write_bytes(data[: len(data) // 3])
    out = tmp_path / "out"
    err = assert_refused(["import-reference", folder, "--out", out], capsys, tmp_path)
    assert "rnn_N2_N5" in err and "corrupt" in err


def test_analyze_runs_on_an_imported_run(imported, tmp_path, capsys):
    out = tmp_path / "analysis"
    argv = ["analyze", str(imported / "cumulative_parity_network_1"), "--n", "11", "--steps", "600", "--trials", "1",
            "--burn-in", "50", "--max-lag", "40", "--fit-lag", "20", "--out", str(out), "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    assert (out / "summary.csv").is_file()
