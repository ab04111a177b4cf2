"""Side by side with abcTau: the same synthetic data sets (made by this package's generators), our
estimator and abcTau's adaptive ABC, accuracy and time per data set (docs/timescales.md).

    python benchmarks/abctau_compare.py --out /tmp/abctau-compare             # ours only
    python benchmarks/abctau_compare.py --out /tmp/abctau-compare \
        --abctau-python /tmp/abctau-venv/bin/python --abctau-src /tmp/abctau-src --abctau-minutes 8

abcTau (github.com/roxana-zeraati/abcTau) is not a dependency: install it in a scratch environment
(numpy, scipy, matplotlib and its source tree) and name that environment's Python; without it the
abcTau columns are skipped with a message. abcTau runs one data set at a time under ``nice -n 19``
with one thread and a wall-clock cap; a capped run reports its last completed ABC step (posterior
mean of the accepted samples, epsilon, accepted/total).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from rnn_timescales.analysis.inference import estimate_timescales
from rnn_timescales.analysis.synthetic import ou_process, ou_spike_counts

N_STEPS, N_TRIALS = 1000, 500
# name -> (abcTau model, true timescales, weights (of the fast first), kind, generator kwargs)
CASES = {
    "ou1": ([20.0], [1.0], "continuous", {}),
    "ou2": ([5.0, 80.0], [0.4, 0.6], "continuous", {}),
    "poisson2": ([5.0, 80.0], [0.4, 0.6], "counts", {"distribution": "poisson"}),
    "gamma2": ([5.0, 80.0], [0.4, 0.6], "counts", {"distribution": "gamma", "fano": 1.5}),
}


def make(name: str, seed: int) -> np.ndarray:
    """(time, trials) data set of case ``name``."""
    taus, weights, kind, kw = CASES[name]
    if kind == "continuous":
        return ou_process(taus, weights, N_STEPS, N_TRIALS, 1, seed=seed)[:, :, 0]
    return ou_spike_counts(taus, weights, N_STEPS, N_TRIALS, 1, mean=1.0, std=0.5, seed=seed, **kw)[:, :, 0]


def ours(x: np.ndarray, kind: str) -> dict:
    t0, c0 = time.perf_counter(), time.process_time()
    est = estimate_timescales(x, kind=kind)
    u = est.units[0]
    return {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0, "timescales": u["timescales"], "intervals": u["intervals"],
            "weights": u["weights"], "model": u["model"]}


def abctau_env(src: str) -> dict:
    """The environment abctau_run.py runs in: one thread, and abcTau's checkout ``src`` with its inner
    ``abcTau`` folder on PYTHONPATH (abcTau imports its own modules by bare name)."""
    path = os.pathsep.join([src, os.path.join(src, "abcTau")])
    return dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")


def abctau(py: str, src: str, path: Path, name: str, out: Path, minutes: float, steps: int = 20,
           min_acc_rate: float = 0.01) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    inter = out / "inter.npy"
    if inter.exists():
        inter.unlink()
    cmd = ["nice", "-n", "19", py, str(Path(__file__).with_name("abctau_run.py")), str(path), name, str(out),
           "--steps", str(steps), "--min-acc-rate", str(min_acc_rate)]
    if name == "gamma2":
        cmd += ["--disp", "1.5"]
    env = abctau_env(src)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=minutes * 60)
        finished = "abcTau finished" in proc.stdout
        err = proc.stderr.strip().splitlines()[-1:] if proc.returncode else []
    except subprocess.TimeoutExpired:
        finished, err = False, []
    seconds = time.perf_counter() - t0
    res = {"seconds": seconds, "finished": finished, "error": err}
    if not inter.exists():
        return res
    rec = np.load(inter, allow_pickle=True)
    done = [r for r in rec if np.ndim(r["theta accepted"]) == 2 and np.size(r["theta accepted"]) > 0]
    if not done:
        return res
    last = done[-1]
    theta = np.asarray(last["theta accepted"], dtype=float)  # (params, samples)
    res.update(steps=len(done), epsilon=float(last["epsilon"]), accepted=int(last["n accepted"]),
               total=int(last["n total"]), posterior_mean=theta.mean(1).tolist(),
               posterior_q=np.quantile(theta, [0.025, 0.975], axis=1).T.tolist())
    return res


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="/tmp/abctau-compare")
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--seeds", default="0")
    p.add_argument("--abctau-python")
    p.add_argument("--abctau-src")
    p.add_argument("--abctau-minutes", type=float, default=8.0)
    p.add_argument("--abctau-steps", type=int, default=20, help="most ABC steps (its examples: 60)")
    p.add_argument("--abctau-min-acc-rate", type=float, default=0.01,
                   help="stop when the acceptance rate falls below this (its examples: 0.01; 0.003 for 2 tau counts)")
    p.add_argument("--skip-ours", action="store_true")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    have_abc = False
    if args.abctau_python and args.abctau_src:
        ok = subprocess.run([args.abctau_python, "-c", "import numpy, scipy, matplotlib"], capture_output=True)
        have_abc = ok.returncode == 0 and Path(args.abctau_src, "abcTau", "fit.py").exists()
    if not have_abc:
        print("abcTau: not run (give --abctau-python and --abctau-src of a scratch environment with it)")
    results = []
    for name in args.cases.split(","):
        for seed in [int(s) for s in args.seeds.split(",")]:
            taus, weights, kind, _ = CASES[name]
            x = make(name, seed)
            path = out / f"{name}_seed{seed}.npy"
            np.save(path, np.ascontiguousarray(x.T))  # abcTau's layout: (trials, bins)
            row = {"case": name, "seed": seed, "truth": {"timescales": taus, "weights": weights}}
            if not args.skip_ours:
                row["ours"] = ours(x, kind)
                r = row["ours"]
                print(f"{name} seed {seed} ours: tau {np.round(r['timescales'], 2).tolist()} "
                      f"CI {np.round(r['intervals'], 1).tolist()} w {np.round(r['weights'], 2).tolist()} "
                      f"{r['seconds']:.1f} s wall, {r['cpu_seconds']:.1f} s CPU", flush=True)
            if have_abc:
                row["abctau"] = a = abctau(args.abctau_python, args.abctau_src, path, name, out / f"{name}_seed{seed}",
                                           args.abctau_minutes, args.abctau_steps, args.abctau_min_acc_rate)
                print(f"{name} seed {seed} abcTau: {json.dumps(a)}", flush=True)
            results.append(row)
            (out / "results.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
