"""The paper's robustness numbers at N = 30 (perturbation of W and tau, ablation of the 20 fastest and
20 slowest neurons), from the result pickles committed with its code: results/k24/paper_robustness.csv.

    python configs/reproduce/paper_robustness.py PAPER_CHECKOUT [--out results/k24]

PAPER_CHECKOUT is a checkout of LevinaLab/rnn_timescale_public (read at commit f04a948); its files
``results/df_perturb_rnn_normalized.pkl``, ``df_perturb_tau_normalized_abs.pkl`` and
``df_ablate_tau.pkl`` are pandas pickles (read with pandas: trust them as you trust that
repository). Networks 1-4 of each curriculum are used, the four the paper's figures show.

Relative accuracy is (accuracy - 1/2) / (baseline - 1/2), the baseline the mean over the paper's
repeats of the unperturbed network's accuracy; per network the mean over repeats, then mean and
s.d. (ddof 0) across the networks. The rows have the columns of results/k24/robustness.csv that
``rnn-timescales report`` draws beside ours: curriculum (multi = the paper's "cumulative"), n, kind,
epsilon_or_group (ablation: ``short`` = the 20 neurons of shortest trained tau, ``long`` = the 20
longest, as our ablation groups), networks, relative_accuracy_mean/_sd, accuracy_mean/_sd.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd

from rnn_timescales.io import atomic_write_text

ROOT = Path(__file__).resolve().parents[2]
NETWORKS = ["network_1", "network_2", "network_3", "network_4"]
CURRICULA = {"cumulative": "multi", "single-head": "single"}
PERTURBATIONS = {"perturb-w": "df_perturb_rnn_normalized.pkl", "perturb-tau": "df_perturb_tau_normalized_abs.pkl"}


def _relative(acc: np.ndarray, base: float) -> np.ndarray:
    return (acc - 0.5) / (base - 0.5)


def perturbation_rows(results: Path) -> list[dict]:
    """Per perturbation kind, curriculum, N and epsilon: the paper's networks' mean and s.d."""
    rows = []
    for kind, name in PERTURBATIONS.items():
        df = pd.read_pickle(results / name)
        per_net = []
        for (curriculum, net, n, eps), r in df.iterrows():
            if curriculum not in CURRICULA or net not in NETWORKS:
                continue
            base = float(np.mean(df.at[(curriculum, net, n, 0.0), "accuracy"]))
            acc = np.asarray(r["accuracy"], dtype=float)
            per_net.append({"curriculum": CURRICULA[curriculum], "n": int(n), "epsilon": float(eps),
                            "rel": float(_relative(acc, base).mean()), "acc": float(acc.mean())})
        for (curriculum, n, eps), g in pd.DataFrame(per_net).groupby(["curriculum", "n", "epsilon"]):
            rows.append({"curriculum": curriculum, "n": n, "kind": kind, "epsilon_or_group": eps, "networks": len(g),
                         "relative_accuracy_mean": g["rel"].mean(), "relative_accuracy_sd": g["rel"].std(ddof=0),
                         "accuracy_mean": g["acc"].mean(), "accuracy_sd": g["acc"].std(ddof=0)})
    return rows


def ablation_rows(results: Path, n: int = 30) -> list[dict]:
    """Per curriculum and group (the 20 shortest-tau neurons, the 20 longest, each silenced alone):
    the paper's networks' accuracy at N = ``n``, mean over the group's neurons and repeats."""
    df = pd.read_pickle(results / "df_ablate_tau.pkl")
    per_net = []
    for (curriculum, net, n_net), r in df.iterrows():
        if curriculum not in CURRICULA or net not in NETWORKS or int(n_net) != n:
            continue
        acc = np.asarray(r["accuracies"], dtype=float)  # (40 neurons, repeats): 20 shortest tau, then 20 longest
        base = float(np.mean(r["baseline_accuracy"]))
        for group, part in (("none", None), ("short", acc[:20]), ("long", acc[20:])):
            values = np.asarray(r["baseline_accuracy"], dtype=float) if part is None else part
            per_net.append({"curriculum": CURRICULA[curriculum], "group": group, "acc": float(values.mean()),
                            "rel": float(_relative(values, base).mean())})
    rows = []
    for (curriculum, group), g in pd.DataFrame(per_net).groupby(["curriculum", "group"], sort=False):
        rows.append({"curriculum": curriculum, "n": n, "kind": "ablation", "epsilon_or_group": group, "networks": len(g),
                     "relative_accuracy_mean": g["rel"].mean(), "relative_accuracy_sd": g["rel"].std(ddof=0),
                     "accuracy_mean": g["acc"].mean(), "accuracy_sd": g["acc"].std(ddof=0)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paper", type=Path, help="a checkout of LevinaLab/rnn_timescale_public")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "k24")
    args = parser.parse_args()
    results = args.paper / "results"
    missing = [f for f in [*PERTURBATIONS.values(), "df_ablate_tau.pkl"] if not (results / f).is_file()]
    if missing:
        parser.exit(2, f"paper_robustness.py: {results} lacks {', '.join(missing)}; give a checkout of "
                       "LevinaLab/rnn_timescale_public\n")
    table = pd.DataFrame([*perturbation_rows(results), *ablation_rows(results)])
    table.insert(0, "task", "parity")
    table["source"] = "LevinaLab/rnn_timescale_public@f04a948 results/*.pkl, networks 1-4"
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "paper_robustness.csv", table.round(4).to_csv(index=False))
    paper_rev = subprocess.run(["git", "-C", str(args.paper), "rev-parse", "--short=7", "HEAD"], capture_output=True,
                               text=True).stdout.strip()
    atomic_write_text(args.out / "paper_robustness.json", json.dumps(
        {"command": "python configs/reproduce/paper_robustness.py PAPER_CHECKOUT",
         "paper_revision": paper_rev or "f04a948 (not a git checkout here)"}, indent=2))
    print(f"wrote {args.out / 'paper_robustness.csv'} ({len(table)} rows)")


if __name__ == "__main__":
    main()
