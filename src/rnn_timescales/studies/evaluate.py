"""Accuracy of a trained network on each of its heads: at the level it was trained at, for the
binary tasks also in streaming mode (docs/science.md, tasks), for delayed recall also at the steps that
call for no response."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from rnn_timescales.analysis.extrapolation import null_accuracy
from rnn_timescales.runs.checkpoints import LoadedCheckpoint
from rnn_timescales.training.steps import accuracy, streaming_accuracy
from rnn_timescales.studies.contract import Study
from rnn_timescales.studies.per_run import LatestNetwork

TABLE = "accuracy.csv"


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
    """One row per head: ``head`` and ``accuracy`` over ``n_batches`` x ``batch_size`` fresh
    sequences at the checkpoint's level (as the task scores it: the last step for parity and DMS,
    every scored step for the flip-flop, the response step for delayed recall, on held-out images).
    For the binary tasks also ``n`` (the N the head answers) and ``streaming_accuracy`` over
    ``n_streams`` streams of ``warmup + length`` steps; for delayed recall also ``null_accuracy``
    (the other steps before T_max, where the answer is null, on as many fresh batches).
    Accuracies are fractions."""
    device = torch.device(device)
    model = ckpt.model.to(device).eval()
    task = ckpt.make_task()
    generator = torch.Generator(device=device).manual_seed(seed)
    acc = accuracy(model, task, ckpt.level, n_batches, batch_size, generator, device)
    table = pd.DataFrame({"head": range(len(acc)), "accuracy": acc.cpu().numpy()})
    if task.streaming:
        stream = streaming_accuracy(model, task, ckpt.ns, warmup, length, n_streams, generator, device)
        table.insert(1, "n", ckpt.ns)
        table["streaming_accuracy"] = stream.cpu().numpy()
    if task.recall:
        table["null_accuracy"] = null_accuracy(model, task, ckpt.level, n_batches, batch_size, generator, device)
    return table


# --- as a sweep runs it: the accuracy of each run's latest network -------------------------------
@dataclass(frozen=True)
class EvaluationSettings:
    """:func:`evaluate_checkpoint`'s settings (``analyze.evaluate`` in a sweep spec); the warm-up
    must cover N - 1 steps of the network's largest N (checked on each run)."""

    n_batches: int = 50
    batch_size: int = 256
    n_streams: int = 10
    warmup: int = 100
    length: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_batches", "batch_size", "n_streams", "length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.warmup < 0 or self.seed < 0:
            raise ValueError(f"warmup and seed must be at least 0, got {self.warmup} and {self.seed}")


def _write_evaluation(checkpoint: Path, out: Path, s: EvaluationSettings) -> None:
    from rnn_timescales.runs import load_any

    ckpt = load_any(checkpoint)
    if ckpt.ns is not None:
        from rnn_timescales.analysis.robustness.streams import StreamingProtocol

        StreamingProtocol(warmup=s.warmup).check_n(max(ckpt.ns))
    table = evaluate_checkpoint(ckpt, n_batches=s.n_batches, batch_size=s.batch_size, n_streams=s.n_streams,
                                warmup=s.warmup, length=s.length, seed=s.seed)
    table.insert(0, "checkpoint", checkpoint.name)
    table.to_csv(out / TABLE, index=False)


IN_RUN = LatestNetwork("evaluation", TABLE, EvaluationSettings, _write_evaluation, tables=(TABLE,))

STUDY = Study("evaluate", "per-head accuracy of a network (streaming and null accuracy where defined)",
              EvaluationSettings, (TABLE,), sweep_name="evaluate", sweep=IN_RUN.run_study(),
              tiny={"n_batches": 2, "batch_size": 16, "n_streams": 2, "warmup": 10, "length": 50})
