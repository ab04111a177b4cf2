"""Shared fixtures: where the reference checkpoints live, and tiny configurations."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
