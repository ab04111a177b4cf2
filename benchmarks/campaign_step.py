"""The reproduction campaign's training step against the one-core roofline, as the campaign runs it.

    python benchmarks/campaign_step.py                      # the table (about 6 minutes on 2 cores)
    python benchmarks/campaign_step.py --json               # one object per case
    python benchmarks/campaign_step.py --cases multi_30 --epochs 3 --precision fp32

The campaign (configs/reproduce/*.yaml, ``run.sh``) trains one run per core with one thread each,
two runs side by side, on the ``quick`` preset: epochs of 100 training steps of batch 256 followed
by 10 evaluation batches, then the epoch's bookkeeping (metrics, state file). This script runs
exactly that -- the real :class:`~rnn_timescales.training.trainer.Trainer` (hidden 500, trained tau,
parity, 100 allocated heads), placed at the level N of each case -- in two processes started
together, each with ``OMP_NUM_THREADS=1``, and in each process measures between epochs the
one-core roofline: a burst of (256 x 500) . (500 x 500) products in the run's precision, while the
other core is busy as well (the rate a core has when both work).

FLOPs counted per epoch, at the mean sequence length T = 2.5 N + 1.5 of M ~ UniformInteger[N + 2,
4 N + 2): training 6 T B H (H + 1) per step (forward, and backward for states and weights),
evaluation 2 T B H (H + 1) per batch (forward only); nothing else (nonlinearities, readouts,
optimiser, data) is counted. The fraction of the roofline is (FLOPs / epoch time) / roofline, per
epoch after the first (kernels are built and memory grown in the first), median over epochs and
then over the two processes. The time in each phase (data, step, evaluate, bookkeeping) comes
from the run's own ``phase_times_s``. Timings on a shared machine are noisy: run it on a quiet one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HIDDEN, BATCH, STEPS, EVAL_BATCHES = 500, 256, 100, 10
CASES = {"multi_30": ("multi", 30), "multi_50": ("multi", 50), "single_20": ("single", 20), "single_30": ("single", 30)}


@dataclass
class CaseResult:
    case: str
    curriculum: str
    n: int
    precision: str
    precision_reason: str
    epochs_timed: int
    epoch_s: float  # median wall seconds of one epoch (100 steps + evaluation + bookkeeping)
    epoch_cpu_s: float  # the same epochs in this process's CPU seconds
    step_ms: float  # epoch_s / 100, evaluation included
    gflops: float  # counted FLOPs per epoch / epoch_s, per process (one core)
    roofline_gflops: float  # one core, the other busy, the run's precision, per wall second
    fraction_of_roofline: float
    cpu_gflops: float  # the same per CPU second (what the run got of its core, whatever else ran)
    cpu_roofline_gflops: float
    cpu_fraction_of_roofline: float
    phase_share: dict  # of the timed epochs: data, step, evaluate, the rest
    processes: int


def mean_length(n: int) -> float:
    return 2.5 * n + 1.5


def epoch_flops(n: int) -> float:
    per_step = 2.0 * mean_length(n) * BATCH * HIDDEN * (HIDDEN + 1)
    return 3.0 * per_step * STEPS + per_step * EVAL_BATCHES


def roofline(dtype_name: str, seconds: float = 1.0) -> tuple[float, float]:
    """GFLOP/s of (256 x 500) . (500 x 500) products in ``dtype_name`` on this process's threads,
    per second of wall time and per second of this process's CPU time."""
    import torch

    dtype = torch.bfloat16 if dtype_name == "bf16" else torch.float32
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(BATCH, HIDDEN, generator=g).to(dtype), torch.randn(HIDDEN, HIDDEN, generator=g).to(dtype)
    out = torch.empty(BATCH, HIDDEN, dtype=dtype)
    for _ in range(5):
        torch.mm(a, b, out=out)
    count, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        torch.mm(a, b, out=out)
        count += 1
    flops = 2.0 * BATCH * HIDDEN * HIDDEN * count / 1e9
    return flops / (time.perf_counter() - start), flops / (time.process_time() - cpu)


def worker(case: str, epochs: int, precision: str, seed: int) -> dict:
    """One campaign run placed at the case's N, trained for ``epochs`` epochs, with roofline bursts
    before and after: the wall and CPU seconds from one epoch's end to the next (everything the
    loop does: training steps, evaluation, metrics and state files) and the roofline rates."""
    import pandas as pd
    import torch

    from rnn_timescales.config import merge, preset_dict, validate
    from rnn_timescales.training.trainer import Trainer

    torch.set_num_threads(1)
    curriculum, n = CASES[case]
    level = ({"curriculum": {"kind": "multi", "n_start": 2, "initial_heads": n - 1}} if curriculum == "multi"
             else {"curriculum": {"kind": "single", "n_start": n}})
    overrides = merge(level, {"model": {"hidden_size": HIDDEN, "train_tau": True, "precision": precision},
                              "task": {"name": "parity"}, "seed": seed,
                              "training": {"time_budget_s": None, "max_epochs": epochs, "target_n": None}})
    marks: list[tuple[float, float]] = []

    class Timed(Trainer):  # the benchmark's only addition: a clock reading at each epoch's end
        def end_epoch(self, *args, **kwargs):
            marks.append((time.perf_counter(), time.process_time()))
            return super().end_epoch(*args, **kwargs)

    with tempfile.TemporaryDirectory() as tmp:
        trainer = Timed(validate(merge(preset_dict("quick", "parity"), overrides)), Path(tmp) / "run", progress=False)
        resolved = trainer.config.model.precision
        roofs = [roofline(resolved)]
        result = trainer.run()
        roofs.append(roofline(resolved))
        summary = json.loads((Path(tmp) / "run" / "summary.json").read_text())
        first = pd.read_csv(Path(tmp) / "run" / "metrics.csv")["epoch_time_s"].iloc[0]
    wall = [b[0] - a[0] for a, b in zip(marks, marks[1:])]
    cpu = [b[1] - a[1] for a, b in zip(marks, marks[1:])]
    return {"wall": wall, "cpu": cpu, "first_epoch_s": float(first), "roofline_wall": [r[0] for r in roofs],
            "roofline_cpu": [r[1] for r in roofs], "precision": resolved,
            "reason": summary.get("precision_reason", ""), "phases": summary.get("phase_times_s", {}),
            "stop": result.stop_reason}


def run_case(case: str, epochs: int, precision: str, processes: int) -> CaseResult:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", case, "--epochs", str(epochs),
                               "--precision", precision, "--seed", str(i)], env=env, stdout=subprocess.PIPE, text=True)
             for i in range(processes)]
    outs = []
    for p in procs:
        stdout, _ = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"campaign_step: the worker for {case} failed (exit {p.returncode})")
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    curriculum, n = CASES[case]
    flops = epoch_flops(n) / 1e9
    per_process = []
    for out in outs:
        roof_wall, roof_cpu = statistics.median(out["roofline_wall"]), statistics.median(out["roofline_cpu"])
        per_process.append({
            "epoch_s": statistics.median(out["wall"]), "epoch_cpu_s": statistics.median(out["cpu"]),
            "roof_wall": roof_wall, "roof_cpu": roof_cpu,
            "fraction_wall": statistics.median(flops / t / roof_wall for t in out["wall"]),
            "fraction_cpu": statistics.median(flops / t / roof_cpu for t in out["cpu"]),
        })
    med = {k: statistics.median(p[k] for p in per_process) for k in per_process[0]}
    phases: dict[str, float] = {}
    for out in outs:
        for k, v in out["phases"].items():
            phases[k] = phases.get(k, 0.0) + v
    total = sum(phases.values()) or 1.0
    share = {k: round(v / total, 3) for k, v in sorted(phases.items(), key=lambda kv: -kv[1])}
    return CaseResult(case, curriculum, n, outs[0]["precision"], outs[0]["reason"], len(outs[0]["wall"]),
                      round(med["epoch_s"], 3), round(med["epoch_cpu_s"], 3), round(1000 * med["epoch_s"] / STEPS, 2),
                      round(flops / med["epoch_s"], 1), round(med["roof_wall"], 1), round(med["fraction_wall"], 3),
                      round(flops / med["epoch_cpu_s"], 1), round(med["roof_cpu"], 1), round(med["fraction_cpu"], 3),
                      share, processes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of: {', '.join(CASES)}")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run (the first is not timed)")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--processes", type=int, default=2, help="runs side by side (the campaign: 2, one per core)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.epochs, args.precision, args.seed)))
        return
    cases = args.cases.split(",")
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    results = [run_case(c, args.epochs, args.precision, args.processes) for c in cases]
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
        return
    print(f"{args.processes} runs side by side, one thread each; {args.epochs - 1} timed epochs per run "
          f"({STEPS} steps of batch {BATCH} + {EVAL_BATCHES} evaluation batches, hidden {HIDDEN})")
    print(f"{'case':10} {'prec':5} {'epoch s':>8} {'ms/step':>8} {'GF/s/core':>10} {'roof/core':>10} {'of roof':>8}"
          f" {'CPU s':>7} {'of roof (CPU)':>14}  phases")
    for r in results:
        phases = ", ".join(f"{k} {v:.0%}" for k, v in r.phase_share.items() if v >= 0.005)
        print(f"{r.case:10} {r.precision:5} {r.epoch_s:8.2f} {r.step_ms:8.1f} {r.gflops:10.1f} {r.roofline_gflops:10.1f} "
              f"{r.fraction_of_roofline:8.0%} {r.epoch_cpu_s:7.2f} {r.cpu_fraction_of_roofline:14.0%}  {phases}")
    print("of roof: counted FLOPs per wall second over the roofline per wall second (a quiet machine); (CPU): "
          "both per second of the process's own CPU time (what it reaches of the core it gets, on a loaded machine)")
    print(f"precision: {results[0].precision_reason}")


if __name__ == "__main__":
    main()
