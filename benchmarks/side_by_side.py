"""This tree against an earlier revision: the training step and the timescale analysis, side by side.

    python benchmarks/side_by_side.py --base 213a058            # 3 rounds, both benchmarks
    python benchmarks/side_by_side.py --base 213a058 --rounds 5 --steps 20000 --cases multi_20
    python benchmarks/side_by_side.py --base 13b3fb4 --clock cpu --rounds 5   # CPU seconds per case
    python benchmarks/side_by_side.py --base 13b3fb4 --head 68fe52f --clock cpu   # two revisions

Extracts ``--base`` with ``git archive`` into a temporary folder (nothing is added to the
repository: no worktree, no branch), then runs, alternately from that copy and from this tree,
``benchmarks/train_step.py --json`` (``--step-rounds`` rounds, no simulation) and the job of
``benchmarks/analysis.py`` that times our analysis of a reference checkpoint, ``--rounds`` times
each, base first in odd rounds and this tree first in even ones, so that both see the same machine
load. Each side imports the package and the benchmark scripts of its own tree (``PYTHONPATH``) and
runs under ``nice -n 5`` with one thread (``OMP_NUM_THREADS=1``, ``--threads 1``). Printed: the
median of each side, and the median of the per-round ratios this tree / base (below 1: this tree
is faster). Nothing is asserted; on a shared machine, quote the ratios and the load.

``--clock cpu`` times CPU seconds (``time.process_time``) instead of wall time, which a loaded
machine distorts less: every side runs the same job, :data:`CPU_JOB`, with *this* tree's benchmark
scripts and its own package (so only the package differs), in one process per side and round: each
``--cases`` training step (``--cpu-steps`` steps after two warm-up steps), then the analysis of the
reference checkpoint (loading, simulation, fits: ``analyze_checkpoint``) and the writing of its
tables and figures (``write_analysis``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference_checkpoints" / "cumulative_parity_network_1" / "rnn_N2_N11"


def extract(revision: str, into: Path) -> Path:
    """The files of ``revision`` (``git archive``) under ``into``."""
    data = subprocess.run(["git", "archive", "--format=tar", revision], cwd=ROOT, check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def run(tree: Path, args: list[str]) -> str:
    """Run Python with ``args`` in ``tree`` on ``tree``'s package and benchmarks; its stdout."""
    env = {**os.environ, "PYTHONPATH": f"{tree / 'src'}{os.pathsep}{tree / 'benchmarks'}", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    proc = subprocess.run(["nice", "-n", "5", sys.executable, *args], cwd=tree, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed in {tree}:\n{proc.stderr[-2000:]}")
    return proc.stdout


def train_step_times(tree: Path, cases: str, rounds: int) -> dict[str, float]:
    """Seconds per training step of ours, per case (the median of ``rounds`` within the script)."""
    out = run(tree, ["benchmarks/train_step.py", "--json", "--rounds", str(rounds), "--threads", "1", "--no-sim",
                     "--cases", cases])
    rows = json.loads(out[out.index("["):])
    return {f"train_step {r['case']} (s/step)": 1.0 / r["ours_steps_per_s"] for r in rows}


# analysis.py's own job for our analysis (its child process: load, simulate, fit), without the
# paper's way and the agreement checks that the script also runs.
ANALYSIS_JOB = """
import json, sys
import analysis
result = analysis._run(analysis._job_ours, sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
print(json.dumps({"time": result["time"], "rss_mb": result["rss_mb"]}))
"""


def analysis_time(tree: Path, steps: int, trials: int, reference: Path = REFERENCE) -> dict[str, float]:
    """Wall time (s) and peak RSS (MB) of our analysis of the reference checkpoint
    (``benchmarks/analysis.py``'s job, from loading the checkpoint to the fitted table)."""
    out = json.loads(run(tree, ["-c", ANALYSIS_JOB, str(reference), str(steps), str(trials)]).strip().splitlines()[-1])
    return {"analysis time (s)": out["time"], "analysis peak RSS (MB)": out["rss_mb"]}


# CPU seconds of each case in one process of one tree: argv = cases, steps per case, analysis steps,
# analysis trials, the reference checkpoint. Imports train_step.py from the benchmarks folder on the path.
CPU_JOB = """
import json, sys, tempfile, time
import torch
torch.set_num_threads(1)
import train_step as ts
from rnn_timescales.runs import load_any
from rnn_timescales.studies.analyze import AnalysisSettings, analyze_checkpoint, write_analysis
cases, steps, n_steps, trials, ref = sys.argv[1].split(","), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
by_name, out = {c.case: c for c in ts.CASES}, {}
for name in cases:
    case = by_name[name]
    step = ts.OurStep(case) if case.model == "leaky_rnn" else ts.GatedStep(case)
    step(); step()
    t0 = time.process_time()
    for _ in range(steps):
        step()
    out[f"train_step {name} (CPU s/step)"] = (time.process_time() - t0) / steps
settings = AnalysisSettings(n_trials=trials, n_steps=n_steps)
t0 = time.process_time()
result = analyze_checkpoint(load_any(ref), settings)
out["analysis (CPU s)"] = time.process_time() - t0
with tempfile.TemporaryDirectory() as tmp:
    t0 = time.process_time()
    write_analysis([result], tmp + "/analysis", settings)
    out["analysis write (CPU s)"] = time.process_time() - t0
print(json.dumps(out))
"""


def cpu_times(tree: Path, cases: str, steps: int, n_steps: int, trials: int, reference: Path) -> dict[str, float]:
    """CPU seconds per case of ``tree``'s package, timed by :data:`CPU_JOB` with this tree's
    benchmark scripts."""
    env = {**os.environ, "PYTHONPATH": f"{tree / 'src'}{os.pathsep}{ROOT / 'benchmarks'}", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    proc = subprocess.run(["nice", "-n", "5", sys.executable, "-c", CPU_JOB, cases, str(steps), str(n_steps),
                           str(trials), str(reference)], cwd=tree, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"the CPU-time job failed in {tree}:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="213a058", help="git revision to compare against")
    parser.add_argument("--head", help="git revision to time instead of this tree (extracted like --base)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cases", default="multi_20,gru_multi_10", help="train_step.py cases")
    parser.add_argument("--step-rounds", type=int, default=3, help="train_step.py --rounds (its median)")
    parser.add_argument("--steps", type=int, default=20_000, help="analysis: steps per trial")
    parser.add_argument("--trials", type=int, default=4, help="analysis: trials")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall: each tree's own scripts, wall time (as before); cpu: CPU seconds of CPU_JOB")
    parser.add_argument("--cpu-steps", type=int, default=20, help="--clock cpu: training steps timed per case")
    parser.add_argument("--reference", type=Path, default=REFERENCE,
                        help="the checkpoint analysed (default: the paper's multi-head N = 11 network in ../shared)")
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    args = parser.parse_args(argv)
    results: dict[str, list[dict[str, float]]] = {"base": [], "head": []}
    with tempfile.TemporaryDirectory(prefix="side_by_side_") as tmp:
        trees = {"base": extract(args.base, Path(tmp) / "base"),
                 "head": extract(args.head, Path(tmp) / "head") if args.head else ROOT}
        for r in range(args.rounds):
            order = ["base", "head"] if r % 2 == 0 else ["head", "base"]
            for side in order:
                if args.clock == "cpu":
                    results[side].append(cpu_times(trees[side], args.cases, args.cpu_steps, args.steps, args.trials,
                                                   args.reference))
                else:
                    results[side].append({**train_step_times(trees[side], args.cases, args.step_rounds),
                                          **analysis_time(trees[side], args.steps, args.trials, args.reference)})
                print(f"round {r + 1}/{args.rounds}: {side} done", file=sys.stderr, flush=True)
    rows = []
    for field in results["head"][0]:
        base = [b[field] for b in results["base"]]
        head = [h[field] for h in results["head"]]
        rows.append({"field": field, "base": statistics.median(base), "head": statistics.median(head),
                     "head_over_base": statistics.median(h / b for b, h in zip(base, head)),
                     "ratios": [round(h / b, 3) for b, h in zip(base, head)]})
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"base {args.base} vs {args.head or 'this tree'}, {args.clock} time, {args.rounds} interleaved rounds, nice -n 5, one thread; "
          "medians, and the "
          "median per-round ratio (below 1: this tree faster)")
    print(f"{'measure':<40} {'base':>10} {'head':>10} {'head/base':>10}  per round")
    for row in rows:
        print(f"{row['field']:<40} {row['base']:>10.4g} {row['head']:>10.4g} {row['head_over_base']:>10.3f}  "
              f"{row['ratios']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
