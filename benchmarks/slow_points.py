"""Slow-point finder: 1000 initial states of a 128-unit GRU, batched against a per-state loop.

    python benchmarks/slow_points.py                  # 1000 states batched; the loop on 25 of them
    python benchmarks/slow_points.py --loop-states 0  # batched only
    python benchmarks/slow_points.py --json

The batched finder optimises every initial state at once (one forward and one backward pass of
the whole batch per iteration). The loop runs the same finder on one initial state at a time,
which is what a per-state search costs; it is timed on ``--loop-states`` states and its time per
state is multiplied out to all states (printed as such). Every point has its own learning rate and
stopping rule, so both find the same points; the benchmark prints the largest distance between
the loop's final states and the batched ones. Nothing is asserted; the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from torch import nn

from rnn_timescales.dynamics.slow_points import find_slow_points, sample_states
from rnn_timescales.models import MODELS


def build_gru(hidden: int, gain: float, seed: int) -> nn.Module:
    """The benchmarked GRU: PyTorch's default initialisation with the recurrent weights (every
    parameter named ``weight_hh*``) of the toolkit's registered GRU (``models.MODELS``, ``gru``) multiplied by ``gain``, which
    slows its fixed point's slowest mode (under zero input: 2.9 steps at gain 1.5, 13 at gain 3)."""
    with torch.random.fork_rng():  # the initialisation only; the caller's global generator is left alone
        torch.manual_seed(seed)
        model = MODELS.get("gru")(hidden_size=hidden, input_size=1, n_heads=1, n_classes=2)
    recurrent = [p for name, p in model.named_parameters() if name.split(".")[-1].startswith("weight_hh")]
    if not recurrent:
        raise ValueError("the GRU has no parameter named weight_hh*; cannot apply --gain")
    with torch.no_grad():
        for p in recurrent:
            p.mul_(gain)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--states", type=int, default=1000, help="initial states (default 1000)")
    parser.add_argument("--hidden", type=int, default=128, help="GRU units (default 128)")
    parser.add_argument("--gain", type=float, default=3.0, help="recurrent weight gain (default 3)")
    parser.add_argument("--loop-states", type=int, default=25, help="states run one at a time (default 25)")
    parser.add_argument("--noise", type=float, default=0.1, help="noise added to the sampled states (default 0.1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    model = build_gru(args.hidden, args.gain, args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        inputs = torch.randn(200, 16, 1, generator=gen)
        traj = model.run(inputs, model.init_state(16))[50:]
    x0, _ = sample_states(traj, args.states, args.noise, gen)
    u = torch.zeros(1)

    t0 = time.perf_counter()
    batched = find_slow_points(model, x0, u)
    t_batched = time.perf_counter() - t0

    out = {
        "hidden": args.hidden, "states": args.states, "gain": args.gain, "threads": torch.get_num_threads(),
        "batched_s": t_batched,
        "batched_iterations_max": int(batched.final_iterations.max()),
        "batched_iterations_median": float(np.median(batched.final_iterations)),
        "converged_fraction": float(batched.final_converged.mean()),
        "distinct_points": batched.n_points,
        "stable_points": int(batched.stable.sum()),
        "q_max": float(batched.final_q.max()),
    }
    if args.loop_states:
        k = min(args.loop_states, args.states)
        t0 = time.perf_counter()
        finals = [find_slow_points(model, x0[i:i + 1], u, compute_jacobians=False).final_states[0] for i in range(k)]
        t_loop = time.perf_counter() - t0
        out.update({
            "loop_states_timed": k,
            "loop_s_per_state": t_loop / k,
            "loop_s_all_states_extrapolated": t_loop / k * args.states,
            "speedup": t_loop / k * args.states / t_batched,
            "max_distance_loop_vs_batched": float(np.abs(np.stack(finals) - batched.final_states[:k]).max()),
        })
    if args.json:
        print(json.dumps(out))
        return
    print(f"GRU {args.hidden} units (gain {args.gain}), {args.states} initial states, {out['threads']} threads")
    print(f"  batched: {t_batched:.2f} s; iterations median {out['batched_iterations_median']:.0f}, "
          f"max {out['batched_iterations_max']}; converged {out['converged_fraction']:.1%}; "
          f"{out['distinct_points']} distinct points ({out['stable_points']} stable); max q {out['q_max']:.2e}")
    if args.loop_states:
        print(f"  loop: {out['loop_s_per_state']:.3f} s per state over {k} states -> "
              f"{out['loop_s_all_states_extrapolated']:.1f} s for {args.states} (extrapolated)")
        print(f"  batched / loop speed-up: {out['speedup']:.1f}x; "
              f"max |loop - batched| over the timed states: {out['max_distance_loop_vs_batched']:.2e}")


if __name__ == "__main__":
    main()
