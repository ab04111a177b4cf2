"""Thread placement for the main job: one process with 2 threads, or the work split over threads.

    python benchmarks/threads.py                  # N_max = 15 multi-head, fp32 and bf16, 3 rounds
    python benchmarks/threads.py --n-max 20 --rounds 5

Times, interleaved round by round so all see the same machine, one epoch of the `quick` preset's
work (100 training steps and 10 evaluation batches of 256, multi-head parity at ``--n-max``) in
three placements:

- ``1 thread``: one process, one intra-op thread;
- ``2 threads``: one process, two intra-op threads (what ``rnn-timescales train`` does on 2 cores);
- ``eval overlapped``: training on one thread while the previous epoch's evaluation batches run
  on a second thread of the same process (each with one intra-op thread), the best a split of
  the work across threads could do (it would also evaluate one epoch late, which changes when
  the curriculum advances; here it is only timed).

Prints epochs per minute for each and the ratios to ``2 threads``.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import torch

from rnn_timescales.config import build_config
from rnn_timescales.models import build_model
from rnn_timescales.tasks import build_task
from rnn_timescales.training.steps import accuracy, train_step
from rnn_timescales.training.trainer import make_optimizer

STEPS, EVAL_BATCHES, BATCH = 100, 10, 256


def setup(precision: str, n_max: int):
    config = build_config("quick", overrides=[f"model.precision={precision}", "device=cpu"])
    task = build_task(config.task)
    model = build_model(config, task)
    return config, task, model, make_optimizer(config, model), {"ns": list(range(2, n_max + 1))}


def train_part(config, task, model, optimizer, level, generator) -> None:
    model.train()
    for _ in range(STEPS):
        train_step(model, optimizer, task.sample(level, BATCH, generator), config.optimizer.grad_clip, generator)


def eval_part(task, model, level, generator) -> None:
    model.eval()
    accuracy(model, task, level, EVAL_BATCHES, BATCH, generator)


def epoch(placement: str, parts, generator) -> float:
    config, task, model, optimizer, level = parts
    start = time.perf_counter()
    if placement == "eval overlapped":
        torch.set_num_threads(1)
        shadow = build_model(config, task)  # the previous epoch's weights, evaluated meanwhile
        shadow.load_state_dict(model.state_dict())
        worker = threading.Thread(target=eval_part, args=(task, shadow, level, torch.Generator().manual_seed(1)))
        worker.start()
        train_part(config, task, model, optimizer, level, generator)
        worker.join()
    else:
        torch.set_num_threads(1 if placement == "1 thread" else 2)
        train_part(config, task, model, optimizer, level, generator)
        eval_part(task, model, level, generator)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-max", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    args = parser.parse_args(argv)
    placements = ("1 thread", "2 threads", "eval overlapped")
    for precision in args.precisions:
        parts = setup(precision, args.n_max)
        generator = torch.Generator().manual_seed(0)
        epoch("2 threads", parts, generator)  # warm-up
        times = {p: [] for p in placements}
        for _ in range(args.rounds):
            for p in placements:
                times[p].append(epoch(p, parts, generator))
        base = statistics.median(times["2 threads"])
        print(f"{precision}, N_max = {args.n_max}, one quick-preset epoch ({STEPS} steps + {EVAL_BATCHES} eval batches):")
        for p in placements:
            t = statistics.median(times[p])
            print(f"  {p:<16} {t:6.1f} s/epoch  {60 / t:5.2f} epochs/min  {base / t:5.2f}x of 2 threads")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
