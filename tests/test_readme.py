"""The README's commands work: every ``rnn-timescales`` command and the Python example are run,
scaled down to seconds by appending options (the last occurrence of an option wins), in a
workspace laid out like the repository (``../shared`` beside it).

The setup and test commands are what CI itself runs; the benchmark command is run on one small
case. Placeholders: ``RUN_DIR`` is a small trained run.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REFERENCE_DIR, tiny_overrides

from rnn_timescales.cli import main
from rnn_timescales.config import build_config
from rnn_timescales.training.trainer import train

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()

# Appended per command so that each finishes in seconds.
SCALE = {
    "train": ["--hidden", "16", "--max-epochs", "2", "--no-progress", "--set", "training.steps_per_epoch=5",
              "--set", "training.eval_batches=1", "--set", "training.batch_size=16"],
    "resume": ["--no-progress"],
    "evaluate": ["--batches", "2", "--streams", "1", "--length", "100"],
    "analyze": ["--steps", "300", "--trials", "1", "--max-lag", "40", "--no-progress"],
    "import-reference": [],
    "slow-points": ["--initial", "16", "--trials", "2", "--steps", "60", "--burn-in", "20", "--max-iters", "1500",
                    "--no-progress"],
}


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def shell_commands() -> list[str]:
    lines = []
    for block in blocks("bash"):
        for line in block.splitlines():
            line = line.split(" #")[0].strip()
            if line:
                lines.append(line)
    return lines


def test_the_readme_names_setup_main_job_and_tests():
    commands = shell_commands()
    ci = (ROOT / ".ci" / "run").read_text()
    setup = next(c for c in commands if c.startswith("python3 -m venv"))
    assert setup in ci and "python -m pytest -q" in commands and "python -m pytest -q" in ci
    assert "rnn-timescales train" in commands  # the main job, with no options


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A working directory with ``../shared`` beside it, like the repository's, and a trained run."""
    if not REFERENCE_DIR.is_dir():
        pytest.skip("reference checkpoints not available")
    (tmp_path / "shared").symlink_to(REFERENCE_DIR.parent, target_is_directory=True)
    ws = tmp_path / "repo"
    ws.mkdir()
    monkeypatch.chdir(ws)
    config = build_config("paper", overrides=tiny_overrides(hidden=16, batch=16, steps=5)
                          + ["curriculum.threshold=0.5", "training.max_epochs=2"])
    train(config, ws / "run", progress=False)
    return ws


def test_every_rnn_timescales_command_of_the_readme_runs(workspace):
    ran = set()
    for line in shell_commands():
        if not line.startswith("rnn-timescales"):
            continue
        argv = [("run" if a == "RUN_DIR" else a) for a in shlex.split(line)[1:]]
        kind = "resume" if "--resume" in argv else argv[0]
        assert main(argv + SCALE[kind]) == 0, line
        ran.add(kind)
    assert ran == set(SCALE)
    assert (workspace / "runs" / "reference" / "cumulative_parity_network_1" / "analysis" / "summary.csv").is_file()
    assert (workspace / "run" / "analysis" / "figures" / "tau_vs_n.png").is_file()


def test_the_python_example_of_the_readme_runs(workspace):
    (code,) = blocks("python")
    exec(compile(code, "README.md", "exec"), {})
    assert (workspace / "runs" / "notebook_run" / "summary.json").is_file()


def test_the_benchmark_command_of_the_readme_runs():
    (line,) = [c for c in shell_commands() if c.startswith("python benchmarks/train_step.py --json")]
    argv = shlex.split(line)[1:] + ["--cases", "multi_10", "--rounds", "1", "--no-sim"]
    proc = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert '"baseline_steps_per_s"' in proc.stdout and '"roofline_gflops"' in proc.stdout
