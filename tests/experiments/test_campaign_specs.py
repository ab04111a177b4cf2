"""The sweep specs shipped in configs/ (the reproduction's stages, the example sweeps) are valid, and
the reproduction's run names stay what its campaign directories already hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnn_timescales.experiments.sweep import load_spec, plan

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted([*(ROOT / "configs" / "reproduce").glob("*.yaml"), *(ROOT / "configs" / "sweeps").glob("*.yaml")])


@pytest.mark.parametrize("path", SPECS, ids=[f"{p.parent.name}/{p.name}" for p in SPECS])
def test_every_shipped_spec_plans_valid_runs(path):
    points = plan(load_spec(path))
    assert points and len({p.name for p in points}) == len(points)


def test_the_main_stage_keeps_its_run_names():
    # renaming a run would orphan a campaign's trained networks: change a budget only on purpose
    names = [p.name for p in plan(load_spec(ROOT / "configs" / "reproduce" / "k24_parity.yaml"))]
    assert names[:2] == ["seed-0_curriculum-multi_max_epochs-1000_target_n-50",
                         "seed-0_curriculum-single_max_epochs-400_target_n-none"]
    assert len(names) == 8
