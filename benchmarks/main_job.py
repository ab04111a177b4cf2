"""The README's main job, today's against an earlier revision's, side by side, with where the time goes.

    python benchmarks/main_job.py                          # base f72307f vs this tree, 600 s each, at the same time
    python benchmarks/main_job.py --base ec222dd --budget 300
    python benchmarks/main_job.py --one --threads 2        # only this tree's main job, in this process

Each side runs ``rnn-timescales train`` as it stands in its revision (the ``quick`` preset, seed 0,
CPU) with ``--budget`` seconds of wall-clock budget instead of the preset's, from its own
checkout (``PYTHONPATH``), one torch thread each by default; both start together so they see the
same machine. Printed for each: the largest N solved within the budget, when each N was solved,
the precision it used, and the wall time per phase of the loop: ``data`` (making batches), ``step``
(forward, backward, update), ``evaluate`` (the evaluation batches), ``record`` (metrics files),
``checkpoint``, ``state`` (the training state), ``curriculum`` and the rest. Revisions that record
phase times (``summary.json``: ``phase_times_s``) report their own; for older ones the runner times
the same functions from outside.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("data", "step", "evaluate", "record", "checkpoint", "state", "curriculum")


@contextlib.contextmanager
def outside_timers(totals: dict[str, float]):
    """Time an older revision's trainer from outside: wrap the functions its loop calls."""
    from rnn_timescales.tasks.base import BinaryTask
    from rnn_timescales.training import trainer as tr

    def timed(phase, fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                totals[phase] = totals.get(phase, 0.0) + time.perf_counter() - start
        return wrapper

    patches = [(tr, "train_step", "step"), (tr, "accuracy", "evaluate"), (tr, "save_state", "state"),
               (tr, "save_checkpoint", "checkpoint"), (tr.Trainer, "_write_metrics", "record"),
               (BinaryTask, "sample", "data")]
    saved = []
    for owner, name, phase in patches:
        if hasattr(owner, name):
            saved.append((owner, name, getattr(owner, name)))
            setattr(owner, name, timed(phase, getattr(owner, name)))
    try:
        yield
    finally:
        for owner, name, fn in saved:
            setattr(owner, name, fn)


def run_here(budget: float, out: Path, seed: int) -> dict:
    """This process's revision of the main job; returns what it solved and its phase times."""
    import torch
    import yaml

    from rnn_timescales.config import build_config
    from rnn_timescales.training.trainer import train

    config = build_config("quick", overrides=[f"training.time_budget_s={budget}", "device=cpu", f"seed={seed}"])
    totals: dict[str, float] = {}
    start = time.perf_counter()
    try:
        from rnn_timescales.training.guards import PhaseTimes  # noqa: F401  (records its own phases)

        result = train(config, out, progress=False)
    except ImportError:
        with outside_timers(totals):
            result = train(config, out, progress=False)
    wall = time.perf_counter() - start
    summary = json.loads((out / "summary.json").read_text())
    totals = summary.get("phase_times_s", totals)
    totals = {**{p: round(totals.get(p, 0.0), 1) for p in PHASES}}
    totals["rest"] = round(wall - sum(totals.values()), 1)
    m = result.metrics
    saved = yaml.safe_load((out / "config.yaml").read_text())
    return {
        "precision": saved["model"]["precision"],
        "threads": torch.get_num_threads(),
        "budget_s": budget,
        "n_solved": result.n_solved,
        "epochs": int(len(m)),
        "steps": int(len(m)) * config.training.steps_per_epoch,
        "stop_reason": result.stop_reason,
        "solved_at_s": {int(r.n_max): round(float(r.wall_time_s), 1) for r in m.itertuples() if r.solved},
        "phase_s": totals,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="f72307f", help="the earlier revision (default: main before the core refactor)")
    parser.add_argument("--budget", type=float, default=600.0, help="wall-clock budget of each run, seconds")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one", action="store_true", help="run only this tree's main job, in this process")
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one or args.out:
        import torch

        torch.set_num_threads(args.threads)
        out = args.out or Path(tempfile.mkdtemp(prefix="main_job_")) / "run"
        print(json.dumps(run_here(args.budget, out, args.seed)), flush=True)
        return 0
    with tempfile.TemporaryDirectory(prefix="main_job_") as tmp:
        base_tree = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base_tree), args.base], cwd=ROOT, check=True)
        try:
            procs = {}
            for side, tree in (("base", base_tree), ("head", ROOT)):
                env = {**os.environ, "PYTHONPATH": str(tree / "src"), "OMP_NUM_THREADS": str(args.threads)}
                procs[side] = subprocess.Popen(
                    [sys.executable, __file__, "--budget", str(args.budget), "--threads", str(args.threads),
                     "--seed", str(args.seed), "--out", str(Path(tmp) / f"run_{side}")],
                    cwd=tree, env=env, stdout=subprocess.PIPE, text=True)
            results = {side: json.loads(p.communicate()[0].strip().splitlines()[-1]) for side, p in procs.items()}
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=False)
    print(f"main job, {args.budget:.0f} s budget, {args.threads} thread(s) each, run at the same time")
    for side, label in (("base", f"base {args.base}"), ("head", "head (this tree)")):
        r = results[side]
        phases = ", ".join(f"{k} {v:.0f}" for k, v in r["phase_s"].items())
        print(f"{label:<22} {r['precision']}: largest N solved {r['n_solved']} in {r['epochs']} epochs "
              f"({r['stop_reason']}); seconds per phase: {phases}")
        print(f"{'':<22} N solved at (s): {r['solved_at_s']}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
