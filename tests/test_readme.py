"""The README's commands work, and those of the documentation's getting-started and command pages:
every ``rnn-timescales`` command and the Python example are run,
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
from conftest import REFERENCE_DIR, require_reference_checkpoints, tiny_overrides

from rnn_timescales.cli import main
from rnn_timescales.config import build_config
from rnn_timescales.training.trainer import train

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
GETTING_STARTED = (ROOT / "docs" / "getting-started.md").read_text()


def command_pages() -> list[Path]:
    """The documentation's command pages in the order of the site's navigation (a sweep before its report)."""
    import yaml

    nav = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)["nav"]
    commands = next(item["Commands"] for item in nav if isinstance(item, dict) and "Commands" in item)
    return [ROOT / "docs" / next(iter(c.values())) for c in commands]


# the README, the getting-started page and every command's page: their commands are all run
PAGES = [README, GETTING_STARTED, *(p.read_text() for p in command_pages())]

# Appended per command so that each finishes in seconds.
SCALE = {
    "train": ["--hidden", "16", "--max-epochs", "2", "--no-progress", "--set", "training.steps_per_epoch=5",
              "--set", "training.eval_batches=1", "--set", "training.batch_size=16"],
    "resume": ["--no-progress"],
    "evaluate": ["--batches", "2", "--streams", "1", "--length", "100"],
    "analyze": ["--steps", "300", "--trials", "1", "--max-lag", "40", "--no-progress"],
    "import-reference": [],
    "timescales": ["--n-boot", "20", "--no-progress"],
    "robustness": ["--repeats", "2", "--length", "100", "--w-epsilons", "0", "1", "--tau-epsilons", "0", "1",
                   "--ablate-count", "2", "--no-progress", "--epochs", "1", "--new-n", "1", "--set",
                   "training.steps_per_epoch=2", "--set", "training.eval_batches=1", "--set", "training.batch_size=16"],
    "sweep": ["--no-progress", "--workers", "2", "--set", "model.hidden_size=16", "--set", "training.steps_per_epoch=5",
              "--set", "training.eval_batches=1", "--set", "training.batch_size=16", "--set", "training.max_epochs=2",
              "--set", "analyze.timescales.n_trials=1", "--set", "analyze.timescales.n_steps=300",
              "--set", "analyze.timescales.max_lag=40", "--set", "analyze.timescales.fit_lag=20"],
    "sweep status": [],
    "sweep collect": [],
    "report": [],
    "figures": [],
    "list": [],
    "probe-forgetting": ["--streams", "4", "--held-out", "1", "--length", "200", "--warmup", "20", "--no-progress"],
    "slow-points": ["--initial", "16", "--trials", "2", "--steps", "60", "--burn-in", "20", "--max-iters", "1500",
                    "--no-progress"],
    "extrapolate": ["--trials", "2", "--max-delay", "8", "--no-progress"],
    "recall-memory": ["--trials-per-class", "4", "--centre-trials", "32", "--trials", "2", "--max-delay", "8",
                      "--set", "max_iters=50", "--no-progress"],
    "speed-regularization": ["--steps", "4", "--epoch-steps", "2", "--centre-trials", "32", "--trials", "2",
                             "--max-delay", "8", "--no-progress"],
    "compare-models": ["--hidden", "8", "--max-epochs", "1", "--workers", "1", "--models", "gru", "--curricula", "multi",
                       "--set", "training.steps_per_epoch=2", "--set", "training.eval_batches=1",
                       "--set", "training.batch_size=8", "--no-progress"],
}


def blocks(language: str, pages: list[str] | None = None) -> list[str]:
    return [b for text in (PAGES if pages is None else pages) for b in re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)]


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
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert "make run" in commands and "make test" in commands  # the two quick-start commands
    assert "make test" in ci  # CI runs the test command exactly as the README shows it
    makefile = (ROOT / "Makefile").read_text()
    run_recipe = makefile.split("\nrun:")[1].split("\n\n")[0]
    test_recipe = makefile.split("\ntest:")[1].split("\n\n")[0]
    assert "rnn-timescales train\n" in run_recipe + "\n" and "python -m pytest -q" in test_recipe
    # the manual set-up the README documents is what make does
    assert any(c.startswith("python3 -m venv") for c in commands)
    # PyTorch's CPU build first, from its CPU index, as the Makefile installs it
    cpu = "--index-url https://download.pytorch.org/whl/cpu"
    assert f"pip install torch==2.13.0 {cpu}" in commands and 'pip install -e ".[dev]"' in commands
    assert "TORCH ?= torch==2.13.0" in makefile and 'pip install -e ".[dev]"' in makefile
    # an index only when asked for (the project's machines find the CPU build locally and reach no other index)
    assert "TORCH_INDEX ?=\n" in makefile and "--index-url $(TORCH_INDEX)" in makefile
    assert "CPU build of PyTorch" in (ROOT / "PACKAGE.md").read_text() and cpu in (ROOT / "PACKAGE.md").read_text()
    assert "python -m pytest -q" in commands and "rnn-timescales train" in commands


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A working directory with ``../shared`` beside it, like the repository's, and a trained run."""
    require_reference_checkpoints()
    (tmp_path / "shared").symlink_to(REFERENCE_DIR.parent, target_is_directory=True)
    ws = tmp_path / "repo"
    ws.mkdir()
    (ws / "configs").symlink_to(ROOT / "configs", target_is_directory=True)
    (ws / "results").mkdir()  # the committed tables, read only; what the commands write stays in the workspace
    for table_dir in (ROOT / "results").iterdir():
        (ws / "results" / table_dir.name).symlink_to(table_dir, target_is_directory=table_dir.is_dir())
    monkeypatch.chdir(ws)
    config = build_config("paper", overrides=tiny_overrides(hidden=16, batch=16, steps=5)
                          + ["curriculum.threshold=0.5", "training.max_epochs=2"])
    train(config, ws / "run", progress=False)
    import numpy as np

    from rnn_timescales.analysis.synthetic import ou_process, ou_spike_counts

    # the data files of the README's `rnn-timescales timescales` examples
    np.save(ws / "spikes.npy", np.transpose(ou_spike_counts([3.0, 30.0], [0.4, 0.6], 300, 40, 2, seed=0), (1, 0, 2)))
    np.savez(ws / "rates.npz", rates=ou_process([5.0], None, 300, 30, 1, seed=1)[:, :, 0])
    return ws


def test_every_rnn_timescales_command_of_the_readme_runs(workspace):
    ran = set()
    for line in shell_commands():
        if not line.startswith("rnn-timescales"):
            continue
        argv = [("run" if a == "RUN_DIR" else a) for a in shlex.split(line)[1:]]
        kind = ("resume" if "--resume" in argv else " ".join(argv[:2]) if argv[:2] in (["sweep", "status"], ["sweep", "collect"])
                else argv[0])
        assert main(argv + SCALE[kind]) == 0, line
        ran.add(kind)
    assert ran == set(SCALE)
    assert (workspace / "runs" / "reference" / "cumulative_parity_network_1" / "analysis" / "summary.csv").is_file()
    assert (workspace / "run" / "analysis" / "figures" / "tau_vs_n.png").is_file()
    assert (workspace / "runs" / "quick" / "report" / "index.html").is_file()
    assert (workspace / "results" / "quick" / "runs.csv").is_file()


def test_the_python_example_of_getting_started_runs(workspace):
    (code,) = blocks("python", [GETTING_STARTED])
    exec(compile(code, "docs/getting-started.md", "exec"), {})
    assert (workspace / "runs" / "notebook_run" / "summary.json").is_file()


def test_the_benchmark_command_of_the_readme_runs():
    (line,) = [c for c in shell_commands() if c.startswith("python benchmarks/train_step.py --json")]
    argv = shlex.split(line)[1:] + ["--cases", "multi_10", "--rounds", "1", "--no-sim"]
    proc = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert '"baseline_steps_per_s"' in proc.stdout and '"roofline_gflops"' in proc.stdout


def test_the_worked_example_of_the_contracts_doc_runs(tmp_path, monkeypatch):
    from rnn_timescales.curricula import CURRICULA
    from rnn_timescales.tasks import TASKS

    (code,) = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "contracts.md").read_text(), flags=re.S)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    try:
        exec(compile(code, "docs/contracts.md", "exec"), namespace)
    finally:
        TASKS.unregister("echo")
        CURRICULA.unregister("lag-up")
    assert namespace["result"].stop_reason == "target_level"
    assert (tmp_path / "runs" / "echo" / "checkpoints" / "rnn_lag3.safetensors").is_file()
