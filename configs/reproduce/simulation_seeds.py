"""How much the paper-style tau_net of one network moves with the simulation's random draws:
results/k24/simulation_seeds.csv (docs/reproduction.md, "Our tau_net against the authors'").

    python configs/reproduce/simulation_seeds.py CHECKPOINT [CHECKPOINT ...] [--seeds 0 1 2 3] \
        [--rates P P ...] [--steps 100000] [--out results/k24] [--recompute]

For every checkpoint and every simulation seed, our simulation of the reproduction's analysis (what
``rnn-timescales sweep analyze ROOT --set analyze.reproduction={}`` runs: 10 trials of 10^5 steps
after a burn-in of 500, each trial's input Bernoulli(p) with its own p ~ U(0, 1), initial states and
inputs drawn from the seed; :func:`rnn_timescales.analysis.simulation.simulate_statistics` with the
arguments :func:`rnn_timescales.studies.analyze.analyze_checkpoint` gives it), then the paper's
estimator on lags 0..30 two ways:

- ``paper``: :func:`rnn_timescales.analysis.timescales.fit_timescales` with ``method="paper"``
  (``curve_fit`` per unit, as the authors' code);
- ``former``: the optimiser ``method="paper"`` ran before it ran ``curve_fit`` (our batched
  Levenberg-Marquardt from the paper's start, then the paper's AIC rule), with which the committed
  timescales.csv was made.

Per estimator the row holds the paper's aggregate (the mean of tau_net > 1 step) and what it is made
of: units above one step, units at the bound (tau_net >= 99), the mean without them, the median and
the 10 % trimmed mean of tau_net > 1; and the trials' input probabilities p (sorted). Seed 0 is the
simulation behind timescales.csv's row of the checkpoint. ``--rates`` fixes the trials' p (one per
trial, in [0, 1]) instead of drawing them, e.g. the rates the authors' simulation draws with torch
seed 0 (the seed then draws only the initial states and the bits); the row's ``rates`` is ``drawn``
or ``fixed``. The row also compares the two optimisers on the same curves (:func:`optimisers`: how
often the model differs, which finds the lower residual, how often curve_fit's double exponential
stays where the paper's start puts it) and names the revision that computed it. Rows already in
the output table (same checkpoint, seed and steps) are kept, so an interrupted run resumes;
``--recompute`` replaces them. One CPU thread for the fits; about 4 CPU-minutes per seed at 10^5
steps for a 500-unit network.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats as sstats

from rnn_timescales.analysis.fitting import fit_batched, paper_start
from rnn_timescales.analysis.gates import autocorrelated_signals, gate_signals
from rnn_timescales.analysis.simulation import simulate_statistics
from rnn_timescales.analysis.timescales import fit_timescales, select_models
from rnn_timescales.io import atomic_write_text
from rnn_timescales.runs.load import load_any
from rnn_timescales.studies.reproduction import ReproductionSettings
from rnn_timescales.tasks.binary import BernoulliTrials

ROOT = Path(__file__).resolve().parents[2]
BOUND = 99.0


def aggregate(tau: np.ndarray, prefix: str) -> dict:
    """The paper's aggregate of one network's tau_net (time steps) and what it is made of."""
    above = tau[np.isfinite(tau) & (tau > 1)]
    inside = above[above < BOUND]
    return {f"{prefix}_paper_mean": above.mean(), f"{prefix}_n_above_1": above.size,
            f"{prefix}_n_at_bound": int((above >= BOUND).sum()), f"{prefix}_mean_without_bound": inside.mean(),
            f"{prefix}_median": np.median(above), f"{prefix}_trimmed_mean_10": sstats.trim_mean(above, 0.1)}


class FixedRates:
    """A binary task's analysis input with the trials' p given rather than drawn."""

    def __init__(self, task, rates: list[float]) -> None:
        self.task, self.rates = task, rates

    def input_source(self, n_trials: int, generator: torch.Generator | None = None) -> BernoulliTrials:
        return BernoulliTrials(self.task, torch.tensor(self.rates, dtype=torch.float32), generator)


def one_seed(path: Path, seed: int, steps: int, rates: list[float] | None = None, revision: str = "") -> dict:
    """Our simulation of one checkpoint with one seed (and the trials' p, if given), and the paper's
    estimator by both optimisers."""
    s = ReproductionSettings(n_steps=steps, seed=seed)
    ckpt = load_any(path)
    model = ckpt.model.cpu()
    task = ckpt.make_task() if rates is None else FixedRates(ckpt.make_task(), rates)
    sim = simulate_statistics(model, s.n_trials, s.n_steps, s.burn_in, s.max_lag, seed=s.seed, n_points=s.n_points,
                              task=task, signals=gate_signals(model),
                              autocorrelate=autocorrelated_signals(model))
    paper = fit_timescales(sim.ac, s.fit_lag, "paper")
    mean = sim.ac.mean(axis=0)
    y = mean[:, : s.fit_lag + 1] / mean[:, :1]
    t = np.arange(s.fit_lag + 1.0)
    former = select_models(y, fit_batched(y, t, 1, paper_start(1)), fit_batched(y, t, 2, paper_start(2)),
                           method="paper")
    p = np.sort(sim.p) if sim.p is not None else np.array([])
    row = {"checkpoint": str(path), "n": ckpt.n_max, "simulation_seed": seed, "steps": steps, "trials": s.n_trials,
           "revision": revision,
           "rates": "drawn" if rates is None else "fixed", "p_sorted": " ".join(f"{v:.3f}" for v in p),
           "share_double_paper": float((paper["model"] == 2).mean()),
           "share_double_former": float((former["model"] == 2).mean())}
    row.update(aggregate(paper["tau_net"].to_numpy(), "paper"))
    row.update(aggregate(former["tau_net"].to_numpy(), "former"))
    row.update(optimisers(paper, former))
    return row


def optimisers(paper: pd.DataFrame, former: pd.DataFrame) -> dict:
    """How the two optimisers' fits of the same curves differ (tables of
    :func:`~rnn_timescales.analysis.timescales.select_models`, one row per unit): the share of units
    whose selected model differs; per model, the share where one optimiser's residual sum of squares
    is lower than the other's by more than 1 % (all units, and the units whose model differs); and the
    share of curve_fit's double exponentials left on the line tau_fast = tau_slow (to 10^-3 steps),
    where the model is one exponential -- the paper's start (tau1 = tau2 = 50, c = 1/2) lies on it."""
    differs = (paper["model"] != former["model"]).to_numpy()
    out = {"model_differs": float(differs.mean())}
    for model in ("single", "double"):
        ratio = (former[f"rss_{model}"] / paper[f"rss_{model}"]).to_numpy()
        for who, lower in (("former", ratio < 0.99), ("paper", ratio > 1.01)):
            out[f"{who}_rss_{model}_lower"] = float(lower.mean())
            out[f"{who}_rss_{model}_lower_where_differs"] = float(lower[differs].mean()) if differs.any() else 0.0
    out["paper_double_on_line"] = float((np.abs(paper["tau_fast"] - paper["tau_slow"]) < 1e-3).mean())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", type=Path, nargs="+", help="checkpoint files (rnn_N*_N*.safetensors)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--rates", type=float, nargs="+", metavar="P",
                        help=f"the trials' input probabilities ({ReproductionSettings.n_trials} values in [0, 1]) "
                             "instead of p ~ U(0, 1)")
    parser.add_argument("--steps", type=int, default=10**5)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "k24")
    parser.add_argument("--recompute", action="store_true",
                        help="compute the rows of these checkpoints and seeds again (e.g. for columns added later)")
    args = parser.parse_args()
    # the code that computes the rows: the revision at the start
    revision = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=10", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
    missing = [str(p) for p in args.checkpoints if not p.is_file()]
    if missing:
        print(f"simulation_seeds.py: error: no checkpoint file at {', '.join(missing)}", file=sys.stderr)
        raise SystemExit(2)
    if args.steps <= ReproductionSettings.max_lag:
        print(f"simulation_seeds.py: error: --steps must exceed {ReproductionSettings.max_lag}, got {args.steps}",
              file=sys.stderr)
        raise SystemExit(2)
    if args.rates is not None and (len(args.rates) != ReproductionSettings.n_trials
                                   or not all(0 <= r <= 1 for r in args.rates)):
        print(f"simulation_seeds.py: error: --rates needs {ReproductionSettings.n_trials} probabilities in [0, 1], "
              f"got {' '.join(map(str, args.rates))}", file=sys.stderr)
        raise SystemExit(2)
    rates_key = "drawn" if args.rates is None else "fixed"
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / "simulation_seeds.csv"
    done = pd.read_csv(out) if out.is_file() else pd.DataFrame(columns=["checkpoint", "simulation_seed", "steps"])
    if "rates" not in done:
        done["rates"] = "drawn"
    rows = done.to_dict("records")
    for path in args.checkpoints:
        for seed in args.seeds:
            same = [r["checkpoint"] == str(path) and r["simulation_seed"] == seed and r["steps"] == args.steps
                    and r["rates"] == rates_key for r in rows]
            if any(same) and not args.recompute:
                continue
            t0 = time.time()
            rows = [r for r, s_ in zip(rows, same) if not s_]
            rows.append(one_seed(path, seed, args.steps, args.rates, revision))
            print(f"{path} seed {seed}: paper {rows[-1]['paper_paper_mean']:.3f}, former "
                  f"{rows[-1]['former_paper_mean']:.3f} ({time.time() - t0:.0f} s)", flush=True)
            atomic_write_text(out, pd.DataFrame(rows).to_csv(index=False))
    # provenance: each row names the revision that computed it; OUT/provenance.json's entry gathers
    # every command that added rows, with its revision, and the settings they share
    s = ReproductionSettings(n_steps=args.steps)
    command = "python configs/reproduce/simulation_seeds.py " + shlex.join(sys.argv[1:])
    prov_path = args.out / "provenance.json"
    prov = json.loads(prov_path.read_text()) if prov_path.is_file() else {}
    entry = prov.setdefault("tables", {}).setdefault(out.name, {})
    entry["settings"] = {"rates": "drawn, or the --rates of the command", **entry.get("settings", {}),
                         "steps": s.n_steps, "trials": s.n_trials, "burn_in": s.burn_in, "max_lag": s.max_lag,
                         "fit_lag": s.fit_lag, "n_points": s.n_points, "bound": BOUND}
    if command not in entry.get("command", ""):
        entry["command"] = f"{entry['command']}; then {command}" if entry.get("command") else command
        entry["revision"] = f"{entry['revision']}; {revision} (the rows of: {command})" if entry.get("revision") \
            else revision
    atomic_write_text(prov_path, json.dumps(prov, indent=2))
    print(f"wrote {out} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
