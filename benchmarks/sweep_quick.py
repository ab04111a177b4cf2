"""Estimate the wall time of the quick sweep (configs/sweeps/quick.yaml) from one short round.

Runs one round of the quick sweep as the local pool runs it (its first seed: the single- and the
multi-head run side by side, one thread each) with a shorter training budget, analyses the runs
with the sweep's settings, and prints what each part took and the estimate for the whole sweep:

    start-up + rounds x (the spec's training budget + analysis of one run at the full budget)

The analysis of a run takes about (checkpoints x time per checkpoint); at the full budget a run
solves more N than in the short round, so the estimate is given for the checkpoints measured and
for twice as many (a multi-head run went from N = 10 at 150 s to about N = 15 at 480 s here).

    python benchmarks/sweep_quick.py                 # a 120 s round, about 3 minutes
    python benchmarks/sweep_quick.py --budget 60
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import tempfile
import time
from pathlib import Path

import pandas as pd

from rnn_timescales.experiments.sweep import load_spec, plan, read_summary, run_sweep

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=120.0, help="training budget of the short round (s)")
    parser.add_argument("--spec", default=str(ROOT / "configs" / "sweeps" / "quick.yaml"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    full = load_spec(args.spec)
    points = plan(full)
    budget = points[0].config.training.time_budget_s
    seeds = full.grid.get("seed", [points[0].config.seed])
    short = dataclasses.replace(full, grid={**full.grid, "seed": seeds[:1]}).with_overrides(
        [f"training.time_budget_s={args.budget}"])
    round_points = plan(short)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "round"
        t0 = time.perf_counter()
        trained = run_sweep(dataclasses.replace(short, analyze={}), root, workers=args.workers, progress=False)
        t_train = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_sweep(short, root, workers=args.workers, progress=False, train=False)
        t_analysis = time.perf_counter() - t0
        rows = []
        for p in round_points:
            summary = read_summary(root / p.name) or {}
            analysed = root / p.name / "analysis" / "summary.csv"
            n_ckpt = len(pd.read_csv(analysed)) if analysed.is_file() else 0
            rows.append({"run": p.name, "N solved": summary.get("n_max_solved"), "epochs": summary.get("epochs"),
                         "train s": summary.get("wall_time_s"), "checkpoints": n_ckpt})
    table = pd.DataFrame(rows)
    startup = max(0.0, t_train - max(r["train s"] or 0.0 for r in rows))
    checkpoints = int(table["checkpoints"].max())
    per_ckpt = t_analysis / max(1, checkpoints)  # the runs are analysed side by side
    rounds = math.ceil(len(points) / args.workers)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.1f}"))
    print(f"\nround of {len(round_points)} runs, budget {args.budget:.0f} s: training {t_train:.0f} s "
          f"(start-up and last epoch {startup:.0f} s), analysis {t_analysis:.0f} s "
          f"({per_ckpt:.1f} s per checkpoint of the larger run, {checkpoints} checkpoints)")
    low = startup + rounds * (budget + checkpoints * per_ckpt)
    high = startup + rounds * (budget + 2 * checkpoints * per_ckpt)
    print(f"estimate for {Path(args.spec).name} ({len(points)} runs, {args.workers} workers, {rounds} rounds of "
          f"{budget:.0f} s): {low / 60:.1f}-{high / 60:.1f} min, plus about half a minute for the report")
    print(f"finished runs in the round: {trained.counts['done']} of {len(round_points)}")


if __name__ == "__main__":
    main()
