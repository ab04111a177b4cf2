"""Checkpoints: atomic, self-describing, and loaded without executing code.

Our format is a safetensors file: the model's tensors plus string metadata holding the run
configuration, the N answered by each head (``ns``), the task, the curriculum, the epoch, the
accuracies at saving time and a SHA-256 of the tensor bytes (to detect corruption).

The paper code's checkpoints (SPEC section 9: ``torch.save({'state_dict': ...})``) are read with
``torch.load(weights_only=True)``; task, curriculum and the N of each head come from the folder
and file names ``{curriculum}_{task}_network_{k}/rnn_N{min}_N{max}``.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import re
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from rnn_timescales.config import ConfigError, RunConfig, validate
from rnn_timescales.io import atomic_write_bytes
from rnn_timescales.models import LeakyRNN, RecurrentModel, build_model

FORMAT = "rnn-timescales-checkpoint"
VERSION = "2"  # 2: the SHA-256 covers the metadata too (1: tensors only)
SUFFIX = ".safetensors"
INIT_NAME = "init"


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, unsafe or of an unknown format (one-line message)."""


@dataclass
class LoadedCheckpoint:
    """A network and everything needed to evaluate or analyse it.

    model: the network, in eval mode, on CPU.
    ns: the N answered by heads 0, 1, ... (head k answers ns[k]).
    task: task name (``parity`` or ``dms``).
    curriculum: curriculum kind (``single``, ``multi``, ``sliding``, ``fixed``).
    config: the run configuration (None for the paper code's checkpoints).
    source: ``ours`` or ``reference``.
    """

    model: RecurrentModel
    ns: list[int]
    task: str
    curriculum: str
    path: Path
    source: str
    config: RunConfig | None = None
    epoch: int | None = None
    accuracy: list[float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_min(self) -> int:
        return self.ns[0]

    @property
    def n_max(self) -> int:
        return self.ns[-1]


def checkpoint_name(ns: list[int] | None) -> str:
    """File name for a checkpoint of heads ``ns`` (``None``: the untrained network)."""
    return INIT_NAME + SUFFIX if ns is None else f"rnn_N{ns[0]}_N{ns[-1]}{SUFFIX}"


def _tensor_digest(tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> str:
    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key].detach().contiguous().cpu()
        h.update(key.encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    for key in sorted(metadata or {}):
        if key != "sha256":
            h.update(f"\0{key}\0{metadata[key]}".encode())
    return h.hexdigest()


def non_finite_tensors(tensors: dict[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors holding a NaN or an infinity."""
    return [k for k, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]


def save_checkpoint(
    path: str | Path,
    model: RecurrentModel,
    *,
    config: RunConfig,
    ns: list[int],
    epoch: int | None,
    accuracy: list[float] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` and its description to ``path`` atomically; returns the path.

    A network holding a NaN or an infinity is never written (CheckpointError): a checkpoint is
    always a network that can be evaluated. ``epoch`` is None when it is unknown (imported networks).
    """
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    bad = non_finite_tensors(tensors)
    if bad:
        raise CheckpointError(f"refusing to write checkpoint {str(path)!r}: {', '.join(bad)} not finite")
    if len(ns) > model.readout.n_heads:
        raise CheckpointError(f"checkpoint {str(path)!r}: {len(ns)} N values for a model with {model.readout.n_heads} heads")
    metadata = {
        "format": FORMAT,
        "version": VERSION,
        "config": json.dumps(config.to_dict()),
        "ns": json.dumps(list(ns)),
        "task": config.task.name,
        "curriculum": config.curriculum.kind,
        "epoch": json.dumps(epoch),
        "accuracy": json.dumps(accuracy),
        "extra": json.dumps(extra or {}),
    }
    metadata["sha256"] = _tensor_digest(tensors, metadata)
    path = Path(path)
    atomic_write_bytes(path, st_save(tensors, metadata=metadata))
    return path


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} is not a file")
    return path.read_bytes()


def _is_safetensors(data: bytes) -> bool:
    if len(data) < 9:
        return False
    (header_len,) = struct.unpack("<Q", data[:8])
    return 0 < header_len <= len(data) - 8 and data[8:9] == b"{"


def load_checkpoint(path: str | Path) -> LoadedCheckpoint:
    """Load one of our checkpoints (safetensors), verifying its digest."""
    path = Path(path)
    data = _read_bytes(path)
    if not _is_safetensors(data):
        raise CheckpointError(f"{str(path)!r} is not an rnn-timescales checkpoint (not a safetensors file)")
    try:
        (header_len,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + header_len])
        metadata = header.get("__metadata__", {})
        tensors = st_load(data)
    except (SafetensorError, ValueError, json.JSONDecodeError) as e:
        raise CheckpointError(f"checkpoint {str(path)!r} is corrupt or truncated ({e})") from None
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r} is a safetensors file but not an rnn-timescales checkpoint")
    covered = metadata if metadata.get("version", "1") != "1" else None
    if _tensor_digest(tensors, covered) != metadata.get("sha256"):
        raise CheckpointError(f"checkpoint {str(path)!r} is corrupt: it does not match the SHA-256 recorded when it was written")
    try:
        config = validate(json.loads(metadata["config"]))
        ns = [int(n) for n in json.loads(metadata["ns"])]
        epoch = json.loads(metadata["epoch"])
        accuracy = json.loads(metadata.get("accuracy", "null"))
        extra = json.loads(metadata.get("extra", "{}"))
        task, curriculum = metadata["task"], metadata["curriculum"]
    except ConfigError as e:
        raise CheckpointError(f"checkpoint {str(path)!r} holds an invalid configuration: {e}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {str(path)!r} has incomplete metadata ({e!r})") from None
    model = build_model(config.model)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    for key in sorted(set(expected) | set(tensors)):
        got = tuple(tensors[key].shape) if key in tensors else None
        if got != expected.get(key):
            m = config.model
            raise CheckpointError(
                f"checkpoint {str(path)!r} does not fit its configured model ({m.type}, hidden_size {m.hidden_size}, "
                f"{m.n_heads} heads): tensor {key!r} is {got if got is not None else 'missing'}, "
                f"the model needs {expected.get(key, 'no such tensor')}"
            )
    try:
        model.load_state_dict(tensors)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(f"checkpoint {str(path)!r} does not fit its configured model: {first}") from None
    if not ns or len(ns) > model.readout.n_heads:
        raise CheckpointError(f"checkpoint {str(path)!r} names {len(ns)} heads but its model has {model.readout.n_heads}")
    model.eval()
    return LoadedCheckpoint(
        model=model,
        ns=ns,
        task=task,
        curriculum=curriculum,
        path=path,
        source="ours",
        config=config,
        epoch=epoch,
        accuracy=accuracy,
        extra=extra,
    )


_REF_FILE = re.compile(r"^rnn_N(\d+)_N(\d+)$")
_REF_DIR = re.compile(r"^(cumulative|single|sliding_(\d+)_(\d+)|fixed)_(parity|dms)_network_\w+$")
_REF_CURRICULUM = {"cumulative": "multi", "single": "single", "fixed": "fixed"}


def parse_reference_name(path: str | Path) -> tuple[str, str, list[int] | None]:
    """(curriculum, task, ns) from a paper-code checkpoint path ``{curriculum}_{task}_network_{k}/
    rnn_N{min}_N{max}`` (ns is None for ``rnn_init``); CheckpointError if the names don't parse."""
    path = Path(path)
    d = _REF_DIR.match(path.parent.name)
    if d is None:
        raise CheckpointError(
            f"cannot tell task and curriculum of {str(path)!r}: its folder should be named "
            "{cumulative|single|sliding_W_F}_{parity|dms}_network_K"
        )
    curriculum = "sliding" if d.group(1).startswith("sliding") else _REF_CURRICULUM[d.group(1)]
    task = d.group(4)
    if path.name == "rnn_init":
        return curriculum, task, None
    f = _REF_FILE.match(path.name)
    if f is None:
        raise CheckpointError(f"cannot tell the N range of {str(path)!r}: expected a file named rnn_N<min>_N<max>")
    n_min, n_max = int(f.group(1)), int(f.group(2))
    if n_max < n_min:
        raise CheckpointError(f"{str(path)!r}: N range {n_min}..{n_max} is empty")
    if curriculum == "single" and n_min != n_max:
        raise CheckpointError(f"{str(path)!r}: a single-head checkpoint must have N_min == N_max")
    return curriculum, task, list(range(n_min, n_max + 1))


def reference_state_dict_to_model(state: dict[str, torch.Tensor]) -> LeakyRNN:
    """Our LeakyRNN holding the weights of the paper code's ``RNN_Stack`` state dict."""
    try:
        tau = state["parameterlist.0"]
        u_w, u_b = state["modulelist.0.weight"], state["modulelist.0.bias"]
        w_w, w_b = state["modulelist.1.weight"], state["modulelist.1.bias"]
    except KeyError as e:
        raise CheckpointError(f"not a checkpoint of the paper's RNN: key {e.args[0]!r} is missing") from None
    hidden, inputs = u_w.shape
    heads = sorted(int(m.group(1)) for k in state if (m := re.fullmatch(r"modulelist\.(\d+)\.weight", k)))
    heads = [k for k in heads if k >= 2]
    if not heads or heads != list(range(2, 2 + len(heads))):
        raise CheckpointError("not a checkpoint of the paper's RNN: readout heads modulelist.2... are missing")
    n_classes = state["modulelist.2.weight"].shape[0]
    train_tau = tau.numel() == hidden
    model = LeakyRNN(
        hidden_size=hidden,
        input_size=inputs,
        n_heads=len(heads),
        n_classes=n_classes,
        train_tau=train_tau,
        tau_init=None if train_tau else float(tau.reshape(-1)[0]),
    )
    with torch.no_grad():
        if train_tau:
            model.tau.copy_(tau)
        model.input.weight.copy_(u_w)
        model.input.bias.copy_(u_b)
        model.recurrent.weight.copy_(w_w * model.offdiag)
        model.recurrent.bias.copy_(w_b)
        model.readout.weight.copy_(torch.stack([state[f"modulelist.{k}.weight"] for k in heads]))
        model.readout.bias.copy_(torch.stack([state[f"modulelist.{k}.bias"] for k in heads]))
    return model.eval()


def _refusal_reason(error: Exception) -> str:
    text = " ".join(str(error).split())
    m = re.search(r"unsupported (GLOBAL \S+)", text) or re.search(r"(Unsupported operand \S+)", text)
    return m.group(1) if m else text[:120]


def read_reference_state_dict(path: str | Path, data: bytes | None = None) -> dict[str, torch.Tensor]:
    """The tensors of a ``torch.save`` file, read with ``weights_only=True`` (plain tensors and
    containers only: a pickle that would import or call anything is refused). The CRC-32 of every
    member of the zip archive is checked first, so a flipped byte is reported, not loaded."""
    path = Path(path)
    data = _read_bytes(path) if data is None else data
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                bad = archive.testzip()
        except (zipfile.BadZipFile, EOFError, OSError) as e:
            raise CheckpointError(f"checkpoint {str(path)!r} is corrupt or truncated ({e})") from None
        if bad is not None:
            raise CheckpointError(f"checkpoint {str(path)!r} is corrupt: member {bad!r} fails its CRC-32 check")
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"refusing to load {str(path)!r}: its pickle would build objects other than tensors "
            f"({_refusal_reason(e)}); only weights are ever loaded"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise CheckpointError(f"checkpoint {str(path)!r} is corrupt or truncated ({first})") from None
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{str(path)!r} does not hold a state_dict of tensors")
    return state


def load_reference_checkpoint(path: str | Path) -> LoadedCheckpoint:
    """Load a checkpoint written by the paper's public code (SPEC section 9), safely."""
    path = Path(path)
    data = _read_bytes(path)
    curriculum, task, ns = parse_reference_name(path)
    state = read_reference_state_dict(path, data)
    model = reference_state_dict_to_model(state)
    if ns is None:
        ns = [2]
    return LoadedCheckpoint(model=model, ns=ns, task=task, curriculum=curriculum, path=path, source="reference")


def list_run_checkpoints(run_dir: str | Path, include_init: bool = True) -> list[Path]:
    """The checkpoints of a run directory, the untrained network first, then by solved N."""
    ckpt_dir = Path(run_dir) / "checkpoints"
    found = []
    for p in ckpt_dir.glob(f"rnn_N*_N*{SUFFIX}"):
        m = re.fullmatch(r"rnn_N(\d+)_N(\d+)", p.name[: -len(SUFFIX)])
        if m:
            found.append(((int(m.group(2)), int(m.group(1))), p))
    ordered = [p for _, p in sorted(found)]
    init = ckpt_dir / checkpoint_name(None)
    return ([init] if include_init and init.exists() else []) + ordered


def is_run_dir(path: str | Path) -> bool:
    p = Path(path)
    return p.is_dir() and (p / "config.yaml").is_file()


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file from a checkpoint path or a run directory (its latest solved N, or the
    untrained network if nothing was solved yet)."""
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"{str(p)!r} does not exist; give a run directory or a checkpoint file")
    if p.is_dir():
        if not is_run_dir(p):
            raise CheckpointError(f"{str(p)!r} is a directory but not a run directory (it has no config.yaml)")
        ckpts = list_run_checkpoints(p)
        if not ckpts:
            raise CheckpointError(f"run directory {str(p)!r} has no checkpoints yet")
        return ckpts[-1]
    return p


def load_any(path: str | Path) -> LoadedCheckpoint:
    """Load a run directory's latest checkpoint, one of our checkpoint files, or a paper-code
    checkpoint file (recognised by content)."""
    p = resolve_checkpoint(path)
    data = _read_bytes(p)
    if _is_safetensors(data):
        return load_checkpoint(p)
    if p.suffix == SUFFIX:
        # Named like one of ours but not safetensors: never handed to an unpickler.
        raise CheckpointError(f"{str(p)!r} is named like an rnn-timescales checkpoint but is not a safetensors file "
                              "(corrupt, or replaced by something else)")
    if data[:2] == b"PK" or data[:1] == b"\x80":
        return load_reference_checkpoint(p)
    raise CheckpointError(f"{str(p)!r} is neither an rnn-timescales checkpoint nor a checkpoint of the paper's code")
