"""``rnn-timescales probe-forgetting``: a small trained run end to end, and every bad input refused in
one line with exit code 2 and nothing written (each a row of docs/errors.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest
from conftest import assert_case_refused, missing_from_docs, tiny_overrides

from rnn_timescales.cli import main
from rnn_timescales.config import build_config
from rnn_timescales.training.trainer import train

DOCS = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


@dataclass
class Case:
    id: str
    argv: list[str]
    expect: str
    setup: Callable[[Path], object] | None = None


P = ["probe-forgetting", "--no-progress"]
CASES = [
    Case("probe-missing", P + ["nowhere", "--out", "o"], "'nowhere' does not exist"),
    Case("probe-not-a-network", P + ["empty", "--out", "o"], "holds no run directories",
         lambda ws: (ws / "empty").mkdir()),
    Case("probe-held-out", P + ["run", "--out", "o", "--held-out", "10"], "held_out .* smaller than streams"),
    Case("probe-out-is-file", P + ["run", "--out", "afile"], "is a file", lambda ws: (ws / "afile").write_text("x")),
    Case("probe-no-out", P + ["run"], "required: --out"),
]


@pytest.fixture(scope="module")
def two_level_run(tmp_path_factory) -> Path:
    """A multi-head run that solved N = 2, 3 and 4 (threshold 0.01: every epoch advances)."""
    run = tmp_path_factory.mktemp("probe") / "run"
    config = build_config("paper", overrides=tiny_overrides(hidden=16, batch=16, steps=5)
                          + ["curriculum.threshold=0.01", "training.max_epochs=3", "seed=3"])
    result = train(config, run, progress=False)
    assert len(result.solved) >= 2
    return run


def test_probe_forgetting_writes_its_tables_and_figure(two_level_run, tmp_path, capsys):
    out = tmp_path / "probe"
    assert main(["probe-forgetting", str(two_level_run), "--out", str(out), "--no-progress", "--streams", "4",
                 "--held-out", "1", "--length", "300"]) == 0
    table = pd.read_csv(out / "probe_forgetting.csv")
    assert set(table["checkpoint_n"]) >= {0, 2, 3}
    assert table["probe_accuracy"].between(0, 1).all()
    summary = pd.read_csv(out / "probe_forgetting_summary.csv")
    assert list(summary["checkpoint_n"])[:2] == [2, 3]
    assert (out / "probe_forgetting.png").stat().st_size > 10_000 and (out / "probe_forgetting.json").is_file()
    # a second call replaces its own earlier output
    assert main(["probe-forgetting", str(two_level_run), "--out", str(out), "--no-progress", "--streams", "4",
                 "--held-out", "1", "--length", "300"]) == 0
    assert pd.read_csv(out / "probe_forgetting.csv").equals(table)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, two_level_run, tmp_path, monkeypatch, capsys):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "run").symlink_to(two_level_run, target_is_directory=True)
    assert_case_refused(case, ws, monkeypatch, capsys)


def test_every_case_is_in_errors_md():
    assert missing_from_docs(CASES, DOCS) == []
