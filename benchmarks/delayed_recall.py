"""Delayed recall: how fast batches are made and trained on, against a per-trial loop.

    python benchmarks/delayed_recall.py [--json] [--rounds 5] [--threads 1]

Cases: making one batch of 128 trials of 20 steps with the digits (65 inputs) and with images of
MNIST's size (785 inputs; random images written to a temporary folder), vectorised as the task does it and with
a loop over trials in the manner of the paper's ``generate_batch`` (one trial at a time, noise
drawn per trial); and one training step (forward, backward, Adam) of a 128-unit GRU and leaky RNN
on a digits batch. Prints the median time of ``--rounds`` rounds and the ratio loop / vectorised.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from rnn_timescales.config import build_config
from rnn_timescales.models import build_model
from rnn_timescales.tasks import build_task
from rnn_timescales.tasks.datasets import ImageDataset
from rnn_timescales.training.steps import train_step


def write_fake_mnist(folder: Path, n: int = 6000) -> None:
    """IDX files of random 28 x 28 images (timing only), read by the task's own loader."""
    rng = np.random.default_rng(0)
    for split in ("train", "t10k"):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        (folder / f"{split}-images-idx3-ubyte").write_bytes(bytes([0, 0, 8, 3]) + b"".join(
            s.to_bytes(4, "big") for s in images.shape) + images.tobytes())
        (folder / f"{split}-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + n.to_bytes(4, "big") + labels.tobytes())


def loop_batch(data: ImageDataset, batch: int, length: int, t_max: int, gap: int, rng: np.random.Generator):
    """One trial at a time, as the paper's code makes its batches (numpy, then one tensor)."""
    d = data.image_size
    pixels = data.train.pixels.numpy()
    offsets, counts = data.train.offsets.numpy(), data.train.counts.numpy()
    inputs = np.zeros((length, batch, d + 1), dtype=np.float32)
    targets = np.full((length, batch), -1, dtype=np.int64)
    for i in range(batch):
        digit = rng.integers(0, 10)
        image = pixels[offsets[digit] + rng.integers(0, counts[digit])] * data.scale
        t_s = rng.integers(0, t_max - gap)
        t_a = rng.integers(t_s + gap, t_max)
        inputs[:, i, :d] = rng.normal(data.mean, data.std, (length, d))
        inputs[t_s, i, :d] = image
        inputs[t_a, i, d] = 1.0
        targets[:t_max, i] = 0
        targets[t_a, i] = digit + 1
    return torch.from_numpy(inputs), torch.from_numpy(targets)


def median_time(fn, rounds: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        write_fake_mnist(Path(folder))
        for name, overrides in (("digits", []), ("mnist-size", ["task.dataset=mnist", f"task.data_dir={folder}"])):
            config = build_config("quick", overrides=["task.name=delayed-recall", "device=cpu", *overrides])
            task = build_task(config.task)
            generator = torch.Generator().manual_seed(0)
            rng = np.random.default_rng(0)
            level = task.default_level()
            ours = median_time(lambda: task.sample(level, 128, generator), args.rounds)
            loop = median_time(lambda: loop_batch(task.dataset, 128, 20, 20, 4, rng), args.rounds)
            rows.append({"case": f"batch_{name}", "ours_ms": 1e3 * ours, "loop_ms": 1e3 * loop, "speedup": loop / ours})
    for model in ("gru", "leaky_rnn"):
        config = build_config("quick", overrides=["task.name=delayed-recall", f"model.type={model}", "device=cpu"])
        task, net = build_task(config.task), build_model(config)
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        generator = torch.Generator().manual_seed(0)
        batch = task.sample(task.default_level(), 128, generator)
        step = median_time(lambda: train_step(net, optimizer, batch, 1.0, generator), args.rounds)
        rows.append({"case": f"train_step_{model}_h128", "ours_ms": 1e3 * step})
    if args.json:
        print(json.dumps(rows))
    else:
        for row in rows:
            extra = f"  loop {row['loop_ms']:.2f} ms  ({row['speedup']:.1f}x)" if "loop_ms" in row else ""
            print(f"{row['case']:28s} {row['ours_ms']:8.2f} ms{extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
