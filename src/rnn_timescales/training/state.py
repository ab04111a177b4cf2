"""The full training state of a run, saved so that a resumed run is the uninterrupted run.

A state holds everything the next training step depends on: the model, the optimiser (momentum
buffers, learning rate), the curriculum, the epoch and the step inside it, the loss summed so far
in that epoch, every random-number generator (the task generator, torch, numpy, Python), the
metrics rows written so far and the wall time used (for the time budget).

It is one safetensors file (no pickle): every tensor and array is a safetensors tensor; the rest
(nested dicts, lists, numbers) is a JSON *payload* in the file's metadata, in which a tensor is
replaced by ``{"__tensor__": key}``. A SHA-256 over the tensors and the payload is recorded at
write time, so a truncated or corrupt file is refused with its name.

Two files live in ``RUN_DIR/state/``:

- ``epoch.safetensors``: the state at the end of the last completed epoch (``step == 0``). It is the
  resume point and the roll-back target after a divergence, so both are deterministic.
- ``step.safetensors``: a newer state inside an epoch, written on SIGINT/SIGTERM, when the time
  budget runs out, and every ``training.state_every_s`` seconds. It is used only when it is newer
  than ``epoch.safetensors``.
"""

from __future__ import annotations

import hashlib
import json
import random
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from rnn_timescales.io import atomic_write_bytes
from rnn_timescales.training.checkpoints import CheckpointError

STATE_DIR = "state"
EPOCH_STATE = "epoch.safetensors"
STEP_STATE = "step.safetensors"
FORMAT = "rnn-timescales-training-state"
VERSION = "1"


class StateError(CheckpointError):
    """A training state that is missing, corrupt or does not fit its run (one-line message)."""


@dataclass
class TrainingState:
    """Everything needed to continue a run exactly where it stopped.

    epoch: epochs completed. step: training steps already done in epoch ``epoch + 1`` (0 at an
    epoch boundary). loss_sum: () float tensor, the sum of those steps' losses.
    rows, head_rows: the metrics rows of the completed epochs.
    checkpoints: file names of the checkpoints written so far. events: roll-backs and the like.
    elapsed_s: wall time used by the run so far; epoch_elapsed_s: of it, inside the current epoch;
    last_epoch_s: duration of the last completed epoch (used by the time-budget rule).
    rng: the random-number generators' states (see :func:`capture_rng`).
    """

    config: dict[str, Any]
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    curriculum: dict[str, Any]
    epoch: int
    step: int
    loss_sum: torch.Tensor
    rng: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    head_rows: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    elapsed_s: float = 0.0
    epoch_elapsed_s: float = 0.0
    last_epoch_s: float = 0.0

    @property
    def position(self) -> tuple[int, int]:
        """(epoch, step): a later position means a newer state."""
        return self.epoch, self.step


# --- random-number generators ----------------------------------------------------------------
def capture_rng(generator: torch.Generator) -> dict[str, Any]:
    """The state of the task generator and of torch's, numpy's and Python's global generators."""
    rng: dict[str, Any] = {
        "generator": generator.get_state(),
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return rng


def restore_rng(rng: dict[str, Any], generator: torch.Generator) -> None:
    """Put every generator back into the state :func:`capture_rng` recorded."""
    generator.set_state(rng["generator"])
    torch.set_rng_state(rng["torch"])
    np.random.set_state(rng["numpy"])
    random.setstate(rng["python"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


# --- encoding nested objects as tensors + JSON -----------------------------------------------
def _encode(obj: Any, key: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        tensors[key] = obj.detach().to("cpu").contiguous().clone()
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        # safetensors has no uint32; numpy's Mersenne-Twister key fits exactly in int64.
        tensors[key] = torch.from_numpy(obj.astype(np.int64, copy=True))
        return {"__ndarray__": key, "dtype": str(obj.dtype)}
    if isinstance(obj, dict):
        return {"__dict__": [[k, _encode(v, f"{key}.{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, f"{key}.{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, f"{key}.{i}", tensors) for i, v in enumerate(obj)]
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} in a training state ({key})")


def _decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__ndarray__" in obj:
            return tensors[obj["__ndarray__"]].numpy().astype(obj["dtype"])
        if "__tuple__" in obj:
            return tuple(_decode(v, tensors) for v in obj["__tuple__"])
        if "__dict__" in obj:
            return {k: _decode(v, tensors) for k, v in obj["__dict__"]}
        raise ValueError(f"unknown entry {sorted(obj)} in a training state")
    return obj


def _digest(tensors: dict[str, torch.Tensor], payload: str) -> str:
    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key].contiguous()
        h.update(key.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    h.update(payload.encode())
    return h.hexdigest()


# --- saving and loading ----------------------------------------------------------------------
def state_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / STATE_DIR


def save_state(path: str | Path, state: TrainingState) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file, fsync, rename)."""
    tensors: dict[str, torch.Tensor] = {}
    body = {name: getattr(state, name) for name in state.__dataclass_fields__}
    encoded = _encode(body, "s", tensors)
    payload = json.dumps(encoded, allow_nan=True, separators=(",", ":"))
    metadata = {"format": FORMAT, "version": VERSION, "payload": payload, "sha256": _digest(tensors, payload)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, st_save(tensors, metadata=metadata))
    return path


def load_state(path: str | Path) -> TrainingState:
    """Read a state written by :func:`save_state`, verifying its SHA-256; StateError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise StateError(f"training state {str(path)!r} does not exist")
    data = path.read_bytes()
    try:
        (header_len,) = struct.unpack("<Q", data[:8])
        if not 0 < header_len <= len(data) - 8:
            raise ValueError("header length out of range")
        header = json.loads(data[8 : 8 + header_len])
        metadata = header.get("__metadata__") or {}
        tensors = st_load(data)
    except (SafetensorError, ValueError, struct.error, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise StateError(f"training state {str(path)!r} is corrupt or truncated ({str(e).splitlines()[0]})") from None
    if metadata.get("format") != FORMAT:
        raise StateError(f"{str(path)!r} is not an rnn-timescales training state")
    payload = metadata.get("payload", "")
    if _digest(tensors, payload) != metadata.get("sha256"):
        raise StateError(f"training state {str(path)!r} is corrupt: it does not match the SHA-256 recorded when it was written")
    body = _decode(json.loads(payload), tensors)
    return TrainingState(**body)


def load_latest_state(run_dir: str | Path) -> tuple[TrainingState | None, Path | None, list[str]]:
    """The newest valid state of a run: (state, its path, warnings), or (None, None, []) if the run
    has none. ``step.safetensors`` wins when it is newer than ``epoch.safetensors``. A corrupt file
    is skipped with a warning when the other one is valid, and raises StateError when it is not."""
    d = state_dir(run_dir)
    found: list[tuple[TrainingState, Path]] = []
    errors: list[StateError] = []
    for name in (EPOCH_STATE, STEP_STATE):
        path = d / name
        if path.is_file():
            try:
                found.append((load_state(path), path))
            except StateError as e:
                errors.append(e)
    if not found:
        if errors:
            raise errors[0]
        return None, None, []
    state, path = max(found, key=lambda sp: sp[0].position)
    warnings = [f"{e}; resuming from {str(path)!r} instead" for e in errors]
    return state, path, warnings
