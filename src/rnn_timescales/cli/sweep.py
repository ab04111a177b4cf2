"""``rnn-timescales sweep``: many runs from one spec: run, status, analyze, collect."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rnn_timescales.cli.options import add_json, add_out, add_progress, number, positive_float, positive_int
from rnn_timescales.errors import UsageError


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="train (and analyse) many runs from a sweep spec; 'sweep status DIR', 'sweep analyze DIR', "
        "'sweep verify DIR', 'sweep collect DIR... --out RESULTS'",
        description="rnn-timescales sweep SPEC.yaml --out DIR: train every point of a sweep (a base configuration "
        "crossed with a grid and/or a list of runs), each in its own run directory under DIR, on a local process "
        "pool or Ray, then run the spec's analyses; re-running skips finished runs and resumes interrupted ones. "
        "rnn-timescales sweep status DIR [--json]: done / running / failed / pending. "
        "rnn-timescales sweep analyze DIR: run the analyses (the spec's, else timescales) on every finished run. "
        "rnn-timescales sweep verify DIR: re-hash every checkpoint and training state against the SHA-256 recorded "
        "when it was written and list the damaged runs (exit code 1 if any). "
        "rnn-timescales sweep collect DIR [DIR ...] --out RESULTS: the small result tables of sweeps (runs.csv, "
        "curves.csv, timescales.csv, provenance.json), to commit and to draw figures from (report RESULTS).",
    )
    p.add_argument("target", metavar="SPEC.yaml|status|analyze|verify|collect", help="a sweep spec (or a sweep "
                   "directory to continue), or the action status / analyze / verify / collect")
    p.add_argument("dir", nargs="*", metavar="DIR", help="the sweep directory (status and analyze: one; collect: "
                   "one or more)")
    add_out(p, "sweep directory (default: runs/<spec name>); collect: the results directory")
    p.add_argument("--revision", help="collect: the code revision the sweeps ran at (default: each sweep's record "
                   "DIR.revision beside it, written by configs/reproduce/run.sh, else empty)")
    p.add_argument("--update", action="store_true", help="collect: merge into the tables RESULTS already holds "
                   "(rows of runs collected elsewhere are kept; a run collected again replaces its rows; a run "
                   "trained further by another stage lists the earlier one's rows under its name)")
    p.add_argument("--backend", default="local", help="local (a process pool, default) or ray")
    p.add_argument("--workers", type=positive_int, help="runs at once (local default: cores / threads)")
    p.add_argument("--threads", type=positive_int, help="torch threads per run (default: the spec's, else 1)")
    p.add_argument("--gpus", type=number(float, 0.0, False, "a non-negative number"),
                   help="GPUs per run on Ray (default: the spec's, else 0)")
    p.add_argument("--address", help="Ray cluster address (e.g. auto or HOST:PORT); default: a local Ray instance")
    p.add_argument("--run-timeout", type=positive_float, metavar="SECONDS",
                   help="a run (training and analyses) without a result after SECONDS has its worker killed and is "
                   "recorded as failed; the sweep goes on (default: the spec's resources.timeout_s, else no limit)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting of every run (e.g. training.time_budget_s=60) or of an analysis "
                   "(analyze.timescales.n_steps=20000); repeatable")
    p.add_argument("--only", action="append", default=[], metavar="KEY=VALUE[,VALUE]",
                   help="train (or analyse) only the runs with these values, e.g. --only seed=0,1,2 --only "
                   "curriculum=multi; the rest of the sweep waits for a call without it; repeatable")
    p.add_argument("--max-points", type=positive_int, metavar="N",
                   help="allow a sweep of up to N points (default: the spec's resources.max_points, else 10000)")
    p.add_argument("--no-analyze", action="store_true", help="train only; skip the spec's analyses")
    add_json(p, 'status: print {"done": n, "running": n, "failed": n, "pending": n}')
    add_progress(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from rnn_timescales.experiments.sweep import ANALYSES, load_spec, parse_only, run_sweep

    action = args.target if args.target in ("status", "analyze", "verify", "collect") else "run"
    if action == "run" and args.dir:
        raise UsageError(f"unexpected argument {args.dir[0]!r}; give the sweep directory with --out")
    if action != "run" and not args.dir:
        raise UsageError(f"rnn-timescales sweep {action} needs the sweep directory: rnn-timescales sweep {action} DIR")
    if action in ("status", "analyze", "verify") and len(args.dir) > 1:
        raise UsageError(f"unexpected argument {args.dir[1]!r}; sweep {action} takes one sweep directory")
    flags = {"--json": args.json, "--out": args.out, "--no-analyze": args.no_analyze, "--set": args.overrides,
             "--backend": args.backend != "local", "--workers": args.workers, "--threads": args.threads,
             "--gpus": args.gpus is not None, "--address": args.address, "--run-timeout": args.run_timeout,
             "--revision": args.revision is not None, "--only": args.only, "--max-points": args.max_points,
             "--update": args.update}
    running = {"--set", "--backend", "--workers", "--threads", "--gpus", "--address", "--run-timeout", "--only",
               "--max-points"}
    allowed = {"status": {"--json"}, "verify": set(), "analyze": running, "run": running | {"--out", "--no-analyze"},
               "collect": {"--out", "--revision", "--update"}}[action]
    given = [f for f, v in flags.items() if v and f not in allowed]
    if given:
        raise UsageError(f"{given[0]} cannot be given with sweep {'SPEC' if action == 'run' else action}")
    if action == "collect":
        return _collect(args)
    if action == "status":
        return _status(Path(args.dir[0]), args.json)
    if action == "verify":
        return _verify(Path(args.dir[0]))
    if args.backend not in ("local", "ray"):
        raise UsageError(f"--backend must be local or ray, got {args.backend!r}")
    if action == "analyze":
        bad = [o for o in args.overrides if not o.startswith("analyze.")]
        if bad:
            raise UsageError(f"sweep analyze only takes analysis settings (--set analyze.NAME.key=value), got {bad[0]!r}")
        root = Path(args.dir[0])
        spec = load_spec(root, root=True)
        if not spec.analyze and not args.overrides:  # nothing named: the default analysis
            spec = dataclasses.replace(spec, analyze={"timescales": ANALYSES["timescales"].validate({}, "timescales")})
    else:
        spec = load_spec(args.target)
        source = Path(args.target)
        root = Path(args.out) if args.out else (source if source.is_dir() else Path("runs") / source.stem)
    spec = spec.with_overrides(args.overrides)
    if args.no_analyze:
        spec = dataclasses.replace(spec, analyze={})
    if args.threads is not None:
        spec = dataclasses.replace(spec, threads=args.threads)
    if args.gpus is not None:
        spec = dataclasses.replace(spec, gpus=args.gpus)
    if args.run_timeout is not None:
        spec = dataclasses.replace(spec, timeout_s=args.run_timeout)
    if args.max_points is not None:
        spec = dataclasses.replace(spec, max_points=args.max_points)
    result = run_sweep(spec, root, backend=args.backend, workers=args.workers, address=args.address,
                       train=action == "run", progress=not args.no_progress, only=parse_only(args.only),
                       log=lambda line: print(f"rnn-timescales: {line}", file=sys.stderr))
    c = result.counts
    print(f"sweep {root}: {c['done']} done, {c['failed']} failed, {c['pending'] + c['running']} unfinished "
          f"({result.ran} runs worked on, {result.wall_time_s / 60:.1f} min)")
    for s in result.statuses:
        if s.status == "failed":
            print(f"  failed: {s.name}: {s.detail} (see {root / 'errors'})")
    if result.interrupted:
        print(f"rnn-timescales: interrupted; runs in progress saved their state: rnn-timescales sweep {root} "
              "continues", file=sys.stderr)
        return 130
    return 0 if c["failed"] == 0 and c["pending"] + c["running"] == 0 else 1


def _status(root: Path, as_json: bool) -> int:
    """Print each run's status (and its analyses'), then the counts; ``--json``: the counts alone."""
    from rnn_timescales.experiments.sweep import ANALYSES, load_spec, status_counts, sweep_status

    spec = load_spec(root, root=True)
    statuses = sweep_status(root, spec)
    counts = status_counts(statuses)
    if as_json:
        print(json.dumps(counts))
        return 0
    width = max(len(s.name) for s in statuses)
    for s in statuses:
        analysed = [f"{name} {'done' if ANALYSES[name].is_current(root / s.name, settings) else 'to do'}"
                    for name, settings in spec.analyze.items()] if s.status == "done" else []
        print(f"{s.name:<{width}}  {s.status:<8} {s.detail}" + (f"; {', '.join(analysed)}" if analysed else ""))
    print(", ".join(f"{v} {k}" for k, v in counts.items()))
    return 0


def _verify(root: Path) -> int:
    """``sweep verify DIR``: each damaged run and its problems, then the count; exit code 1 if any."""
    from rnn_timescales.experiments.sweep import load_spec, plan, verify_sweep

    spec = load_spec(root, root=True)
    damaged = verify_sweep(root, spec)
    for name, problems in damaged.items():
        print(f"damaged: {name}: {'; '.join(problems)}")
    print(f"sweep {root}: {len(damaged)} of {len(plan(spec))} runs damaged" + (
        "; remove a damaged run's directory (or restore its files) and run the sweep again" if damaged else
        ", every checkpoint and training state verified"))
    return 1 if damaged else 0


def _collect(args: argparse.Namespace) -> int:
    """``sweep collect DIR... --out RESULTS``: the result tables of the sweeps (experiments.results)."""
    import shlex

    from rnn_timescales.experiments.results import collect
    from rnn_timescales.experiments.results_update import collect_update

    if not args.out:
        raise UsageError("sweep collect needs --out RESULTS, the directory for the result tables (e.g. results/k24)")
    command = "rnn-timescales " + shlex.join(sys.argv[1:]) if sys.argv[1:2] == ["sweep"] else ""
    paths = (collect_update if args.update else collect)(args.dir, args.out, revision=args.revision, command=command)
    print(f"wrote {', '.join(p.name for p in paths.values())} into {args.out}")
    return 0
