"""The same tiny sweep on a local Ray instance (2 CPUs) and on the local process pool gives the
same runs: identical metrics (timing aside), checkpoints and final training states."""

from __future__ import annotations

import pytest
from sweep_testing import write_spec
from conftest import assert_same_run

from rnn_timescales.experiments.sweep import load_spec, plan, run_sweep

ray = pytest.importorskip("ray", reason='Ray is not installed (pip install "rnn-timescales[ray]")')


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning", log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_and_the_local_pool_give_identical_runs(tmp_path, local_ray):
    spec = load_spec(write_spec(tmp_path / "tiny.yaml", grid={"curriculum.kind": ["single", "multi"], "seed": [0, 1]}))
    on_ray = run_sweep(spec, tmp_path / "ray", backend="ray", progress=False)
    local = run_sweep(spec, tmp_path / "local", backend="local", workers=2, progress=False)
    assert on_ray.counts["done"] == local.counts["done"] == 4
    assert ray.is_initialized()  # a Ray started by the caller is left running
    for p in plan(spec):
        assert_same_run(tmp_path / "ray" / p.name, tmp_path / "local" / p.name)
