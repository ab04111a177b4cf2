"""Robustness analyses at the paper's sizes, and the choice of evaluation engine.

    python benchmarks/robustness.py                  # sweep time + engine comparison (about 1-2 minutes)
    python benchmarks/robustness.py --only sweep     # just the paper-size perturbation sweeps
    python benchmarks/robustness.py --json

``sweep``: one checkpoint's perturbation sweeps at the paper's sizes (W: 11 strengths, tau: 14,
10 repeats, streams of 100 + 1000 steps) through ``perturbation_sweep``, the time of each, and the
relative accuracies at the strengths the paper quotes (its numbers are for N = 30; the reference
checkpoints here stop at N = 11).

``engines``: per-variant cost of the ways to evaluate variants of one network, on the same
checkpoint: one copy per variant through the model's fused ``run`` (what the W sweep uses), the
same batched over variants with ``torch.vmap`` of the model's ``step`` (each variant its own W),
and the tau variants as rows of one batch (what the tau sweep uses), each with one and with two
threads; and the paper code's way (a deep copy and a per-step Python loop reading the head at every
step, per trial), timed on a few trials and scaled to the sweep.

Nothing is asserted; the machine is shared, quote ratios from one run.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch

REF = Path(__file__).resolve().parents[2] / "shared" / "reference_checkpoints"
DEFAULT = [REF / "single_parity_network_1" / "rnn_N11_N11", REF / "cumulative_parity_network_1" / "rnn_N2_N11"]
QUOTED = {"perturb-w": (0.215443, 0.464159), "perturb-tau": (0.046416, 0.1)}


def _threads(n: int):
    torch.set_num_threads(n)
    return n


def sweep(path: Path) -> dict:
    from rnn_timescales.analysis.robustness import perturbation_sweep
    from rnn_timescales.runs import load_any

    ckpt = load_any(path)
    out = {"checkpoint": str(path), "n": ckpt.n_max}
    total = 0.0
    for target in ("w", "tau"):
        t0 = time.perf_counter()
        table = perturbation_sweep(ckpt, target)
        dt = time.perf_counter() - t0
        total += dt
        kind = f"perturb-{target}"
        rel = table.groupby("epsilon")["relative_accuracy"].mean()
        out[kind] = {"seconds": dt, "strengths": int(table["epsilon"].nunique()),
                     "variants": int(len(table)),
                     "relative_accuracy": {f"{e:.3g}": float(rel[np.isclose(rel.index, e)].iloc[0]) for e in QUOTED[kind]},
                     "baseline_accuracy": float(table.loc[table["epsilon"] == 0, "accuracy"].mean())}
    out["seconds"] = total
    return out


def engines(path: Path, variants: int = 10, rows: int = 130) -> dict:
    """Seconds per variant (one stream of 1100 steps each) for each engine: ``variants`` W
    variants, and ``rows`` tau variants (the tau sweep's 13 strengths x 10 repeats)."""
    from torch.func import functional_call, vmap

    from rnn_timescales.analysis.robustness.changes import draw_noise, perturb_tau, perturb_w
    from rnn_timescales.analysis.robustness.streams import (
        StreamingProtocol, _Step, copy_accuracy, draw_streams, rows_accuracy)
    from rnn_timescales.tasks import get_task
    from rnn_timescales.runs import load_any

    ckpt = load_any(path)
    model = ckpt.model
    streams = draw_streams(model, get_task(ckpt.task), ckpt.ns, StreamingProtocol(repeats=variants))
    heads, n_active = [len(ckpt.ns) - 1], len(ckpt.ns)
    gen = torch.Generator().manual_seed(0)
    w = model.recurrent_weight().detach()
    ws = perturb_w(w, 0.2, draw_noise("w", "normalized", (variants, *w.shape), gen))
    taus = perturb_tau(model.tau.detach(), 0.05, draw_noise("tau", "normalized_abs", (rows, w.shape[0]), gen))
    stream_of = torch.arange(rows) % variants

    def copies(param: str, values: torch.Tensor, count: int) -> None:
        variant = copy.deepcopy(model)
        for r in range(count):
            with torch.no_grad():
                dict(variant.named_parameters())[param].copy_(values[r])
            copy_accuracy(variant, streams, heads, n_active, repeats=[int(stream_of[r])])

    def vmapped(chunk: int) -> None:
        module = _Step(model)
        step = vmap(lambda p, h, x: functional_call(module, p, (h, x)), in_dims=(0, 0, 0))
        with torch.no_grad():
            for lo in range(0, variants, chunk):
                idx = list(range(lo, min(variants, lo + chunk)))
                p = {"model.recurrent.weight": ws[idx]}
                h = streams.h0[idx, None]
                for t in range(streams.inputs.shape[0]):
                    h = step(p, h, streams.inputs[t, idx, None])
                    if t >= streams.warmup:
                        model.readout(h[:, 0], n_active).argmax(-1)

    cases = (
        ("w: one copy per variant, fused run (the W sweep)", variants, lambda: copies("recurrent.weight", ws, variants)),
        ("w: vmap over step, 2 variants at once", variants, lambda: vmapped(2)),
        (f"w: vmap over step, {variants} variants at once", variants, lambda: vmapped(variants)),
        (f"tau: {rows} variants as rows of one batch, vmap (the tau sweep)", rows,
         lambda: rows_accuracy(model, {"tau": taus}, stream_of, streams, heads, n_active)),
        ("tau: one copy per variant, fused run", rows, lambda: copies("tau", taus, rows)),
    )
    out = {}
    for threads in (1, 2):
        _threads(threads)
        for name, count, fn in cases:
            t0 = time.perf_counter()
            fn()
            out[f"{name} [{threads} thread{'s' if threads > 1 else ''}]"] = (time.perf_counter() - t0) / count
    _threads(1)
    out["paper code's way (copy + per-step loop), per trial [1 thread]"] = _paper_way(model, streams, ckpt) / 3
    return out


def _paper_way(model, streams, ckpt, trials: int = 3) -> float:
    """Seconds for ``trials`` trials done as the paper code does them: a deep copy of the network,
    then a Python loop over steps that updates the state and reads the head at every step."""
    t0 = time.perf_counter()
    head = len(ckpt.ns) - 1
    for r in range(trials):
        net = copy.deepcopy(model)
        with torch.no_grad():
            h = streams.h0[r:r + 1]
            outs = []
            for t in range(streams.inputs.shape[0]):
                h = net.step(h, streams.inputs[t, r:r + 1])
                outs.append(net.readout(h)[:, head])
            torch.vstack(outs)[streams.warmup:].argmax(-1)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="*", type=Path, default=DEFAULT)
    parser.add_argument("--only", choices=("sweep", "engines"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    threads = torch.get_num_threads()
    results = {"torch_threads": threads, "sweeps": [], "engines": None}
    if args.only in (None, "sweep"):
        for path in args.checkpoints:
            results["sweeps"].append(sweep(path))
    if args.only in (None, "engines"):
        results["engines"] = {"checkpoint": str(args.checkpoints[0]), "seconds_per_variant": engines(args.checkpoints[0])}
        torch.set_num_threads(threads)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for s in results["sweeps"]:
        print(f"{s['checkpoint']} (N = {s['n']}): perturb-w {s['perturb-w']['seconds']:.1f} s "
              f"({s['perturb-w']['strengths']} strengths), perturb-tau {s['perturb-tau']['seconds']:.1f} s "
              f"({s['perturb-tau']['strengths']} strengths), both {s['seconds']:.1f} s = {s['seconds'] / 60:.0%} of a minute")
        for kind in ("perturb-w", "perturb-tau"):
            rel = ", ".join(f"eps {e}: {v:.2f}" for e, v in s[kind]["relative_accuracy"].items())
            print(f"    {kind}: baseline accuracy {s[kind]['baseline_accuracy']:.4f}; relative accuracy {rel}")
    if results["engines"]:
        per = results["engines"]["seconds_per_variant"]
        ref = per["w: one copy per variant, fused run (the W sweep) [1 thread]"]
        print(f"engines on {results['engines']['checkpoint']} (ms per variant of 1100 steps; ratio to the W sweep's engine):")
        for name, sec in per.items():
            print(f"    {sec * 1e3:8.1f} ms  {sec / ref:6.2f}x  {name}")


if __name__ == "__main__":
    main()
