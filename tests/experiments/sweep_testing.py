"""Tiny sweeps for the tests: specs whose runs train in a fraction of a second."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import yaml

from rnn_timescales.config import RunConfig
from rnn_timescales.training.trainer import train

TINY_BASE: dict[str, Any] = {
    "preset": "paper",
    "device": "cpu",
    "model": {"hidden_size": 16, "n_heads": 8},
    "training": {"batch_size": 16, "steps_per_epoch": 5, "eval_batches": 1, "max_epochs": 3},
    "curriculum": {"threshold": 0.6},  # low, so the curriculum advances and writes checkpoints
}
TINY_ANALYSIS = {"timescales": {"n_trials": 1, "n_steps": 300, "max_lag": 40, "fit_lag": 20, "n_points": 2}}


def write_spec(path: Path, base: dict[str, Any] | None = None, **sections: Any) -> Path:
    """A sweep spec file over :data:`TINY_BASE` (updated section by section with ``base``)."""
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in TINY_BASE.items()}
    for key, value in (base or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key].update(value)
        else:
            merged[key] = value
    path.write_text(yaml.safe_dump({"base": merged, **sections}, sort_keys=False))
    return path


def train_directly(config: RunConfig, run_dir: Path) -> Path:
    """Train ``config`` in this process with one torch thread, as a sweep worker does."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(config, run_dir, progress=False)
    finally:
        torch.set_num_threads(threads)
    return run_dir
