"""Accuracy of a trained network on each of its heads, end-of-sequence and streaming."""

from __future__ import annotations

import pandas as pd
import torch

from rnn_timescales.tasks import get_task
from rnn_timescales.training.checkpoints import LoadedCheckpoint
from rnn_timescales.training.steps import accuracy, streaming_accuracy


def evaluate_checkpoint(
    ckpt: LoadedCheckpoint,
    n_batches: int = 50,
    batch_size: int = 256,
    n_streams: int = 10,
    warmup: int = 100,
    length: int = 1000,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> pd.DataFrame:
    """One row per head: ``head``, ``n`` (the N it answers), ``accuracy`` (end of sequence, over
    ``n_batches`` x ``batch_size`` fresh sequences) and ``streaming_accuracy`` (SPEC section 2, over
    ``n_streams`` streams of ``warmup + length`` steps). Accuracies are fractions."""
    device = torch.device(device)
    model = ckpt.model.to(device).eval()
    task = get_task(ckpt.task)
    generator = torch.Generator(device=device).manual_seed(seed)
    end = accuracy(model, task, ckpt.ns, n_batches, batch_size, generator, device)
    stream = streaming_accuracy(model, task, ckpt.ns, warmup, length, n_streams, generator, device)
    return pd.DataFrame(
        {
            "head": range(len(ckpt.ns)),
            "n": ckpt.ns,
            "accuracy": end.cpu().numpy(),
            "streaming_accuracy": stream.cpu().numpy(),
        }
    )
