"""Timescale rows of the paper's published checkpoints (../shared/reference_checkpoints), with the same
measures as the campaign's networks: results/k24/reference_timescales.csv.

    python configs/reproduce/reference_timescales.py [--reference DIR] [--out results/k24]

The paper code trained them (seed 0, 600-step epochs); the rows answer half of the estimator
question: does our estimator on the paper's own networks give our curve, and the paper's estimator
the paper's? The table's entry in OUT/provenance.json records the command, revision and settings.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import torch

from rnn_timescales.studies.reproduction import checkpoint_rows
from rnn_timescales.io import atomic_write_text

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, default=ROOT.parent / "shared" / "reference_checkpoints")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "k24")
    args = parser.parse_args()
    torch.set_num_threads(1)
    multi = sorted((args.reference / "cumulative_parity_network_1").glob("rnn_N2_N*"))
    single = sorted((args.reference / "single_parity_network_1").glob("rnn_N*_N*"))
    table = checkpoint_rows(multi + single, progress=True)
    table["checkpoint"] = [str(Path(p).relative_to(args.reference)) for p in table["checkpoint"]]
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "reference_timescales.csv", table.sort_values(["curriculum", "n"]).to_csv(index=False))
    revision = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=10", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
    prov_path = args.out / "provenance.json"
    prov = json.loads(prov_path.read_text()) if prov_path.is_file() else {}
    prov.setdefault("tables", {})["reference_timescales.csv"] = {
        "command": "python configs/reproduce/reference_timescales.py", "revision": revision,
        "settings": "the paper code's seed-0 checkpoints (../shared/reference_checkpoints), ReproductionSettings "
                    "defaults: 10 trials x 10^5 steps, burn-in 500, lags 0-30 fitted of 200, simulation seed 0; "
                    "the paper's estimator by curve_fit per unit (method='paper')"}
    atomic_write_text(prov_path, json.dumps(prov, indent=2))
    print(f"wrote {args.out / 'reference_timescales.csv'} ({len(table)} rows)")


if __name__ == "__main__":
    main()
