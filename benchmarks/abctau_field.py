"""abcTau (aABC) on the field benchmark's data sets (benchmarks/timescales_field.py), beside ours,
each capped in CPU seconds (docs/timescales.md, "Side by side with the field").

    python benchmarks/abctau_field.py --abctau-python PY --abctau-src SRC --sets 2 \
        --cpu-seconds 120 --out /tmp/abctau-field

The data sets are the first ``--sets`` of each case exactly as timescales_field.py draws them (same
seed and generator; the whole case is drawn, then cut). abcTau (github.com/roxana-zeraati/abcTau,
not a dependency: its source tree in a scratch directory, run by ``PY``) fits its matching model
(``oneTauOU``; ``oneTauOU_poissonSpikes`` for counts) with a uniform prior on [0, 3 x the truth]
(its examples' ratio, 60 for tau = 20), the linear distance on the autocorrelation up to the same
max lag as the other methods, 100 accepted samples per step, its examples' stopping rule (60 steps,
acceptance rate below 0.01), one process under ``nice -n 15`` with one thread and a CPU-time limit
(``RLIMIT_CPU``). Its estimate is the mean of the accepted samples after the last completed step.
Writes ``results.csv`` (one row per data set: case, truth, ours with its interval, the MR
estimator's, abcTau's estimate and the 95 % range of its accepted samples, its steps, epsilon,
acceptance, CPU seconds of each, and whether abcTau reached its stopping rule).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd

from rnn_timescales.analysis.inference import default_max_lag
from rnn_timescales.analysis.synthetic import FIELD_CASES as CASES
from abctau_compare import abctau_env  # sibling scripts (run as a script, its folder is on the path)
from timescales_field import mr_estimator, ours

KINDS = {"continuous": "ou1", "counts": "poisson1"}


def run_abctau(py: str, src: str, data: Path, kind: str, out: Path, prior_max: float, max_lag: int,
               cpu_seconds: int) -> dict:
    """One abcTau fit under a CPU-time limit; its last completed step."""
    out.mkdir(parents=True, exist_ok=True)
    inter = out / "inter.npy"
    if inter.exists():
        inter.unlink()
    cmd = ["nice", "-n", "15", py, str(Path(__file__).with_name("abctau_run.py")), str(data), kind, str(out),
           "--steps", "60", "--min-acc-rate", "0.01", "--prior-max", str(prior_max), "--max-lag", str(max_lag)]
    env = abctau_env(src)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, preexec_fn=limit)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = {"abctau_cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
           "abctau_wall_s": time.perf_counter() - t0, "abctau_finished": "abcTau finished" in proc.stdout,
           "abctau_error": (proc.stderr.strip().splitlines() or [""])[-1] if proc.returncode > 0 else ""}
    if not inter.exists():
        return res
    rec = np.load(inter, allow_pickle=True)
    done = [r for r in rec if np.ndim(r["theta accepted"]) == 2 and np.size(r["theta accepted"]) > 0]
    if done:
        theta = np.asarray(done[-1]["theta accepted"], dtype=float)[0]
        res.update(abctau_tau=float(theta.mean()), abctau_low=float(np.quantile(theta, 0.025)),
                   abctau_high=float(np.quantile(theta, 0.975)), abctau_steps=len(done),
                   abctau_epsilon=float(done[-1]["epsilon"]),
                   abctau_acceptance=float(done[-1]["n accepted"]) / float(done[-1]["n total"]))
    return res


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--abctau-python", required=True)
    p.add_argument("--abctau-src", required=True)
    p.add_argument("--cases", default="OU tau=5;OU tau=20;OU tau=100;Poisson counts tau=20")
    p.add_argument("--sets", type=int, default=2, help="data sets per case (the benchmark's, from --start on)")
    p.add_argument("--start", type=int, default=0, help="index of the first data set of each case")
    p.add_argument("--all-sets", type=int, default=60, help="data sets per case drawn by the benchmark")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cpu-seconds", type=int, default=120, help="CPU-time limit per abcTau fit")
    p.add_argument("--out", default="/tmp/abctau-field")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.cases.split(";"):
        truth, trials, steps, kind, gen = CASES[name]
        g = np.random.default_rng([args.seed, sum(map(ord, name))])
        x = gen(args.all_sets, trials, steps, g)[:, :, args.start : args.start + args.sets]
        tau, ci, secs = ours(x, kind)
        mr, mr_secs = mr_estimator(x)
        for i in range(x.shape[2]):
            path = out / f"{name.replace(' ', '_').replace('=', '')}_{args.start + i}.npy"
            np.save(path, np.ascontiguousarray(x[:, :, i].T))  # abcTau's layout: (trials, bins)
            row = {"case": name, "set": args.start + i, "truth": truth, "ours": tau[i], "ours_low": ci[i, 0], "ours_high": ci[i, 1],
                   "ours_cpu_s": secs, "mr": mr[i], "mr_cpu_s": mr_secs}
            row.update(run_abctau(args.abctau_python, args.abctau_src, path, KINDS[kind], out / path.stem,
                                  3 * truth, default_max_lag(steps), args.cpu_seconds))
            rows.append(row)
            print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
            pd.DataFrame(rows).to_csv(out / "results.csv", index=False, float_format="%.5g")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
