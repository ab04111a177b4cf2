"""Checkpoints: round trip, safety, and fidelity to the paper code's own networks."""

from __future__ import annotations

import pytest
import torch

from rnn_timescales.config import build_config
from rnn_timescales.studies.evaluate import evaluate_checkpoint
from rnn_timescales.models import build_model
from rnn_timescales.runs.paper import parse_reference_name
from rnn_timescales.runs import (
    CheckpointError,
    load_any,
    load_checkpoint,
    save_checkpoint,
)


def test_round_trip_keeps_weights_config_and_heads(tmp_path):
    config = build_config("paper", overrides=["model.hidden_size=12", "model.n_heads=5", "task.name=dms"])
    torch.manual_seed(0)
    model = build_model(config)
    path = save_checkpoint(tmp_path / "c.safetensors", model, config=config, level={"ns": [2, 3, 4]}, epoch=7, accuracy=[1.0, 0.99, 0.985])
    loaded = load_checkpoint(path)
    assert loaded.config == config and loaded.ns == [2, 3, 4] and loaded.epoch == 7 and loaded.task == "dms"
    assert loaded.accuracy == [1.0, 0.99, 0.985] and loaded.source == "ours"
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value)
    x = (torch.rand(10, 3, 1) < 0.5).float()
    h0 = model.init_state(3)
    torch.testing.assert_close(loaded.model(x, h0, n_heads=3).logits, model(x, h0, n_heads=3).logits)
    assert not list(tmp_path.glob(".*tmp"))  # the atomic write left no temporary file


def test_corrupt_checkpoint_is_named(tmp_path):
    config = build_config("paper", overrides=["model.hidden_size=8"])
    path = save_checkpoint(tmp_path / "c.safetensors", build_model(config), config=config, level={"ns": [2]}, epoch=0)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt"):
        load_any(path)
    path.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(CheckpointError):
        load_any(path)


def test_reference_names_parse():
    assert parse_reference_name("x/cumulative_parity_network_1/rnn_N2_N5") == ("multi", "parity", [2, 3, 4, 5])
    assert parse_reference_name("x/single_dms_network_3/rnn_N7_N7") == ("single", "dms", [7])
    assert parse_reference_name("x/sliding_10_5_parity_network_1/rnn_N2_N11")[2] == list(range(2, 12))
    assert parse_reference_name("x/single_parity_network_1/rnn_init") == ("single", "parity", None)
    with pytest.raises(CheckpointError):
        parse_reference_name("x/somewhere/rnn_N2_N5")


def _evaluate(path, batches=20):
    return evaluate_checkpoint(load_any(path), n_batches=batches, batch_size=256, n_streams=10, seed=0)


def test_reference_multi_head_network_scores_on_every_head(reference_dir):
    table = _evaluate(reference_dir / "cumulative_parity_network_1" / "rnn_N2_N11")
    assert table["n"].tolist() == list(range(2, 12))
    assert (table["accuracy"] >= 0.99).all(), table
    assert (table["streaming_accuracy"] >= 0.99).all(), table


@pytest.mark.parametrize("n", range(2, 12))
def test_reference_single_head_networks_score_on_their_n(reference_dir, n):
    table = _evaluate(reference_dir / "single_parity_network_1" / f"rnn_N{n}_N{n}", batches=10)
    assert table["n"].tolist() == [n]
    assert table["accuracy"].item() >= 0.97, table
    assert table["streaming_accuracy"].item() >= 0.95, table


def test_reference_untrained_network_is_near_chance(reference_dir):
    table = _evaluate(reference_dir / "cumulative_parity_network_1" / "rnn_init", batches=10)
    # For N = 2 parity with p ~ U(0,1), always answering "even" scores 2/3; chance in streams is 1/2.
    assert table["accuracy"].item() < 0.72
    assert abs(table["streaming_accuracy"].item() - 0.5) < 0.05


@pytest.mark.parametrize("overrides, files, latest", [
    # [K24]'s rule: training ends on a level not solved; the latest network is the last solved one
    (["task.name=parity", "curriculum.kind=single"], ["rnn_N2_N2", "rnn_N3_N3", "final"], "rnn_N3_N3"),
    (["task.name=parity", "curriculum.kind=single"], ["final"], "final"),  # solved nothing
    # [H19]'s DeCu: the delays advance at fixed steps and the network trains at T_max 20 to the end
    (["task.name=delayed-recall", "curriculum.kind=delay", "curriculum.advance=schedule",
      "curriculum.schedule=[10,20]"], ["rnn_max_delay6", "rnn_max_delay8", "final"], "final"),
    (["task.name=delayed-recall", "curriculum.kind=delay", "curriculum.advance=schedule",
      "curriculum.schedule=[10,20]"], ["rnn_max_delay6", "rnn_max_delay8"], "rnn_max_delay8"),  # still training
    (["task.name=delayed-recall", "curriculum.kind=none", "curriculum.advance=never"], ["final"], "final"),
])
def test_latest_network_of_a_run_follows_how_its_curriculum_advances(tmp_path, overrides, files, latest):
    from rnn_timescales.runs import latest_checkpoint

    build_config("quick", overrides=overrides).save(tmp_path / "config.yaml")
    (tmp_path / "checkpoints").mkdir()
    for name in ["init", *files]:
        (tmp_path / "checkpoints" / f"{name}.safetensors").write_bytes(b"")
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoints" / f"{latest}.safetensors"
