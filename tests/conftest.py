"""Shared fixtures: where the reference checkpoints live, and tiny configurations."""

from __future__ import annotations

from pathlib import Path

import pytest

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference_checkpoints"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not REFERENCE_DIR.is_dir():
        pytest.skip(f"reference checkpoints not found at {REFERENCE_DIR}")
    return REFERENCE_DIR


def tiny_overrides(hidden: int = 32, batch: int = 32, steps: int = 20, eval_batches: int = 2) -> list[str]:
    """--set overrides for a network small enough to train in seconds."""
    return [
        f"model.hidden_size={hidden}",
        f"training.batch_size={batch}",
        f"training.steps_per_epoch={steps}",
        f"training.eval_batches={eval_batches}",
        "device=cpu",
    ]
