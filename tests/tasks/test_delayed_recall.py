"""Delayed recall [H19]: trial structure, data sets, curricula, encoder, extrapolation, CLI.

The trial structure is pinned on a hand-checked case (two trials whose timing is written out by
hand) and on the statistics of many sampled trials; the data loaders read tiny IDX and CIFAR-10
files written here, and every malformed one gets the one-line error naming its path.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import assert_refused, tiny_overrides

from rnn_timescales.analysis.extrapolation import extrapolation_delays, recall_by_delay
from rnn_timescales.cli import main
from rnn_timescales.config import ConfigError, RunConfig, build_config
from rnn_timescales.curricula import build_curriculum
from rnn_timescales.models import EncodedModel, build_model
from rnn_timescales.models.base import RecurrentModel
from rnn_timescales.models.readout import MultiHeadReadout
from rnn_timescales.tasks import IGNORE, build_task, get_task
from rnn_timescales.tasks.datasets import DatasetError, load_dataset
from rnn_timescales.runs import load_any, save_checkpoint
from rnn_timescales.training.steps import batch_loss
from rnn_timescales.training.trainer import train

G = torch.Generator


def _on_grid(frame: torch.Tensor, scale: float) -> torch.Tensor:
    """Whether each row of ``frame`` (..., D) is a clean image: every pixel a multiple of ``scale`` in [0, 1]."""
    k = frame / scale
    return ((k - k.round()).abs() < 1e-4).all(-1) & (frame >= 0).all(-1) & (frame <= 1).all(-1)


class _Scripted(RecurrentModel):
    """A stand-in network of 11 units read by an identity readout, so its states are its logits:
    ``states(inputs)`` gives them. It keeps the inputs it was run on."""

    name = "scripted-test"

    def __init__(self, states):
        super().__init__()
        self.hidden_size, self.input_size, self.states = 11, 65, states
        self.readout = MultiHeadReadout(11, 1, 11)
        with torch.no_grad():
            self.readout.weight.copy_(torch.eye(11).unsqueeze(0))
            self.readout.bias.zero_()
        self.seen: list[torch.Tensor] = []

    @classmethod
    def from_config(cls, config, **sizes):
        raise NotImplementedError

    def init_state(self, batch_size, generator=None):
        return torch.zeros(batch_size, 11)

    def step(self, state, x):
        raise NotImplementedError

    def run(self, inputs, state0):
        self.seen.append(inputs)
        return self.states(inputs)


# --- the trial structure -------------------------------------------------------------------------
def test_trials_hand_checked():
    """Two trials of 8 steps, T_max = 7: stimulus at 0 and 2, response at 4 and 6."""
    task = get_task("delayed-recall", length=8, max_delay=7)
    t_s, t_a = torch.tensor([0, 2]), torch.tensor([4, 6])
    b = task.trials(t_s, t_a, torch.tensor([7, 7]), 8, 11, G().manual_seed(0))
    c0, c1 = b.labels.tolist()
    assert 1 <= c0 <= 10 and 1 <= c1 <= 10
    x = IGNORE
    assert b.targets[..., 0].T.tolist() == [[0, 0, 0, 0, c0, 0, 0, x],
                                            [0, 0, 0, 0, 0, 0, c1, x]]
    assert b.weights.T.tolist() == [[1, 1, 1, 1, 20, 1, 1, 1],
                                    [1, 1, 1, 1, 1, 1, 20, 1]]
    assert b.inputs[..., -1].T.tolist() == [[0, 0, 0, 0, 1, 0, 0, 0],
                                            [0, 0, 0, 0, 0, 0, 1, 0]]
    clean = _on_grid(b.inputs[..., :-1], 1 / 16).T.tolist()
    assert clean == [[True] + [False] * 7, [False, False, True] + [False] * 5]
    # the clean frame is a training image of the trial's digit
    data = load_dataset("digits")
    for trial, (when, label) in enumerate(zip((0, 2), (c0, c1))):
        image = (b.inputs[when, trial, :-1] * 16).round().to(torch.uint8)
        matches = (data.train.pixels == image).all(-1)
        assert matches.any() and (data.train.labels[matches] == label - 1).all()
    assert b.class_mask.tolist() == [[True] * 11]
    assert b.inputs.shape == (8, 2, 65) and not b.final_only


def test_response_only_loss_and_vocabulary_mask():
    task = get_task("delayed-recall", length=8, max_delay=7, loss_steps="response")
    b = task.trials(torch.tensor([1]), torch.tensor([5]), torch.tensor([7]), 8, 4, G().manual_seed(1))
    assert b.targets[..., 0, 0].tolist() == [IGNORE] * 5 + [b.labels.item()] + [IGNORE] * 2
    assert 1 <= b.labels.item() <= 3  # a vocabulary of 4 classes: null and digits 0, 1, 2
    assert b.class_mask.tolist() == [[True] * 4 + [False] * 7]


@pytest.mark.parametrize("t_max", [20, 6])
def test_sampled_trials_follow_the_paper(t_max):
    task = get_task("delayed-recall")
    b = task.sample({"n_classes": 11, "max_delay": t_max}, 6000, G().manual_seed(t_max))
    t_s, t_a = b.stimulus_time, b.response_time
    assert t_s.min() == 0 and t_s.max() == t_max - 5
    assert (t_a - t_s >= 4).all() and t_a.max() == t_max - 1
    counts = torch.bincount(t_s, minlength=t_max - 4).double()
    assert ((counts / counts.mean() - 1).abs() < 0.15).all()  # uniform stimulus time
    first = t_a[t_s == 0]  # given t_s = 0, t_a uniform in 4 ... t_max - 1
    spread = torch.bincount(first - 4, minlength=t_max - 4).double()
    assert (spread > 0).all() and ((spread / spread.mean() - 1).abs() < 0.35).all()
    rows = torch.arange(6000)
    assert (b.inputs[..., -1].sum(0) == 1).all() and (b.inputs[t_a, rows, -1] == 1).all()
    clean = _on_grid(b.inputs[..., :-1], 1 / 16)
    assert (clean.sum(0) == 1).all() and clean[t_s, rows].all()  # exactly one stimulus frame
    steps = torch.arange(20).unsqueeze(1)
    expected = torch.where(steps < t_max, 0, IGNORE).expand(20, 6000).clone()
    expected[t_a, rows] = b.labels
    assert torch.equal(b.targets[..., 0], expected)
    assert set(b.labels.tolist()) == set(range(1, 11))
    assert (b.weights[t_a, rows] == 20).all() and b.weights.sum() == 6000 * (19 + 20)


def test_noise_frames_have_the_data_set_statistics():
    for noise in ("gaussian", "uniform"):
        task = get_task("delayed-recall", noise=noise)
        b = task.sample(task.default_level(), 500, G().manual_seed(2))
        frames = b.inputs[..., :-1]
        mask = torch.ones(frames.shape[:2], dtype=torch.bool)
        mask[b.stimulus_time, torch.arange(500)] = False
        noise_pixels = frames[mask]
        data = load_dataset("digits")
        assert abs(noise_pixels.mean().item() - data.mean) < 0.005
        assert abs(noise_pixels.std().item() - data.std) < 0.005
        if noise == "uniform":
            half = 3 ** 0.5 * data.std
            assert noise_pixels.min() >= data.mean - half - 1e-5 and noise_pixels.max() <= data.mean + half + 1e-5
    fixed = get_task("delayed-recall", noise_mean=0.5, noise_std=0.0)
    frames = fixed.trials(torch.tensor([0]), torch.tensor([4]), torch.tensor([20]), 6, 11, G()).inputs[1:, 0, :-1]
    assert (frames == 0.5).all()
    assert abs(load_dataset("digits").mean - 0.3058) < 1e-4  # the training split of the 8 x 8 digits, in [0, 1]


def test_same_seed_same_trials_and_held_out_images():
    task = get_task("delayed-recall")
    level = task.default_level()
    a, b = (task.sample(level, 64, G().manual_seed(5)) for _ in range(2))
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert not torch.equal(a.inputs, task.sample(level, 64, G().manual_seed(6)).inputs)
    data = load_dataset("digits")
    assert (data.train.pixels.shape[0], data.test.pixels.shape[0]) == (1438, 359)
    test_images = {bytes(row.tolist()) for row in data.test.pixels}
    held = task.sample_held_out(level, 200, G().manual_seed(7))
    shown = (held.inputs[held.stimulus_time, torch.arange(200), :-1] * 16).round().to(torch.uint8)
    assert all(bytes(row.tolist()) in test_images for row in shown)


def test_score_counts_the_response_step_only():
    task = get_task("delayed-recall", length=8, max_delay=7)
    b = task.trials(torch.tensor([0, 1, 2]), torch.tensor([4, 5, 6]), torch.tensor([7, 7, 7]), 8, 11, G().manual_seed(3))
    logits = torch.zeros(8, 3, 1, 11)
    logits[..., 0, 0] = 1.0  # null everywhere ...
    logits[4, 0, 0, b.labels[0]] = 2.0  # ... trial 0 right at t_a
    logits[5, 1, 0, (b.labels[1] % 10) + 1] = 2.0  # trial 1 wrong at t_a
    logits[2, 2, 0, 3] = 2.0  # trial 2 answers early: null at t_a is wrong, and one null step is missed
    correct, scored = task.score(logits, b)
    assert (correct.tolist(), scored.tolist()) == ([1], [3])
    null_correct, null_scored = task.score_null(logits, b)
    assert (null_correct.tolist(), null_scored.tolist()) == ([17], [18])  # 6 steps per trial before T_max


def test_loss_weighs_the_response_step_twenty_to_one():
    task = get_task("delayed-recall", length=6, max_delay=5, min_gap=2)
    b = task.trials(torch.tensor([0]), torch.tensor([3]), torch.tensor([5]), 6, 11, G().manual_seed(4))

    logits = torch.randn(6, 1, 11, generator=G().manual_seed(8))
    ce = torch.nn.functional.cross_entropy(logits[:5, 0], b.targets[:5, 0, 0], reduction="none")
    w = torch.tensor([1.0, 1, 1, 20, 1])
    assert torch.allclose(batch_loss(_Scripted(lambda inputs: logits), b), (w * ce).sum() / w.sum())


def test_input_source_strings_trials_together():
    task = get_task("delayed-recall")
    source = task.input_source(3, G().manual_seed(0))
    x = torch.cat([source(7), source(50)])
    assert x.shape == (57, 3, 65) and set(x[..., -1].sum(0).tolist()) <= {2.0, 3.0}


# --- data sets -----------------------------------------------------------------------------------
def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_mnist(folder: Path, n_train: int = 20, n_test: int = 10, gz: bool = True) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": np.arange(n_test)[::-1] % 10,
    }
    folder.mkdir(parents=True, exist_ok=True)
    for i, (name, array) in enumerate(arrays.items()):
        data = _idx(array)
        if gz and i % 2 == 0:  # a mix of gzipped and plain files
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return arrays


def _cifar_batch(n: int, seed: int) -> tuple[bytes, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    pixels = rng.integers(0, 256, (n, 3072))
    return np.concatenate([labels[:, None], pixels], axis=1).astype(np.uint8).tobytes(), pixels, labels


def _write_cifar(folder: Path, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    train = []
    for k in range(1, 6):
        data, pixels, labels = _cifar_batch(n, k)
        (folder / f"data_batch_{k}.bin").write_bytes(data)
        train.append(pixels)
    data, test_pixels, _ = _cifar_batch(n, 9)
    (folder / "test_batch.bin").write_bytes(data)
    return np.concatenate(train), test_pixels


def test_mnist_idx_files_plain_or_gzipped(tmp_path):
    arrays = _write_mnist(tmp_path / "mnist")
    data = load_dataset("mnist", tmp_path / "mnist")
    assert data.image_shape == (1, 28, 28) and data.train.pixels.shape == (20, 784) and data.test.pixels.shape == (10, 784)
    images, labels = arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"]
    for k in range(10):  # sorted by label: each label's images in their original order
        rows = data.train.pixels[data.train.offsets[k]: data.train.offsets[k] + data.train.counts[k]]
        assert np.array_equal(rows.numpy(), images[labels == k].reshape(-1, 784))
    scaled = images / 255.0
    assert data.mean == pytest.approx(scaled.mean()) and data.std == pytest.approx(scaled.std())
    task = get_task("delayed-recall", dataset="mnist", data_dir=str(tmp_path / "mnist"))
    b = task.sample_held_out(task.default_level(), 4, G().manual_seed(0))
    assert b.inputs.shape == (20, 4, 785)


def test_cifar10_binary_batches(tmp_path):
    train, test = _write_cifar(tmp_path / "cifar-10-batches-bin")
    for where in (tmp_path, tmp_path / "cifar-10-batches-bin"):  # the folder or its parent
        data = load_dataset("cifar10", where)
        assert data.image_shape == (3, 32, 32) and data.train.pixels.shape == (50, 3072)
        assert np.array_equal(np.sort(data.test.pixels.numpy(), axis=0), np.sort(test, axis=0))
        assert data.mean == pytest.approx((train / 255.0).mean())
    assert get_task("delayed-recall", dataset="cifar10", data_dir=str(tmp_path)).input_size == 3073


def _corrupt_mnist(folder: Path, how: str) -> Path:
    _write_mnist(folder, gz=False)
    target = folder / "train-images-idx3-ubyte"
    data = target.read_bytes()
    if how == "missing":
        target.unlink()
    elif how == "magic":
        target.write_bytes(b"\x00\x00\x08\x02" + data[4:])
    elif how == "truncated":
        target.write_bytes(data[:-100])
    elif how == "bad-gzip":
        target.unlink()
        (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(data)[:40])
        return folder / "train-images-idx3-ubyte.gz"
    elif how == "label-count":
        (folder / "train-labels-idx1-ubyte").write_bytes(_idx(np.arange(19) % 10))
        return folder / "train-labels-idx1-ubyte"
    elif how == "label-range":
        (folder / "train-labels-idx1-ubyte").write_bytes(_idx(np.arange(20) % 12))
        return folder / "train-labels-idx1-ubyte"
    elif how == "label-absent":
        (folder / "train-labels-idx1-ubyte").write_bytes(_idx(np.arange(20) % 9))
        return folder / "train-labels-idx1-ubyte"
    return target


@pytest.mark.parametrize("how, message", [
    ("missing", "not found; task.data_dir must hold the IDX files"),
    ("magic", "is not an IDX file of unsigned bytes with 3 dimensions"),
    ("truncated", "is truncated or padded"),
    ("bad-gzip", "damaged gzip file"),
    ("label-count", "holds 19 labels for 20 images"),
    ("label-range", "holds label 11; expected labels 0-9"),
    ("label-absent", "label 9 has none"),
])
def test_malformed_mnist_files_are_named_in_one_line(tmp_path, how, message):
    folder = tmp_path / how
    path = _corrupt_mnist(folder, how)
    with pytest.raises(DatasetError, match=message) as info:
        load_dataset("mnist", folder)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("how, message", [
    ("missing", "not found; task.data_dir must hold the binary batches"),
    ("size", "not a whole number of records"),
    ("label", "holds label 10"),
])
def test_malformed_cifar_files_are_named_in_one_line(tmp_path, how, message):
    _write_cifar(tmp_path)
    target = tmp_path / "data_batch_3.bin"
    if how == "missing":
        target.unlink()
    elif how == "size":
        target.write_bytes(target.read_bytes()[:-1])
    else:
        data = bytearray(target.read_bytes())
        data[3073] = 10
        target.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=message) as info:
        load_dataset("cifar10", tmp_path)
    assert str(target) in str(info.value) and "\n" not in str(info.value)


def test_constructing_a_task_reads_no_file(tmp_path):
    task = get_task("delayed-recall", dataset="mnist", data_dir=str(tmp_path / "nowhere"))
    assert task.input_size == 785 and task.image_shape == (1, 28, 28)  # sizes without reading anything
    with pytest.raises(DatasetError, match="is not a folder"):
        task.check()
    with pytest.raises(ConfigError, match="task.data_dir is required"):
        build_config("quick", overrides=["task.name=delayed-recall", "task.dataset=cifar10"])


@pytest.mark.parametrize("setup, expect", [
    ("none", "is not a folder"),
    ("empty", "not found; task.data_dir must hold the IDX files"),
    ("magic", "is not an IDX file"),
])
def test_cli_refuses_missing_data_before_writing(tmp_path, monkeypatch, capsys, setup, expect):
    if setup == "empty":
        (tmp_path / "data").mkdir()
    elif setup == "magic":
        _corrupt_mnist(tmp_path / "data", "magic")
    monkeypatch.chdir(tmp_path)
    line = assert_refused(["train", "--no-progress", "--task", "delayed-recall", "--max-epochs", "1", "--out", "run",
                           "--set", "task.dataset=mnist", "--set", "task.data_dir=data"], capsys, tmp_path)
    assert expect in line and "data" in line and not (tmp_path / "run").exists()


# --- curricula -----------------------------------------------------------------------------------
def _levels(kind: str, overrides=()) -> list[int]:
    config = build_config("quick", overrides=["task.name=delayed-recall", f"curriculum.kind={kind}", *overrides])
    curriculum = build_curriculum(config.curriculum, build_task(config.task))
    values = [curriculum.level_value(curriculum.level)]
    while True:
        curriculum.advance()
        if curriculum.finished:
            return values
        values.append(curriculum.level_value(curriculum.level))


def test_delay_and_vocabulary_curricula_levels():
    assert _levels("delay") == [6, 8, 10, 12, 14, 16, 18, 20]
    assert _levels("vocabulary") == [3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert _levels("delay", ["curriculum.start=5", "curriculum.increment=4"]) == [5, 9, 13, 17, 20]
    assert _levels("vocabulary", ["curriculum.start=6", "task.n_classes=8"]) == [6, 7, 8]
    config = build_config("quick", overrides=["task.name=delayed-recall", "curriculum.kind=vocabulary"])
    c = build_curriculum(config.curriculum, build_task(config.task))
    assert c.level == {"n_classes": 3, "max_delay": 20} and c.label(c.level) == "n_classes3"


@pytest.mark.parametrize("overrides, message", [
    (["curriculum.kind=delay", "curriculum.start=24"], "above the task's own max_delay"),
    (["curriculum.kind=delay", "curriculum.start=4"], r"curriculum.start \(4\): max_delay must be in 5..20"),
    (["curriculum.kind=vocabulary", "curriculum.increment=0"], "curriculum.increment"),
    (["curriculum.kind=multi"], "changes the task's ns, which task 'delayed-recall' does not have"),
    (["task.max_delay=30"], "must not exceed task.length"),
    (["model.encoder=cnn", "task.name=parity"], "needs a task whose input is images"),
    (["curriculum.kind=delay", "curriculum.advance=schedule", "curriculum.schedule=[5, 3]"], "ascending"),
])
def test_bad_settings_are_one_line_config_errors(overrides, message):
    with pytest.raises(ConfigError, match=message) as info:
        build_config("quick", overrides=["task.name=delayed-recall", *overrides])
    assert "\n" not in str(info.value)


def test_delay_curricula_refuse_other_tasks():
    with pytest.raises(ConfigError, match="changes the task's max_delay, which task 'parity' does not have"):
        build_config("quick", overrides=["curriculum.kind=delay"])


def test_h19_preset_is_the_papers_setup(tmp_path):
    c = build_config("h19", overrides=["task.dataset=digits"])
    assert (c.model.hidden_size, c.model.n_heads, c.task.name) == (200, 1, "delayed-recall")
    assert (c.optimizer.name, c.optimizer.lr, c.optimizer.grad_clip) == ("adam", 1e-5, None)
    assert (c.optimizer.lr_decay_steps, c.optimizer.lr_decay_factor) == ([120_000], 0.1)
    assert (c.training.batch_size, c.training.steps_per_epoch * c.training.max_epochs) == (128, 140_000)
    assert c.curriculum.kind == "delay" and c.curriculum.advance == "schedule"
    assert c.curriculum.schedule == [20_000, 30_000, 40_000, 50_000, 60_000, 70_000, 80_000]  # recorded in config.yaml
    p = c.task.params
    assert (p["length"], p["max_delay"], p["n_classes"], p["min_gap"], p["response_weight"]) == (20, 20, 11, 4, 20.0)
    voc = build_config("h19", overrides=["task.dataset=digits", "curriculum.kind=vocabulary"])
    assert voc.curriculum.schedule == [8_000, 16_000, 26_000, 36_000, 48_000, 62_000, 78_000, 98_000]
    none = build_config("h19", overrides=["task.dataset=digits", "curriculum.kind=none"])
    assert none.curriculum.schedule == []
    with pytest.raises(ConfigError, match="task.data_dir is required for task.dataset 'mnist'"):
        build_config("h19")
    _write_mnist(tmp_path / "m")
    mnist = build_config("h19", overrides=[f"task.data_dir={tmp_path / 'm'}"])
    assert mnist.task.params["dataset"] == "mnist" and build_task(mnist.task).input_size == 785
    c.save(tmp_path / "c.yaml")
    assert RunConfig.load(tmp_path / "c.yaml") == c


def test_quick_preset_has_a_layer_for_delayed_recall():
    quick = build_config("quick", overrides=["task.name=delayed-recall"])
    assert (quick.model.type, quick.optimizer.name, quick.model.hidden_size) == ("gru", "adam", 128)
    assert quick.training.batch_size == 128 and quick.curriculum.threshold == 0.97
    assert quick.curriculum.advance == "accuracy" and quick.training.time_budget_s == 300
    mine = build_config("quick", overrides=["task.name=delayed-recall", "optimizer.lr=0.01", "model.hidden_size=64"])
    assert (mine.optimizer.lr, mine.model.hidden_size) == (0.01, 64)  # the user's settings win
    assert build_config("quick").optimizer.name == "sgd"  # other tasks keep the quick preset as it is


def test_schedule_advances_and_learning_rate_decay(tmp_path):
    """Advances at fixed steps (checked at epoch ends), a checkpoint per level, the level logged
    in metrics.csv, and the learning rate divided by ten after step 3."""
    config = build_config("quick", overrides=tiny_overrides(hidden=8, batch=8, steps=2, eval_batches=1) + [
        "task.name=delayed-recall", "model.type=leaky_rnn", "curriculum.kind=delay", "curriculum.start=14",
        "curriculum.advance=schedule", "curriculum.schedule=[2, 4, 8]", "training.max_epochs=5",
        "optimizer.lr_decay_steps=[3]", "training.time_budget_s=null"])
    result = train(config, tmp_path / "run", progress=False)
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert metrics["step"].tolist() == [2, 4, 6, 8, 10]
    assert metrics["level_name"].unique().tolist() == ["max_delay"]
    assert metrics["level"].tolist() == [14, 16, 18, 18, 20]
    assert metrics["lr"].tolist() == pytest.approx([1e-3, 1e-4, 1e-4, 1e-4, 1e-4])
    names = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert {"rnn_max_delay14.safetensors", "rnn_max_delay16.safetensors", "rnn_max_delay18.safetensors"} <= set(names)
    assert result.stop_reason == "max_epochs"
    assert load_any(tmp_path / "run" / "checkpoints" / "rnn_max_delay16.safetensors").level == {"n_classes": 11,
                                                                                                 "max_delay": 16}


# --- the CNN front end ---------------------------------------------------------------------------
def test_cnn_encoder_is_part_of_the_model(tmp_path):
    config = build_config("quick", overrides=["task.name=delayed-recall", "model.type=leaky_rnn", "model.hidden_size=8",
                                              "model.encoder=cnn", "device=cpu"])
    model = build_model(config)
    assert isinstance(model, EncodedModel) and model.input_size == 65 and model.core.input_size == 1024 + 1
    assert any(k.startswith("encoder.convs.0") for k in model.state_dict())
    task = build_task(config.task)
    b = task.sample(task.default_level(), 3, G().manual_seed(0))
    h0 = model.init_state(3, G().manual_seed(1))
    states = model.run(b.inputs[:5], h0)
    h = h0
    for x in b.inputs[:5]:
        h = model.step(h, x)
    assert torch.allclose(states[-1], h, atol=1e-5)  # step applies the encoder too
    loss = batch_loss(model, b, G().manual_seed(2))
    loss.backward()
    assert model.encoder.convs[0].weight.grad.abs().sum() > 0  # trained jointly
    save_checkpoint(tmp_path / "c.safetensors", model, config=config, level=task.default_level(), epoch=0)
    loaded = load_any(tmp_path / "c.safetensors").model
    assert torch.allclose(loaded.run(b.inputs[:5], h0), states, atol=1e-6)
    lstm = build_model(build_config("quick", overrides=["task.name=delayed-recall", "model.type=lstm", "model.hidden_size=8",
                                                        "model.encoder=cnn", "device=cpu"]))
    h0 = lstm.init_state(3)
    activity, final = lstm.run_activity(b.inputs[:5], h0)  # the per-step readouts' path
    trajectory = lstm.run(b.inputs[:5], h0)
    assert lstm.state_size == 16 and torch.allclose(activity, lstm.activity(trajectory), atol=1e-6)
    assert torch.allclose(final, trajectory[-1], atol=1e-6)


# --- extrapolation -------------------------------------------------------------------------------
def test_extrapolation_trials_have_the_asked_delays():
    task = get_task("delayed-recall")
    model = _Scripted(lambda inputs: torch.eye(11)[0].expand(*inputs.shape[:2], 11))  # null everywhere
    level = {"n_classes": 11, "max_delay": 8}
    delays = extrapolation_delays(8, 4, factor=3)
    assert delays == list(range(4, 25))
    table = recall_by_delay(model, task, level, delays, n_trials=30, generator=G().manual_seed(0))
    assert table["delay"].tolist() == delays and (table["n_trials"] == 30).all()
    assert (table["accuracy"] == 0).all() and (table["null_accuracy"] == 1).all()
    assert table["trained"].tolist() == [d <= 7 for d in delays]
    found = []
    for inputs in model.seen:
        clean = _on_grid(inputs[..., :-1], 1 / 16)
        assert (clean.sum(0) == 1).all() and (inputs[..., -1].sum(0) == 1).all()
        t_s, t_a = clean.float().argmax(0), inputs[..., -1].argmax(0)
        assert t_s.max() <= 8 - 5  # stimulus times as trained
        found += (t_a - t_s).tolist()
    assert np.array_equal(np.bincount(found)[4:], np.full(21, 30))
    with pytest.raises(ValueError, match="minimum gap"):
        recall_by_delay(model, task, level, [2, 5], 4)


# --- the command line, end to end ----------------------------------------------------------------
@pytest.fixture(scope="module")
def recall_runs(tmp_path_factory) -> dict[str, Path]:
    """Two tiny runs (delay and vocabulary curricula) and a parity run."""
    root = tmp_path_factory.mktemp("recall")
    runs = {}
    for kind in ("delay", "vocabulary"):
        assert main(["train", "--no-progress", "--task", "delayed-recall", "--model", "leaky_rnn", "--curriculum", kind,
                     "--hidden", "16", "--max-epochs", "2", "--seed", "1", "--out", str(root / kind),
                     "--set", "training.steps_per_epoch=5", "--set", "training.eval_batches=1",
                     "--set", "curriculum.advance=schedule", "--set", "curriculum.schedule=[5]",
                     "--set", "training.batch_size=16",
                     "--set", "device=cpu"]) == 0
        runs[kind] = root / kind
    config = build_config("quick", overrides=tiny_overrides(hidden=8, batch=8, steps=2, eval_batches=1)
                          + ["training.max_epochs=1"])
    train(config, root / "parity", progress=False)
    runs["parity"] = root / "parity"
    return runs


def test_cli_train_evaluate_extrapolate(recall_runs, capsys, tmp_path, monkeypatch):
    metrics = pd.read_csv(recall_runs["delay"] / "metrics.csv")
    assert metrics["level"].tolist() == [6, 8] and metrics["level_name"].iloc[0] == "max_delay"
    assert (recall_runs["delay"] / "checkpoints" / "rnn_max_delay6.safetensors").is_file()
    assert pd.read_csv(recall_runs["vocabulary"] / "metrics.csv")["level"].tolist() == [3, 4]
    capsys.readouterr()
    assert main(["evaluate", str(recall_runs["delay"]), "--json", "--batches", "2", "--batch-size", "32"]) == 0
    report = json.loads(capsys.readouterr().out)
    head = report["heads"][0]
    # a schedule's run is its final network, trained at its last level (T_max 8), not the last one passed (6)
    assert report["level"] == {"n_classes": 11, "max_delay": 8} and head["head"] == 0
    assert 0 <= head["accuracy"] <= 1 and 0 <= head["null_accuracy"] <= 1
    assert main(["extrapolate", str(recall_runs["delay"]), "--json", "--trials", "8", "--max-delay", "12",
                 "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [d["delay"] for d in out["delays"]] == list(range(4, 13)) and out["trained_max_delay"] == 8
    assert all(d["n_trials"] == 8 and 0 <= d["accuracy"] <= 1 for d in out["delays"])
    folder = recall_runs["delay"] / "extrapolation"
    assert (folder / "extrapolation.png").is_file()
    assert len(pd.read_csv(folder / "extrapolation.csv")) == 9
    monkeypatch.chdir(tmp_path)
    assert main(["extrapolate", str(recall_runs["delay"]), str(recall_runs["vocabulary"]), "--json", "--trials", "4",
                 "--labels", "DeCu", "VoCu", "--no-progress"]) == 0
    both = json.loads(capsys.readouterr().out)["runs"]
    assert [r["run"] for r in both] == ["DeCu", "VoCu"]
    assert len(both[1]["delays"]) == 5 * 20 - 3  # the vocabulary run trained T_max = 20: delays 4 ... 100
    assert (tmp_path / "extrapolation" / "DeCu_vs_VoCu" / "extrapolation.png").is_file()


@pytest.mark.parametrize("argv, expect", [
    (["parity"], "extrapolate needs a delayed-recall network"),
    (["delay", "--max-delay", "3"], "below the minimum gap"),
    (["delay", "--labels", "a", "b"], "--labels names 2 networks but 1 were given"),
    (["delay", "--out", "notes"], "holds files that are not an extrapolation"),
    (["delay", "--device", "tpu"], "--device must be"),
])
def test_extrapolate_bad_input_is_one_line(recall_runs, tmp_path, monkeypatch, capsys, argv, expect):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("x")
    monkeypatch.chdir(tmp_path)
    assert expect in assert_refused(["extrapolate", recall_runs[argv[0]], *argv[1:], "--no-progress"], capsys, tmp_path)
