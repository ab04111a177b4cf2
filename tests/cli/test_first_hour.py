"""A researcher's first hour: the first path of docs/getting-started.md runs (scaled down) and
writes its page; a run that solved nothing is analysed with a one-line warning and labelled
unsolved; the training bar counts epochs and says why it stopped."""

from __future__ import annotations

import re
import shlex
import time
from pathlib import Path

import pandas as pd

from rnn_timescales.cli import main

DOCS = Path(__file__).resolve().parents[2] / "docs"
# the first path at a scale a test can afford: the flags given after the page's win
SCALE = {"train": ["--hidden", "16", "--max-epochs", "2", "--no-progress", "--device", "cpu", "--set",
                   "training.steps_per_epoch=5", "--set", "training.eval_batches=1", "--set",
                   "curriculum.threshold=0.5"],
         "analyze": ["--steps", "400", "--trials", "2", "--max-lag", "40", "--no-progress"],
         "report": []}


def first_path() -> list[list[str]]:
    text = (DOCS / "getting-started.md").read_text()
    section = text.split("## A first analysis in under five minutes")[1].split("\n## ")[0]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S).group(1)
    return [shlex.split(line.split(" #")[0])[1:] for line in block.splitlines() if line.startswith("rnn-timescales")]


def test_the_first_path_of_getting_started_runs_and_writes_a_page(tmp_path, monkeypatch):
    commands = first_path()
    assert [c[0] for c in commands] == ["train", "analyze", "report"]
    assert "--steps" in commands[1] and "--trials" in commands[1]  # the quick analysis, not the defaults
    monkeypatch.chdir(tmp_path)
    start = time.perf_counter()
    for argv in commands:
        assert main(argv + SCALE[argv[0]]) == 0, argv
    assert time.perf_counter() - start < 240  # scaled down; the page quotes the full path's times
    assert (tmp_path / "runs" / "first" / "analysis" / "summary.csv").is_file()
    assert (tmp_path / "runs" / "first" / "report" / "index.html").is_file()


def test_a_run_that_solved_nothing_is_analysed_with_a_warning_and_labelled(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--hidden", "16", "--max-epochs", "1", "--no-progress", "--device", "cpu", "--set",
                 "training.steps_per_epoch=2", "--set", "training.eval_batches=1", "--set",
                 "curriculum.threshold=1.0", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["analyze", str(run), "--steps", "400", "--trials", "2", "--max-lag", "40", "--no-progress"]) == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "solved no N" in warnings[0] and "labelled unsolved" in warnings[0], captured.err
    summary = pd.read_csv(run / "analysis" / "summary.csv")
    assert summary["solved"].tolist() == [False]
    assert "solved" in captured.out.splitlines()[0]
    assert main(["report", str(run)]) == 0  # the report labels it too
    assert "Unsolved: run solved no N" in (run / "report" / "index.html").read_text()


def test_a_solved_run_is_analysed_without_a_warning(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *SCALE["train"], "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["analyze", str(run), *SCALE["analyze"]]) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err
    assert pd.read_csv(run / "analysis" / "summary.csv")["solved"].all()


def test_the_training_bar_counts_epochs_and_says_why_it_stopped(tmp_path, capsys):
    """With a time budget the bar counts epochs done (at most max_epochs) and shows the budget's
    time beside them; the reason the run stopped ends the bar."""
    assert main(["train", "--hidden", "8", "--max-epochs", "3", "--time-budget", "600", "--device", "cpu", "--set",
                 "training.steps_per_epoch=2", "--set", "training.eval_batches=1", "--out", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err.replace("\r", "\n")
    last = [line for line in err.splitlines() if line.startswith("train:")][-1]
    assert "3 epochs done (at most 3)" in last and "of the 10:00 budget" in last and "stopped: max_epochs" in last
    assert " s [" not in last and "/600" not in last  # no seconds counted as work
