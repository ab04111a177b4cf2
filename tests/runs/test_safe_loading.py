"""Safe loading: nothing read by the toolkit can run code, and damaged files are named, not used."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import save as st_save

from rnn_timescales.config import ConfigError, RunConfig, build_config
from rnn_timescales.models import build_model
from rnn_timescales.runs.paper import read_reference_state_dict
from rnn_timescales.io import tensors_digest
from rnn_timescales.runs import (
    CheckpointError,
    load_any,
    load_checkpoint,
    save_checkpoint,
)
from rnn_timescales.runs.state import StateError, TrainingState, load_state, save_state


class RunsCode:
    """Unpickling this calls os.system (the classic pickle exploit)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def _bombs(folder, marker):
    folder.mkdir(parents=True)
    payload = {"state_dict": {"modulelist.0.weight": RunsCode(f"touch {marker}")}}
    (folder / "rnn_N2_N2").write_bytes(pickle.dumps(payload, protocol=2))  # raw pickle (legacy torch format)
    torch.save(payload, folder / "rnn_N2_N3")  # the zip format torch.save writes
    (folder / "rnn_N2_N4").write_bytes(pickle.dumps(RunsCode(f"touch {marker}"), protocol=4))  # bare object
    return sorted(folder.iterdir())


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_pickle_that_would_run_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "pwned"
    for path in _bombs(tmp_path / "cumulative_parity_network_1", marker):
        with pytest.raises(CheckpointError, match="refusing to load .*(GLOBAL posix.system|Unsupported operand)") as info:
            load_any(path)
        assert "\n" not in str(info.value) and path.name in str(info.value)
    assert not marker.exists()


def test_a_pickle_disguised_as_our_checkpoint_is_never_unpickled(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text("seed: 0\n")
    torch.save({"state_dict": RunsCode("touch pwned")}, run / "checkpoints" / "rnn_N2_N2.safetensors")
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_any(run)
    assert not (tmp_path / "pwned").exists()


def test_reference_reader_accepts_only_tensors(tmp_path):
    torch.save({"state_dict": {"w": torch.ones(2), "note": "text"}}, tmp_path / "f")
    with pytest.raises(CheckpointError, match="state_dict of tensors"):
        read_reference_state_dict(tmp_path / "f")


def test_yaml_tags_that_build_objects_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for text in ("seed: !!python/object/apply:os.system ['touch pwned']\n",
                 "model: !!python/object/new:os.system [touch pwned]\n"):
        (tmp_path / "c.yaml").write_text(text)
        with pytest.raises(ConfigError, match="YAML tag that is not allowed"):
            RunConfig.load(tmp_path / "c.yaml")
    assert not (tmp_path / "pwned").exists()


@pytest.fixture
def checkpoint(tmp_path):
    config = build_config("paper", overrides=["model.hidden_size=8", "model.n_heads=3"])
    model = build_model(config)
    return save_checkpoint(tmp_path / "c.safetensors", model, config=config, level={"ns": [2, 3]}, epoch=4, accuracy=[1.0, 0.99])


@pytest.mark.parametrize("damage", ["truncate", "flip_tensor", "flip_header", "edit_metadata", "append"])
def test_damaged_checkpoints_are_named(checkpoint, damage):
    data = bytearray(checkpoint.read_bytes())
    if damage == "truncate":
        data = data[: len(data) - 7]
    elif damage == "flip_tensor":
        data[-1] ^= 0x01
    elif damage == "flip_header":
        data[12] ^= 0x20
    elif damage == "edit_metadata":
        data = bytearray(bytes(data).replace(b'"epoch":"4"', b'"epoch":"9"'))
    elif damage == "append":
        data += b"\0" * 16
    checkpoint.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as info:
        load_any(checkpoint)
    assert "c.safetensors" in str(info.value) and "\n" not in str(info.value)


def test_version_1_checkpoints_still_load(tmp_path):
    # Written before the digest covered the metadata: its SHA-256 is over the tensors only.
    config = build_config("paper", overrides=["model.hidden_size=8", "model.n_heads=3"])
    tensors = {k: v.detach().clone() for k, v in build_model(config).state_dict().items()}
    metadata = {"format": "rnn-timescales-checkpoint", "version": "1", "config": json.dumps(config.to_dict()),
                "ns": "[2]", "task": "parity", "curriculum": "multi", "epoch": "3", "accuracy": "null",
                "extra": "{}", "sha256": tensors_digest(tensors)}
    (tmp_path / "old.safetensors").write_bytes(st_save(tensors, metadata=metadata))
    loaded = load_checkpoint(tmp_path / "old.safetensors")
    assert loaded.ns == [2] and loaded.epoch == 3


def _state() -> TrainingState:
    generator = torch.Generator().manual_seed(0)
    return TrainingState(config={"seed": 0}, model={"w": torch.arange(6.0)}, optimizer={"state": {}, "param_groups": []},
                         curriculum={"kind": "multi", "level": {"ns": [2]}, "finished": False, "history": []},
                         epoch=3, step=0, global_step=30, loss_sum=torch.tensor(1.5),
                         rng={"generator": generator.get_state(), "numpy_like": np.arange(3, dtype=np.uint32)},
                         rows=[{"epoch": 1, "loss": 0.1 + 0.2}])


def test_training_state_round_trip_is_exact(tmp_path):
    state = _state()
    loaded = load_state(save_state(tmp_path / "s.safetensors", state))
    assert loaded.rows == state.rows and loaded.epoch == 3 and torch.equal(loaded.model["w"], state.model["w"])
    assert torch.equal(loaded.rng["generator"], state.rng["generator"]) and loaded.global_step == 30
    assert loaded.rng["numpy_like"].dtype == np.uint32 and (loaded.rng["numpy_like"] == np.arange(3)).all()
    assert loaded.curriculum == state.curriculum


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_training_states_are_named(tmp_path, damage):
    path = save_state(tmp_path / "s.safetensors", _state())
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[-2] ^= 0x04
    path.write_bytes(bytes(data))
    with pytest.raises(StateError, match="s.safetensors"):
        load_state(path)


def test_a_checkpoint_is_not_taken_for_a_state(checkpoint):
    with pytest.raises(StateError, match="not an rnn-timescales training state"):
        load_state(checkpoint)
