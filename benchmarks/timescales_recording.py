"""Cost of ``rnn-timescales timescales`` on a whole recording and on one long unit, end to end
(the command as a user runs it: start-up, reading, estimate with 95 % intervals, writing), plus the
accuracy and coverage over the recording's units (docs/timescales.md, "Cost").

    python benchmarks/timescales_recording.py --out /tmp/rec            # 1000 units x 100 x 500; 1 x 2e6
    python benchmarks/timescales_recording.py --out /tmp/rec --units 200 --long 200000

Writes the data sets (seeded) under --out, runs the command on each, and prints wall-clock and CPU
seconds (of the command's process), the share of units with the right model, the median
|relative error| and the coverage of the 95 % intervals. ``--help`` start-up is timed too.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from rnn_timescales.analysis.synthetic import ou_process


def _run(cmd: list[str]) -> tuple[float, float, str]:
    """Wall and CPU seconds of a child process (CPU from the children's rusage)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), proc.stderr


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--units", type=int, default=1000)
    p.add_argument("--trials", type=int, default=100)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--long", type=int, default=2_000_000, help="steps of the one long unit (0: skip)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fit", choices=["gls", "gls-bartlett", "ols"], default="gls", help="the command's --fit (ols: the former fit)")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    exe = [sys.executable, "-m", "rnn_timescales.cli"]
    rows = []
    wall, cpu, _ = _run(exe + ["timescales", "--help"])
    rows.append({"case": "timescales --help", "wall_s": wall, "cpu_s": cpu})

    rng = np.random.default_rng(args.seed)
    taus = np.exp(rng.uniform(np.log(5), np.log(50), args.units))
    x = np.concatenate([ou_process([t], None, args.steps, args.trials, 1, seed=rng, dtype=np.float32) for t in taus], 2)
    np.save(out / "recording.npy", x)  # (time, trials, units)
    wall, cpu, err = _run(exe + ["timescales", str(out / "recording.npy"), "--axes", "time,trials,units",
                                 "--out", str(out / "recording"), "--no-progress", "--fit", args.fit])
    table = pd.read_csv(out / "recording" / "timescales.csv")
    one = table["model"] == "1exp"
    rel = np.abs(table["tau_1"][one] / taus[one] - 1)
    cover = ((table["tau_1_low"] <= taus) & (taus <= table["tau_1_high"]))[one]
    rows.append({"case": f"{args.units} units x {args.trials} trials x {args.steps} steps, 95 % intervals, fit {args.fit}",
                 "wall_s": wall, "cpu_s": cpu, "right_model": float(one.mean()),
                 "median_rel_error": float(rel.median()), "coverage": float(cover.mean())})

    if args.long:
        tau = 100.0
        y = ou_process([tau], None, args.long, 1, 1, seed=rng, dtype=np.float32)[:, 0, 0]
        np.save(out / "long.npy", y)
        wall, cpu, err = _run(exe + ["timescales", str(out / "long.npy"), "--axes", "time", "--out",
                                     str(out / "long"), "--no-progress", "--fit", args.fit])
        t = pd.read_csv(out / "long" / "timescales.csv").iloc[0]
        rows.append({"case": f"1 unit x 1 trial x {args.long} steps (tau = {tau:g}), 95 % intervals, fit {args.fit}",
                     "wall_s": wall, "cpu_s": cpu, "right_model": float(t["model"] == "1exp"),
                     "median_rel_error": float(abs(t["tau_1"] / tau - 1)),
                     "coverage": float(t["tau_1_low"] <= tau <= t["tau_1_high"])})
    for r in rows:
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
