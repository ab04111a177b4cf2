"""A/B: the same benchmark on two revisions of the code, interleaved round by round.

    python benchmarks/ab.py --base f72307f -- benchmarks/train_step.py --json --cases multi_20,single_50 --rounds 1

Checks out ``--base`` (a git revision) into a temporary worktree, then runs the benchmark command
(a script path relative to the repository root, and its arguments) alternately from that
worktree and from this one, ``--rounds`` times each, base first in odd rounds and head first in
even ones, so both see the same machine load. The benchmark must print a JSON list of objects with
a ``case`` field (as ``train_step.py --json`` does); for every numeric field the median over
rounds of each side and the median of the per-round ratios head / base are printed. Each side
imports the package from its own ``src/`` (``PYTHONPATH``), so the benchmark script of each
revision measures that revision's code.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_side(tree: Path, command: list[str]) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    proc = subprocess.run([sys.executable, *command], cwd=tree, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark failed in {tree}:\n{proc.stderr[-2000:]}")
    start = proc.stdout.index("[")
    return json.loads(proc.stdout[start:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="git revision to compare against (e.g. a commit or main~3)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- SCRIPT [ARGS...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the benchmark command after --")
    with tempfile.TemporaryDirectory(prefix="ab_") as tmp:
        base_tree = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base_tree), args.base], cwd=ROOT, check=True)
        try:
            results: dict[str, list[list[dict]]] = {"base": [], "head": []}
            for r in range(args.rounds):
                order = [("base", base_tree), ("head", ROOT)]
                for side, tree in order if r % 2 == 0 else order[::-1]:
                    results[side].append(run_side(tree, command))
                    print(f"round {r + 1}/{args.rounds}: {side} done", file=sys.stderr, flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=False)
    rows = []
    # a case only one side knows (a benchmark added after the base revision) has nothing to compare
    base_cases = {row["case"] for row in results["base"][0]}
    for case in [row["case"] for row in results["head"][0] if row["case"] in base_cases]:
        per_round = [({x["case"]: x for x in b}[case], {x["case"]: x for x in h}[case])
                     for b, h in zip(results["base"], results["head"])]
        for field, value in per_round[0][1].items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or field not in per_round[0][0]:
                continue
            base = statistics.median(b[field] for b, _ in per_round)
            head = statistics.median(h[field] for _, h in per_round)
            ratios = [h[field] / b[field] for b, h in per_round if b[field]]
            rows.append({"case": case, "field": field, "base": base, "head": head,
                         "head_over_base": statistics.median(ratios) if ratios else None})
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"base {args.base} vs head (this worktree), {args.rounds} rounds; medians, and the median per-round ratio")
    print(f"{'case':<16} {'field':<26} {'base':>12} {'head':>12} {'head/base':>10}")
    for row in rows:
        ratio = f"{row['head_over_base']:.3f}" if row["head_over_base"] is not None else "-"
        print(f"{row['case']:<16} {row['field']:<26} {row['base']:>12.4g} {row['head']:>12.4g} {ratio:>10}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
