"""Does bf16 learn as fp32 does? The evidence behind the `quick` preset's precision.

    python benchmarks/precision.py --out runs/precision            # 3 seeds x {fp32, bf16}, then the tables
    python benchmarks/precision.py --out runs/precision --seeds 0 1 2 3 --target-n 12 --workers 2

Trains the main job's network (multi-head parity, the `quick` preset, no time budget) to
``--target-n`` once per seed and precision, one torch thread per run and ``--workers`` runs at a
time (epoch counts do not depend on the machine's load: a run is a pure function of its
configuration), then analyses every solved checkpoint (trained tau, tau_net, slowest Jacobian
timescale; ``--analysis-steps`` steps per trial, 10 trials). Runs already finished are reused.

Prints, per N: the epochs each run needed to solve it, and the median tau, median tau_net and
slowest Jacobian timescale, as mean and s.d. over seeds for each precision; and the two criteria
of the decision: (1) bf16 needs no more epochs per N than fp32 (mean over seeds, within the
seed-to-seed spread), (2) its networks' timescales agree with fp32's within the seed-to-seed
spread. Tables are also written as CSV next to the runs.
"""

from __future__ import annotations

import argparse
import json
import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

PRECISIONS = ("fp32", "bf16")
TIMESCALES = ("tau_median", "tau_net_median", "jacobian_tau_max")


def train_one(out: str, seed: int, precision: str, target_n: int) -> str:
    import torch

    torch.set_num_threads(1)
    from rnn_timescales.config import build_config
    from rnn_timescales.training.trainer import train

    run = Path(out) / f"{precision}_seed{seed}"
    if (run / "summary.json").is_file():
        return str(run)
    config = build_config("quick", overrides=[
        f"seed={seed}", f"model.precision={precision}", f"training.target_n={target_n}",
        "training.time_budget_s=null", "training.max_epochs=400", "device=cpu"])
    train(config, run, progress=False)
    return str(run)


def analyse_one(run: str, steps: int) -> str:
    import torch

    torch.set_num_threads(1)
    from rnn_timescales.studies.analyze import AnalysisSettings, analyze_checkpoint
    from rnn_timescales.runs import list_run_checkpoints, load_any

    table = Path(run) / f"timescales_{steps}.csv"
    if not table.is_file():
        settings = AnalysisSettings(n_steps=steps)
        rows = [analyze_checkpoint(load_any(p), settings).summary for p in list_run_checkpoints(run, include_init=False)]
        pd.DataFrame(rows).to_csv(table, index=False)
    return str(table)


def epochs_per_n(run: Path) -> dict[int, int]:
    """Epochs spent on each N (from the previous advance to the one that solved it)."""
    m = pd.read_csv(run / "metrics.csv")
    solved = m[m["solved"]]
    previous, out = 0, {}
    for row in solved.itertuples():
        out[int(row.n_max)] = int(row.epoch) - previous
        previous = int(row.epoch)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--target-n", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--analysis-steps", type=int, default=20_000)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ["OMP_NUM_THREADS"] = "1"
    jobs = [(seed, p) for seed in args.seeds for p in PRECISIONS]
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        runs = list(pool.map(train_one, [str(args.out)] * len(jobs), [s for s, _ in jobs], [p for _, p in jobs],
                             [args.target_n] * len(jobs)))
        tables = list(pool.map(analyse_one, runs, [args.analysis_steps] * len(runs)))

    epoch_rows, ts_rows = [], []
    for (seed, precision), run, table in zip(jobs, runs, tables):
        for n, e in epochs_per_n(Path(run)).items():
            epoch_rows.append({"precision": precision, "seed": seed, "n": n, "epochs": e})
        summary = json.loads((Path(run) / "summary.json").read_text())
        for row in pd.read_csv(table).itertuples():
            ts_rows.append({"precision": precision, "seed": seed, "n": int(row.n_max),
                            **{k: float(getattr(row, k)) for k in TIMESCALES}, "wall_time_s": summary["wall_time_s"]})
    epochs = pd.DataFrame(epoch_rows)
    timescales = pd.DataFrame(ts_rows)
    epochs.to_csv(args.out / "epochs_per_n.csv", index=False)
    timescales.to_csv(args.out / "timescales_per_n.csv", index=False)

    wide = epochs.pivot_table(index="n", columns=["precision", "seed"], values="epochs")
    print("epochs to solve each N (quick preset, multi-head parity), per precision and seed:")
    print(wide.to_string())
    totals = epochs.groupby(["precision", "seed"])["epochs"].sum().unstack("precision")
    print("\ntotal epochs to N =", args.target_n, "\n" + totals.to_string())
    stats = {p: (totals[p].mean(), totals[p].std(ddof=1)) for p in PRECISIONS}
    spread = max(stats["fp32"][1], stats["bf16"][1])
    ok_epochs = stats["bf16"][0] <= stats["fp32"][0] + spread
    print(f"\n(1) epochs: fp32 {stats['fp32'][0]:.1f} ± {stats['fp32'][1]:.1f}, bf16 {stats['bf16'][0]:.1f} ± "
          f"{stats['bf16'][1]:.1f} (mean ± s.d. over seeds): bf16 needs no more: {'yes' if ok_epochs else 'NO'}")

    agg = timescales.groupby(["n", "precision"])[list(TIMESCALES)].agg(["mean", "std"])
    print("\ntimescales per N (steps; mean ± s.d. over seeds):")
    print(agg.round(3).to_string())
    agree = True
    for name in TIMESCALES:
        piv = timescales.pivot_table(index="n", columns="precision", values=name, aggfunc="mean")
        sd = timescales.groupby(["n", "precision"])[name].std(ddof=1).unstack("precision").max(axis=1)
        diff = (piv["bf16"] - piv["fp32"]).abs()
        within = bool((diff <= 2 * sd.fillna(np.inf)).all())
        agree &= within
        print(f"(2) {name}: largest |bf16 - fp32| of the seed means {diff.max():.3f}, largest seed s.d. "
              f"{sd.max():.3f}: within 2 s.d. at every N: {'yes' if within else 'NO'}")
    print(f"\nadopt bf16 for the quick preset: {'yes' if ok_epochs and agree else 'no'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
