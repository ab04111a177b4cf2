"""Are the quick preset's networks the paper's networks at N = 15-30? The reproduction's timescale
rows of groups of runs side by side: results/k24/preset_comparison.csv (per group and N) and
results/k24/preset_comparison_rows.csv (per network and N), for docs/reproduction.md, "Our tau_net
against the authors'", candidates (c) (the exact `paper` preset) and (d) (the modified model).

    python configs/reproduce/compare_presets.py \
        --group "quick preset" ~/rnn-timescales-campaign/k24_parity/seed-0_curriculum-multi_max_epochs-1000_target_n-50 \
        --group "paper preset" ~/rnn-timescales-campaign/k24_paper_preset/seed-0 \
        --group "modified model" ~/rnn-timescales-campaign/k24_inside/seed-0 \
        [--ns 15 20 25 30] [--steps 100000] [--out results/k24] [--name preset_comparison]

Each --group names a label and one or more run directories (e.g. every seed of a stage: its
``seed-*``). At each N of --ns that a run solved, its checkpoint gets the row that ``rnn-timescales
sweep analyze ROOT --set analyze.reproduction={}`` makes
(:func:`rnn_timescales.studies.reproduction.network_timescales`, the paper's simulation: 10 trials
x 10^5 steps, seed 0), computed here with the current code, so the paper's estimator is
``curve_fit`` per unit (``method="paper"``) for every group alike, never read from rows made
before it was. The rows table holds every column of that row; the summary, per group and N, the
number of networks and the mean and s.d. (ddof 1; empty for one network) over them of: trained tau
(mean, median), tau_net by the paper's estimator (``*_aic``: the paper's mean of tau_net > 1 step,
the median and 10 % trimmed mean of those neurons, the share dropped, the share given two
exponentials), tau_net by ours (median over neurons, the paper's mean) and the five slowest
Jacobian modes (median over operating points; time steps). Each row names the revision that
computed it. Rows already computed (same checkpoint and settings) are kept, so an interrupted or
extended run (a new seed, a new group) computes only what is new. Both tables get their entry in OUT/provenance.json. Several CPU-minutes per checkpoint.
--name gives the tables another name (NAME.csv, NAME_rows.csv), e.g. ``timescales_refit`` for the
campaign's networks analysed again with the fixed estimator, beside the rows of timescales.csv.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from rnn_timescales.io import atomic_write_text
from rnn_timescales.runs import load_checkpoint, solved_checkpoints
from rnn_timescales.studies.reproduction import ReproductionSettings, network_timescales

ROOT = Path(__file__).resolve().parents[2]
QUANTITIES = ["tau_mean", "tau_q50", "tau_net_paper_mean_aic", "tau_net_paper_median_aic",
              "tau_net_paper_trimmed_mean_aic", "tau_net_dropped_aic", "share_double_aic", "tau_net_median",
              "tau_net_paper_mean", "jacobian_tau_max", "jacobian_tau_2", "jacobian_tau_3", "jacobian_tau_4",
              "jacobian_tau_5"]
"""The summary's quantities (columns of :func:`network_timescales`'s row)."""
ID = ["group", "run", "seed", "preset", "precision", "placement", "n"]


def fail(message: str) -> None:
    print(f"compare_presets.py: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def checkpoints_at(run_dir: Path, ns: set[int]) -> dict[int, Path]:
    """The run's solved checkpoint at each N of ``ns`` it reached."""
    found = {}
    for path in solved_checkpoints(run_dir):
        n = load_checkpoint(path).n_max
        if n in ns:
            found[n] = path
    return found


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """Per group and N: networks, seeds, and mean and s.d. (ddof 1) of :data:`QUANTITIES`."""
    out = []
    for (group, n), g in rows.groupby(["group", "n"], sort=False):
        rec = {"group": group, "n": n, "networks": len(g), "seeds": " ".join(str(s) for s in sorted(g["seed"])),
               "preset": " ".join(sorted(set(g["preset"]))), "placement": " ".join(sorted(set(g["placement"])))}
        for q in QUANTITIES:
            rec[q] = g[q].mean()
            rec[f"{q}_sd"] = g[q].std(ddof=1) if len(g) > 1 else float("nan")
        out.append(rec)
    return pd.DataFrame(out).sort_values(["n", "group"], kind="stable")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--group", nargs="+", action="append", required=True, metavar=("LABEL", "RUN_DIR"),
                        help="a label and its run directories (repeat for each group)")
    parser.add_argument("--ns", type=int, nargs="+", default=[15, 20, 25, 30])
    parser.add_argument("--steps", type=int, default=ReproductionSettings.n_steps,
                        help="simulated steps per trial (the paper's 10^5; fewer only to try the script)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "k24")
    parser.add_argument("--name", default="preset_comparison",
                        help="the tables' name: OUT/NAME.csv (per group and N) and OUT/NAME_rows.csv (per network and N)")
    args = parser.parse_args()
    if not args.name or "/" in args.name or args.name.startswith("."):
        fail(f"--name {args.name!r} is not a file name; give a plain name such as timescales_refit")
    # the code that computes the rows: the revision at the start
    revision = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=10", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
    groups = []
    for label, *runs in args.group:
        if not runs:
            fail(f"--group {label!r} names no run directory; give --group LABEL RUN_DIR [RUN_DIR ...]")
        for run in map(Path, runs):
            if not (run / "checkpoints").is_dir():
                fail(f"--group {label!r}: {run} is not a run directory (no checkpoints/ in it)")
            groups.append((label, run))
    try:
        settings = ReproductionSettings(ns=tuple(sorted(set(args.ns))), n_steps=args.steps)
        ReproductionSettings.from_mapping({"ns": list(settings.ns), "n_steps": args.steps}, "compare_presets.py")
    except Exception as e:  # noqa: BLE001 -- a ConfigError or ValueError naming what to fix
        fail(str(e))
    key = json.dumps({k: v for k, v in asdict(settings).items() if k not in ("ns", "largest")}, sort_keys=True)
    args.out.mkdir(parents=True, exist_ok=True)
    rows_path, table_path = args.out / f"{args.name}_rows.csv", args.out / f"{args.name}.csv"
    rows = pd.read_csv(rows_path).to_dict("records") if rows_path.is_file() else []
    done = {(r["group"], r["checkpoint"]) for r in rows if r.get("settings") == key}
    rows = [r for r in rows if r.get("settings") == key]
    for label, run in groups:
        for n, path in sorted(checkpoints_at(run, set(settings.ns)).items()):
            if (label, str(path)) in done:
                continue
            t0 = time.time()
            ckpt = load_checkpoint(path)
            c = ckpt.config
            row = network_timescales(ckpt, settings)
            rows.append({"group": label, "run": run.name, "seed": c.seed, "preset": c.preset,
                         "precision": c.model.precision, "placement": c.model.placement, **row,
                         "checkpoint": str(path), "settings": key, "revision": revision})
            print(f"{label} {run.name} N = {n}: tau_net (paper) {row['tau_net_paper_mean_aic']:.3f}, trained tau "
                  f"{row['tau_mean']:.3f} ({time.time() - t0:.0f} s)", flush=True)
            atomic_write_text(rows_path, pd.DataFrame(rows).to_csv(index=False))
    if not rows:
        fail(f"no run of the groups solved any N of {' '.join(map(str, settings.ns))}")
    table = pd.DataFrame(rows)
    table = table[[*ID, *[c for c in table.columns if c not in ID]]]
    atomic_write_text(rows_path, table.to_csv(index=False))
    atomic_write_text(table_path, summarize(table).to_csv(index=False))
    entry = {"command": "python configs/reproduce/compare_presets.py " + shlex.join(sys.argv[1:]),
             "revision": revision,
             "settings": {**json.loads(key), "ns": list(settings.ns),
                          "estimators": "paper (curve_fit per unit; *_aic columns) and parsimonious",
                          "networks": {label: sorted(set(table.loc[table["group"] == label, "checkpoint"]))
                                       for label in dict.fromkeys(table["group"])}}}
    prov_path = args.out / "provenance.json"
    prov = json.loads(prov_path.read_text()) if prov_path.is_file() else {}
    prov.setdefault("tables", {}).update({rows_path.name: entry, table_path.name: entry})
    atomic_write_text(prov_path, json.dumps(prov, indent=2))
    print(f"wrote {table_path} ({len(table)} networks x N) and {rows_path}")


if __name__ == "__main__":
    main()
