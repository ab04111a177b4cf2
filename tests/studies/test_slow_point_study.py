"""`rnn-timescales slow-points` end to end, and the K24 slow-point analysis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_overrides

from rnn_timescales.studies.slow_points import SlowPointSettings, analyze_slow_points, find_tau_net
from rnn_timescales.dynamics.slow_points import SlowPoints
from rnn_timescales.cli import main
from rnn_timescales.config import build_config
from rnn_timescales.runs import load_any
from rnn_timescales.training.trainer import train

QUICK = ["--initial", "16", "--trials", "2", "--steps", "60", "--burn-in", "20", "--max-iters", "1500", "--no-progress"]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    """A 16-unit run that solved N = 2, analysed by `analyze` (so tau_net is known)."""
    run = tmp_path_factory.mktemp("sp") / "run"
    config = build_config("paper", overrides=tiny_overrides(hidden=16, batch=16, steps=5)
                          + ["curriculum.threshold=0.5", "training.max_epochs=1", "seed=3"])
    train(config, run, progress=False)
    assert main(["analyze", str(run), "--steps", "400", "--trials", "2", "--max-lag", "40", "--fit-lag", "20",
                 "--no-progress"]) == 0
    return run


def test_cli_on_a_run_directory_reads_tau_net(small_run, capsys):
    assert main(["slow-points", str(small_run), *QUICK]) == 0
    out = small_run / "slow_points" / "rnn_N2_N2"
    points = pd.read_csv(out / "slow_points.csv")
    summary = pd.read_csv(out / "slow_points_summary.csv")
    assert len(points) >= 1 and {"q", "stable", "timescale_max", "timescale_1", "unit_timescale_max", "pc1",
                                 "n_max", "tau_net_median", "tau_median"} <= set(points)
    analysis = pd.read_csv(small_run / "analysis" / "summary.csv")
    np.testing.assert_allclose(points["tau_net_median"], analysis["tau_net_median"].iloc[-1])
    np.testing.assert_allclose(summary["tau_net_median"], analysis["tau_net_median"].iloc[-1])
    assert summary["n_points"].iloc[0] == len(points)
    result = SlowPoints.load(out / "slow_points.npz")
    np.testing.assert_allclose(result.q, points["q"])
    for fig in ("slow_points_pca", "slow_point_spectra"):
        assert (out / "figures" / f"{fig}.png").stat().st_size > 0
    assert "tau_net from" in capsys.readouterr().out
    # a second run replaces the first; same seed, same numbers
    assert main(["slow-points", str(small_run), *QUICK]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out / "slow_points.csv"), points)


def test_cli_on_the_reference_network(reference_dir, tmp_path):
    ckpt = reference_dir / "cumulative_parity_network_1" / "rnn_N2_N11"
    out = tmp_path / "sp"
    assert main(["slow-points", str(ckpt), "--out", str(out), "--set", "tol_unique=1e-2", *QUICK]) == 0
    points = pd.read_csv(out / "slow_points.csv")
    assert (points["n_max"] == 11).all() and points["stable"].any()
    stable = points[points["stable"]]
    assert np.isfinite(stable["timescale_max"]).all() and (stable["timescale_max"] > 0).all()
    assert np.isnan(points["tau_net_median"]).all()  # no analysis of it here
    assert SlowPoints.load(out / "slow_points.npz").hyperparameters["tol_unique"] == 1e-2


def test_analysis_leaves_the_checkpoint_model_alone(reference_dir):
    import torch

    ckpt = load_any(reference_dir / "cumulative_parity_network_1" / "rnn_N2_N2")
    before = {k: v.clone() for k, v in ckpt.model.state_dict().items()}
    flags = {n: p.requires_grad for n, p in ckpt.model.named_parameters()}
    res = analyze_slow_points(ckpt, SlowPointSettings(n_initial=8, n_trials=2, n_steps=50, burn_in=10,
                                                      hyperparameters={"max_iters": 800}))
    assert all(torch.equal(v, ckpt.model.state_dict()[k]) for k, v in before.items())
    assert flags == {n: p.requires_grad for n, p in ckpt.model.named_parameters()}
    assert not ckpt.model.training
    assert res.trajectory_pcs.shape == (50, 2, 3) and len(res.points) == res.result.n_points
    assert res.summary["n_initial"] == 8


def test_find_tau_net_matches_by_checkpoint_or_range(tmp_path, reference_dir):
    ckpt = load_any(reference_dir / "cumulative_parity_network_1" / "rnn_N2_N5")
    table = pd.DataFrame({"checkpoint": ["elsewhere/rnn_N2_N5", "elsewhere/rnn_N2_N8"], "n_min": [2, 2],
                          "n_max": [5, 8], "tau_net_median": [0.5, 0.7]})
    table.to_csv(tmp_path / "summary.csv", index=False)
    row, source = find_tau_net(ckpt, tmp_path)
    assert row["tau_net_median"] == 0.5 and source == tmp_path / "summary.csv"
    table.assign(checkpoint=[str(ckpt.path), "x"], n_max=[8, 5]).to_csv(tmp_path / "summary.csv", index=False)
    assert find_tau_net(ckpt, tmp_path)[0]["tau_net_median"] == 0.5  # the path wins over the range
    with pytest.raises(ValueError, match="holds no summary.csv"):
        find_tau_net(ckpt, tmp_path / "missing")
