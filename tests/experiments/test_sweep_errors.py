"""Bad input to ``sweep``, ``sweep status``, ``sweep analyze`` and ``report``: one line on stderr,
exit code 2, nothing written. Each case is a row of the "Sweeps and reports" table in
``docs/errors.md``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import yaml
from sweep_testing import TINY_BASE
from conftest import assert_case_refused, missing_from_docs

from rnn_timescales.experiments.sweep import SweepSpec, plan, prepare_sweep

DOCS = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


def _spec(ws: Path, name: str, data: dict | str) -> None:
    (ws / name).write_text(data if isinstance(data, str) else yaml.safe_dump(data))


def _workspace(ws: Path) -> None:
    """A spec, a sweep made from it (nothing trained), a run directory and a folder of notes."""
    _spec(ws, "spec.yaml", {"base": TINY_BASE, "grid": {"seed": [0, 1]}})
    prepare_sweep(SweepSpec.from_mapping({"base": TINY_BASE, "grid": {"seed": [0, 1]}}), ws / "sweep")
    (ws / "run").mkdir()
    (ws / "run" / "config.yaml").write_text(yaml.safe_dump(TINY_BASE))
    (ws / "notes").mkdir()
    (ws / "notes" / "a.txt").write_text("mine")
    (ws / "afile").write_text("a file")


def _other_run(ws: Path) -> None:
    """seed-1 of the sweep, trained (say) before its spec's hidden size was changed."""
    spec = SweepSpec.from_mapping({"base": TINY_BASE, "grid": {"seed": [0, 1]}, "overrides": ["model.hidden_size=24"]})
    (ws / "sweep" / "seed-1").mkdir()
    plan(spec)[1].config.save(ws / "sweep" / "seed-1" / "config.yaml")


def _results_tables(ws: Path) -> None:
    """A results directory of the reproduction (its tables, no rows)."""
    (ws / "results").mkdir()
    (ws / "results" / "runs.csv").write_text("task,curriculum\n")
    (ws / "results" / "timescales.csv").write_text("task,curriculum,n\n")


def _longer_results(ws: Path) -> None:
    """A results directory whose runs.csv holds the sweep's seed-1 (not trained here) with 5000 steps."""
    _other_run(ws)
    (ws / "results").mkdir()
    (ws / "results" / "runs.csv").write_text("task,curriculum,steps,run\nparity,multi,5000,seed-1\n")


@dataclass
class Case:
    id: str
    argv: list[str]
    expect: str
    setup: Callable[[Path], object] | None = None


S = ["sweep", "spec.yaml", "--no-progress"]
CASES = [
    Case("sweep-spec-missing", ["sweep", "missing.yaml"], "sweep spec 'missing.yaml' does not exist"),
    Case("sweep-spec-unknown-key", ["sweep", "bad.yaml"], "unknown key 'gird'",
         lambda ws: _spec(ws, "bad.yaml", {"base": {}, "gird": {"seed": [0]}})),
    Case("sweep-grid-not-list", ["sweep", "bad.yaml"], "'seed' must map to a non-empty list",
         lambda ws: _spec(ws, "bad.yaml", {"grid": {"seed": 3}})),
    Case("sweep-python-tag", ["sweep", "bad.yaml"], "uses a YAML tag that is not allowed",
         lambda ws: _spec(ws, "bad.yaml", "base: !!python/object/apply:os.system ['touch pwned']\n")),
    Case("sweep-bad-point", ["sweep", "bad.yaml"], r"sweep point \(model.hidden_size=-3\): model.hidden_size",
         lambda ws: _spec(ws, "bad.yaml", {"grid": {"model.hidden_size": [8, -3]}})),
    Case("sweep-unknown-analysis", ["sweep", "bad.yaml"], "unknown analysis 'timescale'",
         lambda ws: _spec(ws, "bad.yaml", {"analyze": {"timescale": {}}})),
    Case("sweep-analysis-wrong-task", ["sweep", "bad.yaml", "--out", "new"],
         r"analyze.recall_memory applies to runs of delayed-recall only, and run seed-0 trains parity; remove "
         r"analyze.recall_memory or those runs from the spec",
         lambda ws: _spec(ws, "bad.yaml", {"base": TINY_BASE, "grid": {"seed": [0, 1]}, "analyze": {"recall_memory": {}}})),
    Case("sweep-out-is-file", S + ["--out", "afile"], "output path 'afile' is a file"),
    Case("sweep-out-not-sweep", S + ["--out", "notes"], "holds files that are not a sweep"),
    Case("sweep-run-made-otherwise", S + ["--out", "sweep"],
         r"was made with another configuration \(model.hidden_size: 24 there, 16 in the sweep\)", _other_run),
    Case("sweep-bad-backend", S + ["--out", "new", "--backend", "slurm"], "--backend must be local or ray"),
    Case("sweep-address-local", S + ["--out", "new", "--address", "auto"], "--address is for --backend ray"),
    Case("sweep-zero-workers", S + ["--out", "new", "--workers", "0"], "expected a positive integer"),
    Case("sweep-extra-argument", ["sweep", "spec.yaml", "sweep"], "unexpected argument 'sweep'"),
    Case("sweep-bad-set", S + ["--out", "new", "--set", "training.batchsize=3"], "unknown setting 'training.batchsize'"),
    Case("sweep-only-malformed", S + ["--out", "new", "--only", "seed"], r"--only takes KEY=VALUE\[,VALUE...\]"),
    Case("sweep-only-unknown-key", S + ["--out", "new", "--only", "seeds=1"], "no setting 'seeds' in this sweep"),
    Case("sweep-only-no-such-value", S + ["--out", "new", "--only", "seed=2"],
         r"--only seed=2: no run of this sweep has it \(its values: 0, 1\)"),
    Case("sweep-spec-empty", ["sweep", "empty.yaml"], r"sweep spec 'empty.yaml': defines no run \(its base, grid and "
         r"runs are empty\); for one run give its settings as base, e.g. base: \{preset: paper\}",
         lambda ws: _spec(ws, "empty.yaml", "")),
    Case("sweep-grid-empty", ["sweep", "bad.yaml"], "defines no run",
         lambda ws: _spec(ws, "bad.yaml", {"grid": {}, "description": "a grid without values"})),
    Case("sweep-duplicate-key", ["sweep", "bad.yaml"],
         r"config file 'bad.yaml' sets 'grid' twice \(the second at line 5\); keep one",
         lambda ws: _spec(ws, "bad.yaml", "base: {preset: quick}\ngrid:\n  seed: [0, 1]\n\ngrid:\n  seed: [2]\n")),
    Case("sweep-boolean-for-number", ["sweep", "bad.yaml"],
         r"sweep point \(seed=True\): seed: true is a boolean where a number is meant; write the number you mean",
         lambda ws: _spec(ws, "bad.yaml", {"base": TINY_BASE, "grid": {"seed": [True, False]}})),
    Case("sweep-string-for-number", ["sweep", "bad.yaml"],
         r"sweep point \(model.hidden_size=16\): model.hidden_size: \"16\" is a string where a number is meant; "
         r"write it without quotes \(model.hidden_size: 16\)",
         lambda ws: _spec(ws, "bad.yaml", {"base": TINY_BASE, "grid": {"model.hidden_size": ["16", "8"]}})),
    Case("sweep-too-many-points", ["sweep", "bad.yaml"],
         r"the sweep has 1,000,000 points, more than the limit of 10,000; check its grid and runs, or raise the limit "
         r"with --max-points 1000000 \(or resources.max_points\)",
         lambda ws: _spec(ws, "bad.yaml", {"base": TINY_BASE, "grid": {"seed": list(range(1000)),
                                                                        "training.max_epochs": list(range(1, 1001))}})),
    Case("sweep-zero-max-points", S + ["--out", "new", "--max-points", "0"], "--max-points: expected a positive integer"),
    Case("sweep-only-no-such-run", ["sweep", "two.yaml", "--out", "new", "--only", "seed=0", "--only",
                                    "model.hidden_size=24"],
         r"--only seed=0 --only model.hidden_size=24: no run of this sweep has all of these values",
         lambda ws: _spec(ws, "two.yaml", {"base": TINY_BASE, "runs": [{"seed": 0}, {"seed": 1, "model.hidden_size": 24}]})),
    Case("sweep-only-list", S + ["--out", "new", "--only", "seed=[0,1]"],
         r"--only takes values separated by commas, without brackets \(e.g. seed=0,1\), got 'seed=\[0,1\]'"),
    Case("status-missing", ["sweep", "status", "nowhere"],
         r"sweep directory 'nowhere' does not exist; give the directory a sweep wrote \(its --out\)"),
    Case("status-file", ["sweep", "status", "spec.yaml"], "sweep directory 'spec.yaml' is a file"),
    Case("sweep-analyze-missing", ["sweep", "analyze", "nowhere"], "sweep directory 'nowhere' does not exist"),
    Case("verify-missing", ["sweep", "verify", "nowhere"], "sweep directory 'nowhere' does not exist"),
    Case("verify-not-sweep", ["sweep", "verify", "notes"], "'notes' is a directory but not a sweep"),
    Case("verify-with-set", ["sweep", "verify", "sweep", "--set", "seed=1"], "--set cannot be given with sweep verify"),
    Case("status-with-only", ["sweep", "status", "sweep", "--only", "seed=1"], "--only cannot be given with sweep status"),
    Case("status-no-dir", ["sweep", "status"], "needs the sweep directory"),
    Case("status-not-sweep", ["sweep", "status", "notes"], "'notes' is a directory but not a sweep"),
    Case("status-with-out", ["sweep", "status", "sweep", "--out", "x"], "--out cannot be given with sweep status"),
    Case("status-two-dirs", ["sweep", "status", "sweep", "notes"], "sweep status takes one sweep directory"),
    Case("collect-no-out", ["sweep", "collect", "sweep"], "sweep collect needs --out RESULTS"),
    Case("collect-missing", ["sweep", "collect", "nowhere", "--out", "results"], "'nowhere' is not a directory"),
    Case("collect-no-runs", ["sweep", "collect", "notes", "--out", "results"], "'notes' holds no run directories"),
    Case("collect-out-is-file", ["sweep", "collect", "sweep", "--out", "afile"], "output path 'afile' is a file",
         _other_run),
    Case("collect-update-shorter", ["sweep", "collect", "sweep", "--out", "results", "--update"],
         r"run 'seed-1' has 0 steps in the sweep collected but 5000 in .*train it to its end first", _longer_results),
    Case("collect-with-set", ["sweep", "collect", "sweep", "--out", "r", "--set", "seed=1"],
         "--set cannot be given with sweep collect"),
    Case("analyze-run-setting", ["sweep", "analyze", "sweep", "--set", "training.max_epochs=3"],
         "only takes analysis settings"),
    Case("analyze-bad-setting", ["sweep", "analyze", "sweep", "--set", "analyze.timescales.n_step=3"],
         "unknown setting 'n_step'"),
    Case("analyze-reproduction-setting", ["sweep", "analyze", "sweep", "--set", "analyze.reproduction.ns=[1, 5]"],
         r"analyze.reproduction.*ns must be a list of integers N >= 2"),
    Case("report-missing", ["report", "nowhere"], "'nowhere' is not a directory"),
    Case("report-no-runs", ["report", "notes"], "holds no run directories"),
    Case("report-bad-ci", ["report", "run", "--ci", "sd"], "--ci must be one of sem, bootstrap"),
    Case("report-out-not-report", ["report", "run", "--out", "notes"], "holds files that are not a report"),
    Case("report-results-out-not-figures", ["report", "results", "--out", "notes"],
         "holds files that are not a report or the figures of a results directory", _results_tables),
    Case("figures-not-results", ["figures", "notes"], "holds no result tables .* give a results directory"),
    Case("figures-out-not-figures", ["figures", "results", "--out", "notes"], "holds files that are not an output of report",
         _results_tables),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, tmp_path, monkeypatch, capsys):
    ws = tmp_path / "ws"
    ws.mkdir()
    _workspace(ws)
    assert_case_refused(case, ws, monkeypatch, capsys)


def test_every_case_is_in_the_docs_table():
    missing = missing_from_docs(CASES, DOCS)
    assert not missing, f"add these cases to {DOCS}: {missing}"
