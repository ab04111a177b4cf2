"""Planning a sweep of 10^4 points (issue 32): ``plan`` against validating every point in full (what
planning did before points differing only in numbers of free settings shared a validation), side by
side in one process, wall and CPU seconds, for three grid shapes.

    python benchmarks/sweep_planning.py

Both give the same configurations (checked here on every point of every shape).
"""

from __future__ import annotations

import gc
import time

from rnn_timescales.experiments.sweep import SweepSpec, plan, point_config
from rnn_timescales.experiments.sweep.points import expand

SHAPES = {
    "lr x hidden (100 x 100)": {"grid": {"optimizer.lr": [1e-3 * i for i in range(1, 101)],
                                         "model.hidden_size": list(range(8, 108))}},
    "seed x hidden (1000 x 10)": {"grid": {"seed": list(range(1000)), "model.hidden_size": list(range(8, 18))}},
    "runs (4) x lr x tau (50 x 50)": {
        "grid": {"optimizer.lr": [1e-3 * i for i in range(1, 51)], "model.tau_init": [1 + 0.1 * i for i in range(50)]},
        "runs": [{"curriculum.kind": "single"}, {"curriculum.kind": "multi"}, {"model.hidden_size": 64},
                 {"training.batch_size": 32}]},
}


def _timed(fn, *args):
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def _every_point_in_full(spec: SweepSpec) -> list:
    memo: dict = {}
    return [point_config(spec, settings, memo) for settings in expand(spec)]


def main() -> None:
    print(f"{'grid':32s} {'points':>7s} {'full validation wall / CPU s':>29s} {'plan wall / CPU s':>20s}")
    for label, mapping in SHAPES.items():
        spec = SweepSpec.from_mapping({"base": {"preset": "quick"}, **mapping})
        full, full_wall, full_cpu = _timed(_every_point_in_full, spec)
        points, wall, cpu = _timed(plan, spec)
        assert [p.config for p in points] == full
        print(f"{label:32s} {len(points):7d} {full_wall:17.2f} / {full_cpu:5.2f}   {wall:12.2f} / {cpu:5.2f}")
        del full, points


if __name__ == "__main__":
    main()
