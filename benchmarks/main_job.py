"""The README's main job (multi-head parity, ``quick`` preset, 9-minute budget) before and after
the fast path, run side by side so both see the same machine load.

    python benchmarks/main_job.py                 # both, at the same time, one thread each
    python benchmarks/main_job.py --impl fast     # one of them, in this process

"before" is the model's ``run`` as it was before the fast path (commit 475fd93): a per-step loop
of one ``addmm`` plus elementwise operations, recorded by autograd, returning the stacked states.
Everything else (config, data, trainer, optimiser) is the current code, and both runs use the
same seed, so they see the same initial network and the same batches.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

from rnn_timescales.config import build_config
from rnn_timescales.models import LeakyRNN, RecurrentModel
from rnn_timescales.training.trainer import train


def run_before(self: LeakyRNN, inputs: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """``LeakyRNN.run`` as of commit 475fd93 (before the fused recurrence)."""
    inv = 1.0 / self.tau_hat()
    leak = 1.0 - inv
    w = self.recurrent_weight()
    drive = F.linear(inputs, self.input.weight, self.input.bias + self.recurrent.bias)
    states = []
    h = h0
    if self.placement == "outside":
        w_scaled_t = (w * inv[:, None]).t()
        drive = drive * inv
        for t in range(inputs.shape[0]):
            h = self.phi(torch.addmm(drive[t] + leak * h, h, w_scaled_t))
            states.append(h)
    else:
        w_t = w.t()
        for t in range(inputs.shape[0]):
            h = leak * h + inv * self.phi(torch.addmm(drive[t], h, w_t))
            states.append(h)
    return torch.stack(states)


def one(impl: str, budget: float, out: Path, seed: int) -> dict:
    if impl == "before":
        LeakyRNN.run = run_before
        LeakyRNN.forward = RecurrentModel.forward
    config = build_config(
        "quick", overrides=[f"training.time_budget_s={budget}", "device=cpu", f"seed={seed}"]
    )
    result = train(config, out, progress=False)
    m = result.metrics
    return {
        "impl": impl,
        "threads": torch.get_num_threads(),
        "budget_s": budget,
        "n_solved": result.n_solved,
        "epochs": int(len(m)),
        "stop_reason": result.stop_reason,
        "solved_at_s": {int(r.n_max): round(float(r.wall_time_s), 1) for r in m.itertuples() if r.solved},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", choices=["fast", "before"], help="run one implementation in this process")
    parser.add_argument("--budget", type=float, default=540.0, help="wall-clock budget in seconds (quick preset: 540)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="run directory (with --impl)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.impl:
        out = args.out or Path(tempfile.mkdtemp(prefix=f"main_job_{args.impl}_")) / "run"
        print(json.dumps(one(args.impl, args.budget, out, args.seed)), flush=True)
        return 0
    with tempfile.TemporaryDirectory(prefix="main_job_") as tmp:
        procs = {
            impl: subprocess.Popen(
                [sys.executable, __file__, "--impl", impl, "--budget", str(args.budget), "--threads",
                 str(args.threads), "--seed", str(args.seed), "--out", str(Path(tmp) / impl)],
                stdout=subprocess.PIPE, text=True,
            )
            for impl in ("before", "fast")
        }
        results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs.values()]
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
