"""The full training state of a run, saved so that a resumed run is the uninterrupted run.

A state holds everything the next training step depends on: the model, the optimiser (momentum
buffers, learning rate), the curriculum, the epoch and the step inside it, the loss summed so far
in that epoch, the run's random-number generator (every random draw of a run comes from it; the
global generators of torch, numpy and Python are neither used nor touched, so resuming a run from
Python leaves the caller's random state alone), the metrics rows written so far and the wall time
used (for the time budget).

It is one safetensors file (no pickle; :func:`rnn_timescales.io.write_safetensors`): every tensor
and array is a safetensors tensor; the rest (nested dicts, lists, numbers) is a JSON *payload* in
the file's metadata, in which a tensor is replaced by ``{"__tensor__": key}``. The SHA-256 over the
tensors and the metadata is checked on reading, so a truncated or corrupt file is refused with its
name.

Two files live in ``RUN_DIR/state/``:

- ``epoch.safetensors``: the state at the end of the last completed epoch (``step == 0``). It is the
  resume point and the roll-back target after a divergence, so both are deterministic.
- ``step.safetensors``: a newer state inside an epoch, written on SIGINT/SIGTERM, when the time
  budget runs out, and every ``training.state_every_s`` seconds. It is used only when it is newer
  than ``epoch.safetensors``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnn_timescales.io import read_safetensors, write_safetensors
from rnn_timescales.errors import StateError

STATE_DIR = "state"
EPOCH_STATE = "epoch.safetensors"
STEP_STATE = "step.safetensors"
FORMAT = "rnn-timescales-training-state"
VERSION = "2"  # 2: digest of rnn_timescales.io; only the run's own generator


@dataclass
class TrainingState:
    """Everything needed to continue a run exactly where it stopped.

    epoch: epochs completed. step: training steps already done in epoch ``epoch + 1`` (0 at an
    epoch boundary). global_step: training steps done in the whole run. loss_sum: () float
    tensor, the sum of the losses of the ``step`` steps of the current epoch.
    rows, head_rows: the metrics rows of the completed epochs.
    checkpoints: file names of the checkpoints written so far. events: roll-backs and the like.
    elapsed_s: wall time used by the run so far; epoch_elapsed_s: of it, inside the current epoch;
    last_epoch_s: duration of the last completed epoch (used by the time-budget rule).
    phase_times: seconds spent so far in each phase of the loop (see ``guards.PhaseTimes``).
    rng: ``{"generator": state}``, the run's random-number generator.
    regularizer: the speed regulariser's state (its points and generator), empty without one.
    """

    config: dict[str, Any]
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    curriculum: dict[str, Any]
    epoch: int
    step: int
    global_step: int
    loss_sum: torch.Tensor
    rng: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    head_rows: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    elapsed_s: float = 0.0
    epoch_elapsed_s: float = 0.0
    last_epoch_s: float = 0.0
    phase_times: dict[str, float] = field(default_factory=dict)
    regularizer: dict[str, Any] = field(default_factory=dict)

    @property
    def position(self) -> tuple[int, int]:
        """(epoch, step): a later position means a newer state."""
        return self.epoch, self.step


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


# --- saving and loading ----------------------------------------------------------------------
def state_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / STATE_DIR


def save_state(path: str | Path, state: TrainingState) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file, fsync, rename)."""
    tensors: dict[str, torch.Tensor] = {}
    body = {name: getattr(state, name) for name in state.__dataclass_fields__}
    encoded = _encode(body, "s", tensors)
    payload = json.dumps(encoded, allow_nan=True, separators=(",", ":"))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_safetensors(path, tensors, {"format": FORMAT, "version": VERSION, "payload": payload})


def load_state(path: str | Path) -> TrainingState:
    """Read a state written by :func:`save_state`, verifying its SHA-256; StateError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise StateError(f"training state {str(path)!r} does not exist")
    tensors, metadata = read_safetensors(path, path.read_bytes(), StateError, "training state", FORMAT)
    if metadata.get("version") != VERSION:
        raise StateError(f"training state {str(path)!r} was written by another version of rnn-timescales "
                         f"(format {metadata.get('version')!r}, this one reads {VERSION!r}); it cannot be resumed")
    body = _decode(json.loads(metadata.get("payload", "{}")), tensors)
    try:
        return TrainingState(**body)
    except TypeError as e:
        raise StateError(f"training state {str(path)!r} is incomplete ({e})") from None


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
