"""Training-step and simulation speed: ours against the paper's loop and the GEMM roofline.

    python benchmarks/train_step.py            # a table
    python benchmarks/train_step.py --json     # a list of objects, one per case

For every case (hidden 500, batch 256, parity, sequence length fixed at the mean of the length
distribution for that N so runs compare) it times one full training step -- data, forward,
backward, clipping, optimiser -- of ours (``task.sample`` + ``training.steps.train_step`` on a
``LeakyRNN``) and of the paper's loop (``benchmarks/paper_baseline.py``), together with a burst of
(256 x 500) . (500 x 500) matrix products, the shape of every per-step product: the roofline.
The three are interleaved round by round so that they see the same machine load; rates are
medians over rounds, and ratios (speed-up, fraction of roofline, bf16 over fp32) are medians of
the ratios within each round. Timings on a shared machine are noisy: read the ratios.

FLOPs counted per training step: the recurrent and input products of the forward pass,
2 T B H (H + D), and twice that for the backward pass (state and weight gradients):
6 T B H (H + D) in all. Nothing else (nonlinearities, readout, optimiser) is counted.

GRU and LSTM cases (``gru_*``, ``lstm_*``) use the paper code's gated setup: hidden 500, batch 64,
Adam lr 1e-3, clipping at 2. Ours (``GRU`` / ``LSTM``: the fused ``nn.GRU`` / ``nn.LSTM`` over the
sequence) is timed against the same model with its whole-sequence paths replaced by the per-step
loop over its one-step update (``run_reference``: explicit gate equations, autograd through every
step) and against a (64 x 500) . (500 x G 500) matrix product, the shape of the gates' per-step
product (G = 3 gates for the GRU, 4 for the LSTM). FLOPs: the gates' products, 2 T B G H (H + D)
forward and twice that backward, 6 T B G H (H + D) in all; the gate nonlinearities, the products
of the reset gate and the readout are not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

# Run as a script, this file's folder is on the import path, so its sibling module is found.
from paper_baseline import PaperStep

from rnn_timescales.models import MODELS, LeakyRNN
from rnn_timescales.runtime import native_bf16
from rnn_timescales.tasks import get_task
from rnn_timescales.training.steps import train_step

HIDDEN, BATCH = 500, 256
GATED_BATCH = 64  # the paper code's GRU/LSTM runs
GATES = {"gru": 3, "lstm": 4}


@dataclass
class Case:
    case: str
    curriculum: str  # "multi" (heads for N = 2..n_max) or "single" (one head, N = n_max)
    n_max: int
    precision: str = "fp32"
    model: str = "leaky_rnn"

    @property
    def ns(self) -> list[int]:
        return list(range(2, self.n_max + 1)) if self.curriculum == "multi" else [self.n_max]

    @property
    def length(self) -> int:
        """Mean of M ~ UniformInteger[N + 2, 4 N + 2), rounded down."""
        low, high = self.n_max + 2, 4 * self.n_max + 2
        return (low + high - 1) // 2


CASES = [
    Case("multi_10", "multi", 10),
    Case("multi_20", "multi", 20),
    Case("multi_50", "multi", 50),
    Case("single_20", "single", 20),
    Case("single_50", "single", 50),
    Case("multi_20_bf16", "multi", 20, "bf16"),
    Case("multi_50_bf16", "multi", 50, "bf16"),
    Case("gru_multi_10", "multi", 10, model="gru"),
    Case("gru_multi_20", "multi", 20, model="gru"),
    Case("gru_multi_20_bf16", "multi", 20, "bf16", model="gru"),
    Case("lstm_multi_10", "multi", 10, model="lstm"),
    Case("lstm_multi_20", "multi", 20, model="lstm"),
]


@dataclass
class Result:
    case: str
    hidden: int
    batch: int
    curriculum: str
    n_max: int
    precision: str
    seq_len: int
    ours_steps_per_s: float
    baseline_steps_per_s: float
    speedup: float
    ours_gflops: float
    baseline_gflops: float
    roofline_gflops: float
    fraction_of_roofline: float
    threads: int
    rounds: int
    model: str
    baseline: str


def step_flops(length: int, batch: int = BATCH, hidden: int = HIDDEN, inputs: int = 1, gates: int = 1) -> float:
    return 6.0 * length * batch * gates * hidden * (hidden + inputs)


# --- timers --------------------------------------------------------------------------------------
def timed(fn, repeat: int = 1) -> float:
    """Seconds per call of ``fn`` over ``repeat`` calls."""
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def timed_sys(fn) -> tuple[float, float]:
    """(wall seconds, kernel CPU seconds) of one call: kernel time here is page faults of fresh
    allocations, the cost of allocating per step."""
    r0, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    fn()
    wall, r1 = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    return wall, r1.ru_stime - r0.ru_stime


class Gemm:
    """A burst of (m x k) . (k x n) products in ``dtype`` lasting about ``seconds``."""

    def __init__(self, dtype: torch.dtype, m: int = BATCH, k: int = HIDDEN, n: int = HIDDEN, seconds: float = 0.3):
        g = torch.Generator().manual_seed(0)
        self.a = torch.randn(m, k, generator=g).to(dtype)
        self.b = torch.randn(k, n, generator=g).to(dtype)
        self.out = torch.empty(m, n, dtype=dtype)
        self.flops = 2.0 * m * k * n
        self.seconds = seconds
        torch.mm(self.a, self.b, out=self.out)
        per = timed(lambda: torch.mm(self.a, self.b, out=self.out), 3)
        self.repeat = max(1, int(seconds / max(per, 1e-6)))

    def gflops(self) -> float:
        return self.flops / timed(lambda: torch.mm(self.a, self.b, out=self.out), self.repeat) / 1e9


class OurStep:
    def __init__(self, case: Case, seed: int = 0):
        torch.manual_seed(seed)
        self.model = LeakyRNN(HIDDEN, n_heads=100, precision=case.precision)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.05, momentum=0.1, nesterov=True)
        self.task = get_task("parity")
        self.generator = torch.Generator().manual_seed(seed)
        self.ns, self.length = case.ns, case.length

    def __call__(self) -> None:
        batch = self.task.sample({"ns": self.ns}, BATCH, self.generator, length=self.length)
        float(train_step(self.model, self.optimizer, batch, 2.0, self.generator))


class GatedStep:
    """One training step of the paper code's gated setup on our GRU or LSTM; ``per_step``: the same
    model with ``run`` / ``run_final`` replaced by the per-step loop over its ``step``."""

    def __init__(self, case: Case, per_step: bool = False, seed: int = 0):
        torch.manual_seed(seed)
        cls = MODELS.get(case.model)
        if per_step:
            cls = type(f"PerStep{cls.__name__}", (cls,), {
                "run": lambda self, x, s: self.run_reference(x, s),
                "run_final": lambda self, x, s: self.run_reference(x, s)[-1],
            })
        self.model = cls(HIDDEN, n_heads=100, precision=case.precision)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.task = get_task("parity")
        self.generator = torch.Generator().manual_seed(seed)
        self.ns, self.length = case.ns, case.length

    def __call__(self) -> None:
        batch = self.task.sample({"ns": self.ns}, GATED_BATCH, self.generator, length=self.length)
        float(train_step(self.model, self.optimizer, batch, 2.0, self.generator))


def bench_case(case: Case, rounds: int, threads: int) -> Result:
    # the roofline of the precision the step computes in (bf16 only where it runs natively)
    dtype = torch.bfloat16 if case.precision == "bf16" and native_bf16("cpu") else torch.float32
    fp32_case = Case(case.case, case.curriculum, case.n_max, model=case.model)
    if case.model == "leaky_rnn":
        ours, baseline = OurStep(case), PaperStep(HIDDEN, case.ns, BATCH, case.length)
        gemm, batch, flops, what = Gemm(dtype), BATCH, step_flops(case.length), "paper's loop"
        # bf16 is judged against our own fp32 step, timed in the same rounds.
        fp32 = OurStep(fp32_case) if case.precision != "fp32" else None
    else:
        gates = GATES[case.model]
        ours, baseline = GatedStep(case), GatedStep(case, per_step=True)
        gemm, batch, what = Gemm(dtype, m=GATED_BATCH, n=gates * HIDDEN), GATED_BATCH, "per-step loop"
        flops = step_flops(case.length, GATED_BATCH, gates=gates)
        fp32 = GatedStep(fp32_case) if case.precision != "fp32" else None
    ours(), baseline()  # warm-up: allocator, first-call dispatch
    if fp32 is not None:
        fp32()
    t_ours, t_base, t_fp32, roof, sys_ours, sys_base = [], [], [], [], [], []
    for _ in range(rounds):
        wall, kernel = timed_sys(ours)
        t_ours.append(wall), sys_ours.append(kernel)
        roof.append(gemm.gflops())
        wall, kernel = timed_sys(baseline)
        t_base.append(wall), sys_base.append(kernel)
        if fp32 is not None:
            t_fp32.append(timed(fp32))
    o, b, r = statistics.median(t_ours), statistics.median(t_base), statistics.median(roof)
    # Ratios are taken within each round (the load of a shared machine changes between rounds),
    # then the median over rounds is reported.
    extra = {
        "ours_s_per_round": [round(x, 4) for x in t_ours],
        "baseline_s_per_round": [round(x, 4) for x in t_base],
        "roofline_gflops_per_round": [round(x, 2) for x in roof],
        "ours_kernel_s": statistics.median(sys_ours),
        "baseline_kernel_s": statistics.median(sys_base),
    }
    if t_fp32:
        extra["fp32_steps_per_s"] = 1 / statistics.median(t_fp32)
        extra["bf16_over_fp32"] = statistics.median(f / x for f, x in zip(t_fp32, t_ours))
    return extra, Result(
        case=case.case, hidden=HIDDEN, batch=batch, curriculum=case.curriculum, n_max=case.n_max,
        precision=case.precision, seq_len=case.length, ours_steps_per_s=1 / o, baseline_steps_per_s=1 / b,
        speedup=statistics.median(y / x for x, y in zip(t_ours, t_base)),
        ours_gflops=flops / o / 1e9, baseline_gflops=flops / b / 1e9, roofline_gflops=r,
        fraction_of_roofline=statistics.median(flops / x / 1e9 / g for x, g in zip(t_ours, roof)),
        threads=threads, rounds=rounds, model=case.model, baseline=what,
    )


def bench_simulation(steps: int, trials: int, rounds: int, threads: int) -> dict:
    """No-grad simulation as the timescale analysis runs it: ``trials`` Bernoulli(p) streams."""
    torch.manual_seed(0)
    model = LeakyRNN(HIDDEN, n_heads=100).eval()
    g = torch.Generator().manual_seed(0)
    p = torch.rand(trials, generator=g)
    x = (torch.rand(steps, trials, generator=g) < p).float().unsqueeze(-1)
    h0 = model.init_state(trials, g)
    fast = lambda: model.run(x, h0)  # noqa: E731
    plain = lambda: model.run_reference(x, h0)  # noqa: E731
    gemm = Gemm(torch.float32, m=trials)
    t_fast, t_plain, roof = [], [], []
    with torch.no_grad():
        fast(), plain()
        for _ in range(rounds):
            t_fast.append(timed(fast))
            roof.append(gemm.gflops())
            t_plain.append(timed(plain))
    o, b = statistics.median(t_fast), statistics.median(t_plain)
    flops = 2.0 * steps * trials * HIDDEN * (HIDDEN + 1)
    return {
        "case": "simulation", "hidden": HIDDEN, "batch": trials, "curriculum": None, "n_max": None,
        "precision": "fp32", "seq_len": steps, "ours_steps_per_s": steps / o, "baseline_steps_per_s": steps / b,
        "speedup": statistics.median(y / x for x, y in zip(t_fast, t_plain)),
        "ours_gflops": flops / o / 1e9, "baseline_gflops": flops / b / 1e9, "roofline_gflops": statistics.median(roof),
        "fraction_of_roofline": statistics.median(flops / x / 1e9 / g for x, g in zip(t_fast, roof)),
        "threads": threads, "rounds": rounds,
        "ours_neuron_steps_per_s": HIDDEN * trials * steps / o, "baseline_neuron_steps_per_s": HIDDEN * trials * steps / b,
        "baseline": "per-step loop over model.step (LeakyRNN.run_reference)", "model": "leaky_rnn",
    }


def bench_gated_simulation(steps: int, trials: int, rounds: int) -> dict:
    """No-grad simulation of a 500-unit LSTM and GRU as the analysis runs them: the LSTM's ``run``
    (h from the fused layer, c rebuilt: every state), its ``run_final`` (the fused layer alone:
    the cost floor) and its per-step loop; the GRU's ``run`` (the fused layer)."""
    torch.manual_seed(0)
    lstm, gru = MODELS.get("lstm")(HIDDEN).eval(), MODELS.get("gru")(HIDDEN).eval()
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(steps, trials, generator=g) < 0.5).float().unsqueeze(-1)
    s_lstm, s_gru = lstm.init_state(trials), gru.init_state(trials)
    cases = {
        "lstm run": lambda: lstm.run(x, s_lstm),
        "lstm run_final": lambda: lstm.run_final(x, s_lstm),
        "lstm per-step loop": lambda: lstm.run_reference(x, s_lstm),
        "gru run": lambda: gru.run(x, s_gru),
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    with torch.no_grad():
        for fn in cases.values():
            fn()
        for _ in range(rounds):
            for k, fn in cases.items():
                times[k].append(timed(fn))
    t = {k: statistics.median(v) for k, v in times.items()}
    return {
        "case": "gated_simulation", "hidden": HIDDEN, "trials": trials, "steps": steps, "rounds": rounds,
        "seconds": t, "unit_steps_per_s": {k: HIDDEN * trials * steps / v for k, v in t.items()},
        "lstm_run_over_run_final": statistics.median(a / b for a, b in zip(times["lstm run"], times["lstm run_final"])),
        "lstm_loop_over_run": statistics.median(a / b for a, b in zip(times["lstm per-step loop"], times["lstm run"])),
    }


def machine() -> dict:
    flags = ""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        pass
    units = [f for f in ("avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f" {f}" in flags]
    return {
        "cpu": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "bf16_units": units or "none (no avx512_bf16 / amx): bf16 is emulated at fp32 speed",
        "native_bf16_matmul": native_bf16("cpu"),
    }


def table(results: list[dict], rooflines: dict) -> str:
    head = (
        f"{'case':<15}{'N':>4}{'T':>5}{'prec':>6}{'ours step/s':>13}{'paper step/s':>14}{'speed-up':>10}"
        f"{'ours GF/s':>11}{'paper GF/s':>12}{'roofline':>10}{'of roof':>9}{'paper sys s':>13}"
    )
    leaky = any(r["case"] not in ("simulation", "gated_simulation") and r["model"] == "leaky_rnn" for r in results)
    lines = [head, "-" * len(head)] if leaky else []
    for r in results:
        if r["case"] in ("simulation", "gated_simulation") or r["model"] != "leaky_rnn":
            continue
        lines.append(
            f"{r['case']:<15}{r['n_max']:>4}{r['seq_len']:>5}{r['precision']:>6}{r['ours_steps_per_s']:>13.2f}"
            f"{r['baseline_steps_per_s']:>14.3f}{r['speedup']:>9.2f}x{r['ours_gflops']:>11.1f}"
            f"{r['baseline_gflops']:>12.1f}{r['roofline_gflops']:>10.1f}{100 * r['fraction_of_roofline']:>8.0f}%"
            f"{r['baseline_kernel_s']:>13.2f}"
        )
    gated = [r for r in results if r["case"] not in ("simulation", "gated_simulation") and r["model"] != "leaky_rnn"]
    if gated:
        head = (f"{'case':<18}{'N':>4}{'T':>5}{'prec':>6}{'ours step/s':>13}{'loop step/s':>13}{'speed-up':>10}"
                f"{'ours GF/s':>11}{'loop GF/s':>11}{'roofline':>10}{'of roof':>9}")
        lines += ["", head, "-" * len(head)]
        for r in gated:
            lines.append(
                f"{r['case']:<18}{r['n_max']:>4}{r['seq_len']:>5}{r['precision']:>6}{r['ours_steps_per_s']:>13.2f}"
                f"{r['baseline_steps_per_s']:>13.2f}{r['speedup']:>9.2f}x{r['ours_gflops']:>11.1f}"
                f"{r['baseline_gflops']:>11.1f}{r['roofline_gflops']:>10.1f}{100 * r['fraction_of_roofline']:>8.0f}%"
            )
        lines.append("gru/lstm: batch 64, Adam; loop = the same model through its per-step update; roofline = "
                     "(64 x 500) . (500 x G 500), G = 3 (gru) or 4 (lstm) gates; FLOPs 6 T B G H (H + 1)")
    for r in results:
        if r["case"] == "gated_simulation":
            lines.append(
                f"\nLSTM/GRU simulation, {r['trials']} trials x {r['steps']} steps, H = {r['hidden']} (no grad), "
                "M unit-steps/s: " + ", ".join(f"{k} {v / 1e6:.1f}" for k, v in r["unit_steps_per_s"].items())
                + f"; LSTM run (h and c at every step) costs {r['lstm_run_over_run_final']:.2f}x run_final "
                f"and is {r['lstm_loop_over_run']:.2f}x faster than the per-step loop"
            )
        if "bf16_over_fp32" in r:
            lines.append(
                f"\n{r['case']}: bf16 {r['ours_steps_per_s']:.2f} step/s vs our fp32 {r['fp32_steps_per_s']:.2f} step/s "
                f"in the same rounds: {r['bf16_over_fp32']:.2f}x (bf16 matrix units: {'yes' if r['bf16_native'] else 'no, emulated'})"
            )
        if r["case"] == "simulation":
            lines.append(
                f"\nsimulation, {r['batch']} trials x {r['seq_len']} steps, H = {r['hidden']} (no grad): "
                f"{r['ours_neuron_steps_per_s'] / 1e6:.1f} M neuron-steps/s ours, "
                f"{r['baseline_neuron_steps_per_s'] / 1e6:.1f} M per-step loop ({r['speedup']:.2f}x); "
                f"{r['ours_gflops']:.1f} GFLOP/s of a {r['roofline_gflops']:.1f} GFLOP/s (10 x 500).(500 x 500) roofline"
            )
    lines.append(
        "\nT: sequence length (mean for N); GF/s: recurrent + input GEMM FLOPs of forward and backward per second;"
        "\nroofline: (256 x 500) . (500 x 500) GEMM in the step's precision (bf16 rows: bf16 where native), timed in"
        "\nthe same rounds; speed-up and 'of roof' are per-round"
        "\nratios (median); paper sys s: kernel CPU seconds per paper step (page faults of per-step allocations)."
    )
    lines.append(
        "\nroofline, (256 x 500) . (500 x 500): "
        + ", ".join(f"{k} {v:.1f} GFLOP/s" for k, v in rooflines.items())
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print a JSON list of cases instead of a table")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per case (median is reported)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads for ours and the baseline alike")
    parser.add_argument("--cases", default=None, help=f"comma-separated subset of: {', '.join(c.case for c in CASES)}")
    parser.add_argument("--sim-steps", type=int, default=20_000, help="simulation length (the analysis uses 10^5)")
    parser.add_argument("--no-sim", action="store_true", help="skip the simulation benchmark")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    cases = CASES
    if args.cases:
        wanted = set(args.cases.split(","))
        unknown = wanted - {c.case for c in CASES}
        if unknown:
            parser.error(f"unknown case(s) {sorted(unknown)}")
        cases = [c for c in CASES if c.case in wanted]

    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if args.json else (lambda *a: print(*a, flush=True))
    info = machine()
    log("machine:", json.dumps(info))
    rooflines = {"fp32": statistics.median(Gemm(torch.float32).gflops() for _ in range(5))}
    bf16 = Gemm(torch.bfloat16, seconds=0.5)
    rooflines["bf16 (torch.mm)"] = statistics.median(bf16.gflops() for _ in range(3))
    results = []
    for case in cases:
        log(f"timing {case.case} (T = {case.length}) ...")
        extra, result = bench_case(case, args.rounds, threads)
        results.append(asdict(result) | extra)
        if case.precision == "bf16":
            results[-1]["bf16_roofline_gflops"] = rooflines["bf16 (torch.mm)"]
            results[-1]["bf16_native"] = info["native_bf16_matmul"]
    if not args.no_sim:
        log(f"timing simulation (10 trials x {args.sim_steps} steps) ...")
        results.append(bench_simulation(args.sim_steps, 10, max(3, args.rounds // 2), threads))
        log(f"timing the gated models' simulation (10 trials x {args.sim_steps // 4} steps) ...")
        results.append(bench_gated_simulation(args.sim_steps // 4, 10, max(3, args.rounds // 2)))
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        print(table(results, rooflines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
