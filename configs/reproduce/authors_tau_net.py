"""tau_net by the authors' own analysis code and by ours, on the same simulated activity:
results/k24/authors_tau_net.csv (docs/reproduction.md, "Our tau_net against the authors'").

    PYTHONPATH=CHECKOUT:CHECKOUT/analysis/timescales python configs/reproduce/authors_tau_net.py CHECKOUT \
        [--reference FILE ...] [--ours CHECKPOINT ...] [--steps 100000] [--repeats 3] [--out results/k24]

CHECKOUT is a checkout of LevinaLab/rnn_timescale_public (read at commit f04a948); its code is
imported from there, never copied: ``timescales_utils`` (``make_binary_data``, ``comp_ac_fft``,
``model_comp``, as its ``compute_taus.py`` calls them) and ``src.models.init_model``; both need
the two PYTHONPATH entries above. For every checkpoint (the checkout's published multi-head N = 2,
5, 8, 11 and single-head N = 5, 8, 11, then each ``--ours`` checkpoint of ours), the authors'
simulation runs once (10 trials of steps + 500 + a burn-in of 500, input Bernoulli(p), p ~ U(0, 1)
per trial, torch seeded with 0) and both estimators read that one activity array:

- ``authors``: their comp_ac_fft and model_comp per neuron (lags 0..30), then their aggregation:
  the mean of tau_net > 1 (``paper_mean``);
- ``ours``: our autocorrelation and :func:`rnn_timescales.analysis.timescales.fit_timescales` with
  ``method="paper"`` (what ``tau_net_table`` does, in blocks of units);
- ``ours_on_their_curves``: our fit on their autocorrelation curves (must equal ``authors``);
- ``batched``: the optimiser ``method="paper"`` used before it ran curve_fit (our batched
  Levenberg-Marquardt from the same start), for the record.

``repeats`` more fits of their curves, each multiplied by (1 + 1e-8 z), z ~ N(0, 1) (lag 0 kept at
1), give the spread of the paper's estimator under rounding-size changes (``rounding_*``). Per
estimator the row also holds what the aggregate is made of: units with tau_net > 1, units at the
bound (tau_net >= 99), the mean without them, the median, 90th percentile and 10 %-trimmed mean of
tau_net > 1. One CPU thread; about 3 CPU-minutes per checkpoint at 10^5 steps.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats

from rnn_timescales.analysis.fitting import fit_batched, paper_start
from rnn_timescales.analysis.autocorrelation import autocorrelation
from rnn_timescales.analysis.timescales import fit_timescales, select_models
from rnn_timescales.io import atomic_write_text
from rnn_timescales.runs.load import load_any

ROOT = Path(__file__).resolve().parents[2]
# in the order they are run (the most informative first)
REFERENCE = [("cumulative_parity_network_1", "multi", 5, "rnn_N2_N5"), ("cumulative_parity_network_1", "multi", 11, "rnn_N2_N11"),
             ("single_parity_network_1", "single", 11, "rnn_N11_N11"), ("single_parity_network_1", "single", 5, "rnn_N5_N5"),
             ("cumulative_parity_network_1", "multi", 2, "rnn_N2_N2"), ("cumulative_parity_network_1", "multi", 8, "rnn_N2_N8"),
             ("single_parity_network_1", "single", 8, "rnn_N8_N8")]
BURN, TRIALS, MAX_LAG, FIT_LAG, BOUND = 500, 10, 200, 30, 99.0


def aggregate(tau: np.ndarray, prefix: str) -> dict:
    """The paper's aggregate of one network's tau_net and what it is made of."""
    above = tau[np.isfinite(tau) & (tau > 1)]
    inside = above[above < BOUND]
    return {f"{prefix}_paper_mean": above.mean(), f"{prefix}_n_above_1": above.size,
            f"{prefix}_n_at_bound": int((above >= BOUND).sum()), f"{prefix}_mean_without_bound": inside.mean(),
            f"{prefix}_median": np.median(above), f"{prefix}_q90": np.quantile(above, 0.9),
            f"{prefix}_trimmed_mean_10": stats.trim_mean(above, 0.1)}


def authors_network(path: Path, init_model):
    """The authors' RNN_Stack with the weights of their checkpoint file or of one of ours."""
    rnn = init_model(NUM_CLASSES=2, DEVICE="cpu")
    if path.suffix != ".safetensors":
        rnn.load_state_dict(torch.load(path, map_location="cpu", weights_only=False)["state_dict"], strict=False)
        return rnn
    m = load_any(path).model
    state = rnn.state_dict()
    pairs = {"parameterlist.0": m.tau, "modulelist.0.weight": m.input.weight, "modulelist.0.bias": m.input.bias,
             "modulelist.1.weight": m.recurrent.weight, "modulelist.1.bias": m.recurrent.bias}
    for k in range(m.readout.weight.shape[0]):
        pairs[f"modulelist.{2 + k}.weight"], pairs[f"modulelist.{2 + k}.bias"] = m.readout.weight[k], m.readout.bias[k]
    state.update({k: v.detach().clone() for k, v in pairs.items()})
    rnn.load_state_dict(state)
    return rnn


def compare(path: Path, steps: int, repeats: int, tu, init_model) -> dict:
    """One checkpoint: the authors' estimator and ours on one simulated activity array."""
    torch.manual_seed(0)
    data = tu.make_binary_data(authors_network(path, init_model), steps + 500 + BURN, TRIALS, [500])["l00"][BURN:]
    lags = np.arange(MAX_LAG + 1)
    curves = np.stack([tu.comp_ac_fft(data[:, :, j].T)[:MAX_LAG] / TRIALS for j in range(data.shape[2])])
    y = curves[:, :FIT_LAG + 1] / curves[:, :1]

    def theirs(c):
        sel = [tu.model_comp(row, lags, 0, FIT_LAG) for row in c]
        model = np.array([m for m, _ in sel], dtype=float)
        tau = np.array([t if m == 1 else (t[1] if m == 2 else np.nan) for m, t in sel], dtype=float)
        return model, tau

    model_a, tau_a = theirs(curves)
    # our autocorrelation in blocks of units (a whole (steps, 10, 500) FFT would need ~20 GB)
    ac = np.concatenate([autocorrelation(data[:, :, i:i + 25], FIT_LAG, per_trial=True)
                         for i in range(0, data.shape[2], 25)], axis=1)
    ours = fit_timescales(ac, FIT_LAG, "paper")
    on_theirs = fit_timescales(y, FIT_LAG, "paper")
    t = np.arange(FIT_LAG + 1.0)
    batched = select_models(y, fit_batched(y, t, 1, paper_start(1)), fit_batched(y, t, 2, paper_start(2)),
                            method="paper")
    rng = np.random.default_rng(0)
    rounding = []
    for _ in range(repeats):
        yr = y * (1 + 1e-8 * rng.standard_normal(y.shape))
        yr[:, 0] = 1.0
        tau_r = fit_timescales(yr, FIT_LAG, "paper")["tau_net"].to_numpy()
        rounding.append(tau_r[tau_r > 1].mean())
    tau_o, tau_t = ours["tau_net"].to_numpy(), on_theirs["tau_net"].to_numpy()
    same = lambda m, tt: (m == model_a) & ((tt == tau_a) | (np.isnan(tt) & np.isnan(tau_a)))  # noqa: E731
    row = {"share_double_authors": float((model_a == 2).mean()), "share_double_ours": float((ours["model"] == 2).mean()),
           "identical_on_their_curves": float(same(on_theirs["model"].to_numpy(), tau_t).mean()),
           "same_model_same_activity": float((ours["model"].to_numpy() == model_a).mean()),
           "same_model_batched": float((batched["model"].to_numpy() == model_a).mean()),
           "rounding_mean": float(np.mean(rounding)), "rounding_min": float(np.min(rounding)),
           "rounding_max": float(np.max(rounding)), "rounding_repeats": repeats}
    for prefix, tau in (("authors", tau_a), ("ours", tau_o), ("ours_on_their_curves", tau_t),
                        ("batched", batched["tau_net"].to_numpy())):
        row.update(aggregate(tau, prefix))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path)
    parser.add_argument("--ours", type=Path, nargs="*", default=[], help="our checkpoint files (rnn_N*_N*.safetensors)")
    parser.add_argument("--steps", type=int, default=10**5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reference", nargs="*", metavar="FILE", default=[r[3] for r in REFERENCE],
                        help="which of the checkout's checkpoints (default: all seven; none: only --ours)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "k24")
    args = parser.parse_args()
    try:
        import timescales_utils as tu
        from src.models import init_model
    except ImportError as e:
        print(f"authors_tau_net.py: error: cannot import the authors' code ({e}); run with "
              "PYTHONPATH=CHECKOUT:CHECKOUT/analysis/timescales", file=sys.stderr)
        raise SystemExit(2) from None
    torch.set_num_threads(1)
    unknown = sorted(set(args.reference) - {r[3] for r in REFERENCE})
    if unknown:
        print(f"authors_tau_net.py: error: --reference {', '.join(unknown)}: choose from "
              f"{', '.join(r[3] for r in REFERENCE)}", file=sys.stderr)
        raise SystemExit(2)
    jobs = [("authors", cur, n, args.checkout / "trained_models" / d / f) for d, cur, n, f in REFERENCE
            if f in args.reference]
    for p in args.ours:
        ck = load_any(p)
        jobs.append(("ours", ck.curriculum, ck.n_max, p))
    missing = [str(p) for *_, p in jobs if not p.is_file()]
    if missing:
        print(f"authors_tau_net.py: error: no checkpoint file at {', '.join(missing)}", file=sys.stderr)
        raise SystemExit(2)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / "authors_tau_net.csv"
    done = pd.read_csv(out) if out.is_file() else pd.DataFrame()
    rows = done.to_dict("records")
    for network, curriculum, n, path in jobs:
        name = path.name if network == "authors" else str(path)
        if len(done) and (done["checkpoint"] == name).any():
            continue
        t0 = time.time()
        rows.append({"network": network, "curriculum": curriculum, "n": n, "checkpoint": name, "steps": args.steps,
                     "trials": TRIALS, **compare(path, args.steps, args.repeats, tu, init_model)})
        print(f"{name}: authors {rows[-1]['authors_paper_mean']:.3f}, ours {rows[-1]['ours_paper_mean']:.3f} "
              f"({time.time() - t0:.0f} s)", flush=True)
        atomic_write_text(out, pd.DataFrame(rows).to_csv(index=False))
    revision = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=10", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
    # the table gathers rows of several calls: its record keeps every command that added rows, with
    # the revision it ran at
    command = ("PYTHONPATH=CHECKOUT:CHECKOUT/analysis/timescales python configs/reproduce/authors_tau_net.py CHECKOUT "
               + " ".join(sys.argv[2:]))
    record_path = out.with_suffix(".json")
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    if command not in record.get("command", ""):
        record["command"] = f"{record['command']}; then {command}" if record.get("command") else command
        record["revision"] = (f"{record['revision']}; {revision} (the rows of: {command})" if record.get("revision")
                              else revision)
    record.update({"authors_commit": "f04a948",
                   "settings": {"steps": args.steps, "burn_in": BURN, "trials": TRIALS, "max_lag": MAX_LAG,
                                "fit_lag": FIT_LAG, "torch_seed": 0, "rounding_repeats": args.repeats,
                                "rounding_scale": 1e-8, "bound": BOUND}})
    atomic_write_text(record_path, json.dumps(record, indent=2))
    print(f"wrote {out} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
