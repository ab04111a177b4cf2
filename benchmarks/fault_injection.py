"""Fault injection for long campaigns (issue 20): SIGKILL at seeded random moments of the sweep driver
and its workers (local pool, and Ray when it is installed) and of the writing commands (analyze,
robustness, slow-points, report), each followed by a re-run; then every run is compared with the
uninterrupted sweep, finished runs must be untouched, and every file left must be complete.

    PYTHONPATH=tests/experiments python benchmarks/fault_injection.py [--seed 2026] [--sweep-kills 8] [--ray-kills 4] [--command-kills 3] [--write-kills 40]

``--write-kills N``: SIGKILL of the driver's process group at N chosen writes of a tiny sweep (each
kind of file of a new run, then writes spread over the sweep's life), and ENOSPC at each kind of
write, each followed by a re-run (tests/experiments/write_faults.py).

Prints what was tried and found: kills, runs compared, files checked, differences. The tests run a
small seeded subset of the same harness (tests/experiments/test_faults.py, tests/experiments/faults.py),
which is why tests/experiments goes on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

try:
    from faults import Starter, Tally, command_campaign, sweep_campaign, trained_runs
    from write_faults import enospc_campaign, kill_campaign, reference
except ImportError as exc:
    print(f"fault_injection.py: {exc}; run it from the repository root as "
          "PYTHONPATH=tests/experiments python benchmarks/fault_injection.py", file=sys.stderr)
    raise SystemExit(2) from None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--sweep-kills", type=int, default=8, help="kills of the local sweep's driver and workers")
    parser.add_argument("--ray-kills", type=int, default=4, help="kills of the Ray sweep's driver and workers")
    parser.add_argument("--command-kills", type=int, default=3, help="kills of each writing command")
    parser.add_argument("--write-kills", type=int, default=40, help="kills at chosen writes of a new run (0: none)")
    parser.add_argument("--work", help="keep the sweeps here (default: a temporary directory)")
    args = parser.parse_args()

    def log(line: str) -> None:
        print(f"  {line}", flush=True)

    start = Starter()
    total = Tally()
    rows = []
    with tempfile.TemporaryDirectory(prefix="faults-") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        parts = [("sweep, local pool", lambda: sweep_campaign(
            work / "local", start, ["driver", "worker"] * (args.sweep_kills // 2) + ["driver"] * (args.sweep_kills % 2),
            seed=args.seed, log=log))]
        try:
            import ray  # noqa: F401

            parts.append(("sweep, Ray", lambda: sweep_campaign(
                work / "ray", start, ["driver", "worker"] * (args.ray_kills // 2) + ["driver"] * (args.ray_kills % 2),
                seed=args.seed + 1, backend="ray", log=log)))
        except ImportError:
            print("Ray is not installed: the Ray sweep is skipped")
        parts.append(("analyze, robustness, slow-points, report", lambda: command_campaign(
            trained_runs(work / "commands", start) / "run", work / "commands" / "runs", start,
            kills_each=args.command_kills, seed=args.seed + 2, log=log)))
        if args.write_kills:
            parts.append(("kills and ENOSPC at each write", lambda: _writes(work / "writes", start, args.write_kills,
                                                                          args.seed + 3, log)))
        for name, part in parts:
            print(f"{name}:", flush=True)
            t0 = time.monotonic()
            tally = part()
            rows.append((name, tally, time.monotonic() - t0))
            total.add(tally)
            for note in tally.notes:
                log(f"note: {note}")
            for d in tally.differences:
                log(f"DIFFERENCE: {d}")
    print()
    print(f"{'part':<42} {'kills':>6} {'runs compared':>14} {'files checked':>14} {'differences':>12} {'time':>8}")
    for name, t, seconds in rows:
        print(f"{name:<42} {t.kills:>6} {t.runs_compared:>14} {t.files_checked:>14} {len(t.differences):>12} "
              f"{seconds:>7.0f}s")
    print(f"{'total':<42} {total.kills:>6} {total.runs_compared:>14} {total.files_checked:>14} "
          f"{len(total.differences):>12}")
    return 0 if not total.differences else 1


def _writes(work: Path, start: Starter, kills: int, seed: int, log) -> Tally:
    """:func:`write_faults.kill_campaign` and :func:`write_faults.enospc_campaign` as a tally."""
    killed = kill_campaign(start, work / "kills", n=kills, seed=seed, log=log)
    spec, ref, writes = reference(start, work / "full")
    full = enospc_campaign(start, work / "full", spec, ref, writes, log=log)
    tally = Tally(kills=len(killed.hits) + len(full.hits), runs_compared=2 * (len(killed.hits) + len(full.hits)))
    tally.differences = killed.differences + full.differences
    return tally


if __name__ == "__main__":
    raise SystemExit(main())
