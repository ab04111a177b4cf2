"""Shared helpers: where the reference checkpoints live, tiny configurations, the comparison of
two run directories, and the check that a command refused bad input (:func:`assert_refused`)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
from safetensors import safe_open

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference_checkpoints"


def require_reference_checkpoints() -> Path:
    """The paper's reference checkpoints (``../shared/reference_checkpoints``). Missing, the calling
    test fails in CI (``CI=true``: CI must provide them, and a skip would hide that nothing was
    checked) and is skipped elsewhere."""
    if not REFERENCE_DIR.is_dir():
        message = f"reference checkpoints not found at {REFERENCE_DIR}"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(message + " (CI=true: CI must provide them)")
        pytest.skip(message)
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return require_reference_checkpoints()


def tiny_overrides(hidden: int = 32, batch: int = 32, steps: int = 20, eval_batches: int = 2) -> list[str]:
    """--set overrides for a network small enough to train in seconds."""
    return [
        f"model.hidden_size={hidden}",
        f"training.batch_size={batch}",
        f"training.steps_per_epoch={steps}",
        f"training.eval_batches={eval_batches}",
        "device=cpu",
    ]


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    # Not the raw bytes: safetensors writes its metadata map in no fixed order.
    with safe_open(path, "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()


def assert_same_run(a: Path, b: Path, same_config: bool = True) -> None:
    """Same metrics (timing columns aside), same checkpoints, same final state. ``same_config``:
    the runs had the same config.yaml (not so when one was extended with --max-epochs)."""
    from rnn_timescales.runs.state import load_state
    from rnn_timescales.training.trainer import TIMING_COLUMNS

    for name in ("metrics.csv", "head_metrics.csv"):
        ma, mb = pd.read_csv(a / name), pd.read_csv(b / name)
        drop = [c for c in TIMING_COLUMNS if c in ma]
        pd.testing.assert_frame_equal(ma.drop(columns=drop), mb.drop(columns=drop))
    ca, cb = sorted((a / "checkpoints").iterdir()), sorted((b / "checkpoints").iterdir())
    assert [p.name for p in ca] == [p.name for p in cb]
    for pa, pb in zip(ca, cb):
        (ta, meta_a), (tb, meta_b) = _read(pa), _read(pb)
        if not same_config:
            for meta in (meta_a, meta_b):
                del meta["config"], meta["sha256"]
        assert meta_a == meta_b, pa.name  # config, ns, epoch, accuracies, SHA-256
        assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta), pa.name
    sa, sb = load_state(a / "state" / "epoch.safetensors"), load_state(b / "state" / "epoch.safetensors")
    assert sa.model.keys() == sb.model.keys() and all(torch.equal(sa.model[k], sb.model[k]) for k in sa.model)
    assert torch.equal(sa.rng["generator"], sb.rng["generator"]) and sa.curriculum == sb.curriculum
    ja, jb = json.loads((a / "summary.json").read_text()), json.loads((b / "summary.json").read_text())
    for j in (ja, jb):
        j.pop("wall_time_s"), j.pop("phase_times_s"), j.pop("sha256", None)  # the files' bytes: timings in the state
        if not same_config:  # 'auto' resolved in one run, set in the other: the same precision, other reasons
            j.pop("precision_reason", None)
            j["events"] = [e for e in j.get("events", []) if e.get("kind") != "precision"]
    assert ja == jb


def agrees(text: str, value: float) -> bool:
    """``text`` (a number as a docs page prints it: ``0.32``, ``+0.000``, ``4.7e-06``) is ``value``
    rounded to text's last printed digit."""
    last = Decimal(text).as_tuple().exponent  # 0.32 -> -2, 4.7e-06 -> -7
    return abs(float(text) - value) <= 0.5 * 10.0 ** last * (1 + 1e-9) + 1e-12


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every path under ``root`` with its size, modification time and SHA-256: equal before and
    after a command that must write nothing."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        if p.is_file() else (0, 0, "dir")
        for p in sorted(root.rglob("*"))
    }


def assert_refused(argv: list[Any], capsys: pytest.CaptureFixture, unchanged: Path | None = None) -> str:
    """Run the command line ``argv`` and check that it refused its input as docs/errors.md promises:
    exit code 2, one line on stderr (``rnn-timescales: error: ...``), and nothing under
    ``unchanged`` written, changed or removed. Returns that line."""
    from rnn_timescales.cli import main

    before = snapshot(unchanged) if unchanged is not None else None
    capsys.readouterr()
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("rnn-timescales: error: "), err
    if unchanged is not None:
        assert snapshot(unchanged) == before
    return lines[0]


def assert_case_refused(case: Any, ws: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """One row of a bad-input table (``argv``, ``expect``: a regex of its error line, ``setup(ws)``
    or None), run in the workspace ``ws``: refused as :func:`assert_refused` checks, with the
    expected line, and no file ``pwned`` made (an injected command that ran)."""
    if case.setup is not None:
        case.setup(ws)
    monkeypatch.chdir(ws)
    line = assert_refused(case.argv, capsys, ws)
    assert re.search(case.expect, line), line
    assert not (ws / "pwned").exists()


def missing_from_docs(cases: list[Any], docs: Path) -> list[str]:
    """The ids of the bad-input cases that the table of ``docs`` (docs/errors.md) does not list."""
    text = docs.read_text()
    return [c.id for c in cases if f"`{c.id}`" not in text]
