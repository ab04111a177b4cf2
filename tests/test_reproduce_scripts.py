"""configs/reproduce/compare_presets.py and simulation_seeds.py (docs/reproduction.md, "Our tau_net
against the authors'"): bad arguments are refused in one line with exit code 2 and nothing written
(docs/errors.md), and the comparison's summary is what its rows give."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "configs" / "reproduce"
DOCS = ROOT / "docs" / "errors.md"


def _refused(args: list[str], out: Path) -> str:
    proc = subprocess.run([sys.executable, *args, "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert not out.exists()
    return lines[0]


def test_compare_presets_refuses_a_directory_that_is_not_a_run(tmp_path):
    """`compare-presets-not-a-run`."""
    line = _refused([str(SCRIPTS / "compare_presets.py"), "--group", "quick preset", str(tmp_path)],
                    tmp_path / "results")
    assert line == f"compare_presets.py: error: --group 'quick preset': {tmp_path} is not a run directory " \
                   "(no checkpoints/ in it)"
    assert "`compare-presets-not-a-run`" in DOCS.read_text()


def test_compare_presets_refuses_a_group_without_runs(tmp_path):
    """`compare-presets-no-run`."""
    line = _refused([str(SCRIPTS / "compare_presets.py"), "--group", "quick preset"], tmp_path / "results")
    assert "--group 'quick preset' names no run directory" in line
    assert "`compare-presets-no-run`" in DOCS.read_text()


def test_compare_presets_refuses_a_name_that_is_not_a_file_name(tmp_path):
    """`compare-presets-bad-name`."""
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    line = _refused([str(SCRIPTS / "compare_presets.py"), "--name", "../x", "--group", "L", str(run)],
                    tmp_path / "results")
    assert line == "compare_presets.py: error: --name '../x' is not a file name; give a plain name such as " \
                   "timescales_refit"
    assert "`compare-presets-bad-name`" in DOCS.read_text()


def test_simulation_seeds_refuses_a_missing_checkpoint(tmp_path):
    """`simulation-seeds-no-checkpoint`."""
    line = _refused([str(SCRIPTS / "simulation_seeds.py"), str(tmp_path / "rnn_N2_N15.safetensors")],
                    tmp_path / "results")
    assert line == f"simulation_seeds.py: error: no checkpoint file at {tmp_path / 'rnn_N2_N15.safetensors'}"
    assert "`simulation-seeds-no-checkpoint`" in DOCS.read_text()


@pytest.fixture(scope="module")
def compare_presets():
    spec = importlib.util.spec_from_file_location("compare_presets", SCRIPTS / "compare_presets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_summary_is_the_mean_and_sample_sd_of_the_rows(compare_presets):
    rng = np.random.default_rng(0)
    rows = pd.DataFrame([{"group": g, "n": n, "seed": s, "preset": g.split()[0], "placement": "outside",
                          **{q: rng.normal() for q in compare_presets.QUANTITIES}}
                         for g in ("quick preset", "paper preset") for n in (15, 30) for s in (0, 1, 2)])
    rows = rows[~((rows["group"] == "paper preset") & (rows["n"] == 30) & (rows["seed"] > 0))]
    table = compare_presets.summarize(rows)
    assert len(table) == 4 and list(table["n"]) == [15, 15, 30, 30]
    one = table[(table["group"] == "quick preset") & (table["n"] == 30)].iloc[0]
    mine = rows[(rows["group"] == "quick preset") & (rows["n"] == 30)]
    assert one["networks"] == 3 and one["seeds"] == "0 1 2" and one["preset"] == "quick"
    for q in compare_presets.QUANTITIES:
        assert one[q] == pytest.approx(mine[q].mean()) and one[f"{q}_sd"] == pytest.approx(mine[q].std(ddof=1))
    single = table[(table["group"] == "paper preset") & (table["n"] == 30)].iloc[0]
    assert single["networks"] == 1 and np.isnan(single["tau_mean_sd"])


def test_simulation_seeds_refuses_rates_of_the_wrong_number(tmp_path):
    """`simulation-seeds-bad-rates`."""
    ckpt = tmp_path / "rnn_N2_N15.safetensors"
    ckpt.write_bytes(b"")
    line = _refused([str(SCRIPTS / "simulation_seeds.py"), str(ckpt), "--rates", "0.5", "1.5"], tmp_path / "results")
    assert line == "simulation_seeds.py: error: --rates needs 10 probabilities in [0, 1], got 0.5 1.5"
    assert "`simulation-seeds-bad-rates`" in DOCS.read_text()
