"""Which network a path names: a run directory (its latest checkpoint), one of our checkpoint
files, or a checkpoint of the paper's code (recognised by content, never unpickled)."""

from __future__ import annotations

from pathlib import Path

from rnn_timescales.errors import CheckpointError
from rnn_timescales.io import is_safetensors
from rnn_timescales.runs.checkpoints import (
    SUFFIX,
    LoadedCheckpoint,
    is_run_dir,
    latest_checkpoint,
    load_checkpoint,
    read_bytes,
)
from rnn_timescales.runs.paper import load_reference_checkpoint


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file from a checkpoint path or a run directory: the run's latest network
    (:func:`~rnn_timescales.runs.checkpoints.latest_checkpoint`: its last solved level, else its
    final weights, else the untrained network; the final weights of a curriculum that advances at
    fixed steps)."""
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"{str(p)!r} does not exist; give a run directory or a checkpoint file")
    if p.is_dir():
        if not is_run_dir(p):
            raise CheckpointError(f"{str(p)!r} is a directory but not a run directory (it has no config.yaml)")
        latest = latest_checkpoint(p)
        if latest is None:
            raise CheckpointError(f"run directory {str(p)!r} has no checkpoints yet")
        return latest
    return p


def load_any(path: str | Path) -> LoadedCheckpoint:
    """Load a run directory's latest checkpoint (see :func:`resolve_checkpoint`), one of our
    checkpoint files, or a checkpoint of the paper's code (recognised by content)."""
    p = resolve_checkpoint(path)
    data = read_bytes(p)
    if is_safetensors(data):
        return load_checkpoint(p)
    if p.suffix == SUFFIX:
        # Named like one of ours but not safetensors: never handed to an unpickler.
        raise CheckpointError(f"{str(p)!r} is named like an rnn-timescales checkpoint but is not a safetensors file "
                              "(corrupt, or replaced by something else)")
    if data[:2] == b"PK" or data[:1] == b"\x80":
        return load_reference_checkpoint(p, data)
    raise CheckpointError(f"{str(p)!r} is neither an rnn-timescales checkpoint nor a checkpoint of the paper's code")
