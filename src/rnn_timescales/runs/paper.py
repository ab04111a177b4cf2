"""Everything about the paper code's checkpoint files (docs/science.md, the paper's own networks), in one place: their names,
their safe loading, and turning them into run directories.

The paper's public repository (LevinaLab/rnn_timescale_public) keeps its trained networks in
``trained_models/``: one folder per network, ``{curriculum}_{task}_network_{k}`` (curriculum
``cumulative`` = multi-head, ``single``, or ``sliding_{W}_{F}``), holding ``torch.save`` files named
``rnn_N{N_min}_N{N_max}`` (head k answers N = N_min + k) and ``rnn_init``.

``rnn-timescales import-reference PATH...`` accepts checkpoint files, reference network folders
(``{curriculum}_{task}_network_{k}``, e.g. ``cumulative_parity_network_1``) or a folder of them.
Each network folder becomes one run directory named like it::

    config.yaml        the configuration a paper run would have had (preset paper, task, curriculum,
                       sliding window W and forget F from ``sliding_W_F``, hidden size and heads
                       read from the tensors)
    summary.json       stop_reason "imported", the N ranges solved, and where each file came from
    checkpoints/       init.safetensors (from rnn_init) and rnn_N{min}_N{max}.safetensors

so ``evaluate`` and the analyses read it like a run trained here. There is no metrics.csv (the
paper code's epoch history is not in its checkpoints) and no training state (it cannot be resumed).

Every file is read with ``torch.load(weights_only=True)`` after its zip CRCs are checked, and all of
them are read and checked before anything is written; each run directory is assembled under a
temporary name and renamed into place, so a failed import leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from rnn_timescales.config import RunConfig, build_config
from rnn_timescales.errors import ConfigError
from rnn_timescales.curricula import build_curriculum
from rnn_timescales.io import atomic_write_text, write_directory
from rnn_timescales.runs.files import CHECKPOINTS, CONFIG, SUMMARY
from rnn_timescales.models import LeakyRNN
from rnn_timescales.tasks import build_task
from rnn_timescales.runs.checkpoints import (
    CheckpointError,
    LoadedCheckpoint,
    read_bytes,
    checkpoint_name,
    n_range,
    save_checkpoint,
)

NETWORK_DIR = re.compile(r"^(cumulative|single|fixed|sliding_(\d+)_(\d+))_(parity|dms)_network_\w+$")
_REF_CURRICULUM = {"cumulative": "multi", "single": "single", "fixed": "fixed"}


def parse_reference_name(path: str | Path) -> tuple[str, str, list[int] | None]:
    """(curriculum, task, ns) from a paper-code checkpoint path ``{curriculum}_{task}_network_{k}/
    rnn_N{min}_N{max}`` (ns is None for ``rnn_init``); CheckpointError if the names don't parse."""
    path = Path(path)
    d = NETWORK_DIR.match(path.parent.name)
    if d is None:
        raise CheckpointError(
            f"cannot tell task and curriculum of {str(path)!r}: its folder should be named "
            "{cumulative|single|sliding_W_F}_{parity|dms}_network_K"
        )
    curriculum = "sliding" if d.group(1).startswith("sliding") else _REF_CURRICULUM[d.group(1)]
    task = d.group(4)
    if path.name == "rnn_init":
        return curriculum, task, None
    ns = n_range(path.name, whole=True)
    if ns is None:
        raise CheckpointError(f"cannot tell the N range of {str(path)!r}: expected a file named rnn_N<min>_N<max>")
    n_min, n_max = ns
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
    data = read_bytes(path) if data is None else data
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


def reference_config(folder: str, curriculum: str, task: str, model: LeakyRNN, n_start: int) -> RunConfig:
    """The configuration a run of the paper's code would have had: the paper preset, with task,
    curriculum (and the sliding window W and forget F of ``sliding_W_F``), hidden size, heads and
    tau training read from the folder name and the tensors."""
    overrides = [
        f"task.name={task}",
        f"curriculum.kind={curriculum}",
        f"curriculum.n_start={n_start}",
        f"model.hidden_size={model.hidden_size}",
        f"model.n_heads={model.n_heads}",
        f"model.train_tau={'true' if model.train_tau else 'false'}",
        "seed=0",
    ]
    if not model.train_tau:
        overrides.append(f"model.tau_init={float(model.tau.reshape(-1)[0])}")
    m = NETWORK_DIR.match(folder)
    if m and m.group(2):
        overrides += [f"curriculum.window={m.group(2)}", f"curriculum.forget={m.group(3)}"]
    try:
        return build_config("paper", overrides=overrides)
    except ConfigError as e:
        raise CheckpointError(f"reference folder {folder!r} does not describe a valid run: {e}") from None


def initial_level(config: RunConfig) -> dict:
    """The level a run of ``config`` starts at (what an untrained network is evaluated on)."""
    return build_curriculum(config.curriculum, build_task(config.task)).level


def load_reference_checkpoint(path: str | Path, data: bytes | None = None) -> LoadedCheckpoint:
    """Load a checkpoint written by the paper's public code (docs/science.md, the paper's own networks), safely."""
    path = Path(path)
    data = read_bytes(path) if data is None else data
    curriculum, task, ns = parse_reference_name(path)
    model = reference_state_dict_to_model(read_reference_state_dict(path, data))
    config = reference_config(path.parent.name, curriculum, task, model, ns[0] if ns else 2)
    level = {"ns": ns} if ns is not None else initial_level(config)
    return LoadedCheckpoint(model=model, config=config, level=level, path=path, source="reference")


@dataclass
class ReferenceFile:
    path: Path
    ns: list[int] | None  # None: rnn_init
    model: LeakyRNN
    sha256: str


@dataclass
class ReferenceNetwork:
    """One folder of the paper code's checkpoints, read and checked, ready to be written."""

    folder: Path
    curriculum: str
    task: str
    files: list[ReferenceFile] = field(default_factory=list)


def find_reference_files(paths: list[str | Path]) -> dict[Path, list[Path]]:
    """Reference network folder -> its checkpoint files, from files, network folders, or folders
    of network folders. CheckpointError (one line) for a path that is none of these."""
    groups: dict[Path, list[Path]] = {}
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise CheckpointError(f"{str(p)!r} does not exist")
        if p.is_file():
            parse_reference_name(p)  # names the problem if the file or its folder is misnamed
            groups.setdefault(p.parent.resolve(), []).append(p)
            continue
        if NETWORK_DIR.match(p.resolve().name):
            folders = [p]
        else:
            folders = sorted(d for d in p.iterdir() if d.is_dir() and NETWORK_DIR.match(d.name))
            if not folders:
                raise CheckpointError(
                    f"{str(p)!r} holds no reference networks: expected folders named "
                    "{cumulative|single|sliding_W_F}_{parity|dms}_network_K, or checkpoint files"
                )
        for folder in folders:
            files = sorted(f for f in folder.iterdir() if f.is_file() and (n_range(f.name, whole=True) or f.name == "rnn_init"))
            if not files:
                raise CheckpointError(f"reference folder {str(folder)!r} holds no rnn_N<min>_N<max> or rnn_init files")
            groups.setdefault(folder.resolve(), []).extend(files)
    for folder, files in groups.items():
        unique = {f.resolve(): f for f in files}
        groups[folder] = sorted(unique.values(), key=_order)
    return groups


def _order(path: Path) -> tuple[int, int]:
    ns = n_range(path.name, whole=True)
    return (ns[1], ns[0]) if ns else (-1, -1)


def read_reference_network(folder: Path, files: list[Path]) -> ReferenceNetwork:
    """Read and check every file of one reference network (nothing is written)."""
    network: ReferenceNetwork | None = None
    for path in files:
        curriculum, task, ns = parse_reference_name(path)
        data = path.read_bytes()
        model = reference_state_dict_to_model(read_reference_state_dict(path, data))
        if network is None:
            network = ReferenceNetwork(folder=folder, curriculum=curriculum, task=task)
        first = network.files[0].model if network.files else None
        if first is not None and (model.hidden_size, model.n_heads) != (first.hidden_size, first.n_heads):
            raise CheckpointError(
                f"{str(path)!r} has {model.hidden_size} neurons and {model.n_heads} heads, but "
                f"{str(network.files[0].path)!r} has {first.hidden_size} and {first.n_heads}: not one network"
            )
        if ns is not None and len(ns) > model.n_heads:
            raise CheckpointError(f"{str(path)!r} names {len(ns)} heads but holds {model.n_heads}")
        network.files.append(ReferenceFile(path, ns, model, hashlib.sha256(data).hexdigest()))
    assert network is not None
    return network


def network_config(network: ReferenceNetwork) -> RunConfig:
    """The configuration a run of the paper's code for ``network`` would have had."""
    trained = [f.ns for f in network.files if f.ns is not None]
    n_start = min((ns[0] for ns in trained), default=2)
    return reference_config(network.folder.name, network.curriculum, network.task, network.files[0].model, n_start)


def import_reference(paths: list[str | Path], out_root: str | Path = "runs") -> list[Path]:
    """Convert the paper code's checkpoints under ``paths`` into run directories under
    ``out_root`` (one per network folder, named like it); returns them. Everything is read and
    checked first; CheckpointError / ConfigError with one line otherwise, nothing written."""
    root = Path(out_root)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"output path {str(root)!r} is a file; give a directory to hold the run directories")
    groups = find_reference_files(paths)
    networks = [read_reference_network(folder, files) for folder, files in groups.items()]
    planned = []
    for network in networks:
        target = root / network.folder.name
        if target.exists():
            raise ConfigError(f"run directory {str(target)!r} already exists; remove it or choose another --out")
        planned.append((network, network_config(network), target))
    names = [t.name for _, _, t in planned]
    if len(set(names)) != len(names):
        raise ConfigError("two reference folders have the same name; import them into different --out folders")

    root.mkdir(parents=True, exist_ok=True)
    created = []
    for network, config, target in planned:
        # replace=False: fails rather than merge if the name was taken meanwhile
        write_directory(target, lambda tmp: _write_run(network, config, tmp), replace=False)
        created.append(target)
    return created


def _write_run(network: ReferenceNetwork, config, run_dir: Path) -> None:
    atomic_write_text(run_dir / CONFIG, config.to_yaml())
    (run_dir / CHECKPOINTS).mkdir()
    start = initial_level(config)
    written, solved = [], []
    for f in network.files:
        path = run_dir / CHECKPOINTS / checkpoint_name(f"N{f.ns[0]}_N{f.ns[-1]}" if f.ns else None)
        extra = {"source": "paper-code", "source_file": str(f.path.resolve()), "source_sha256": f.sha256}
        level = {"ns": f.ns} if f.ns is not None else start
        save_checkpoint(path, f.model, config=config, level=level, epoch=None, extra=extra)
        written.append(path.name)
        if f.ns is not None:
            solved.append(f.ns)
    summary = {
        "stop_reason": "imported",
        "epochs": None,
        "n_max_solved": max((ns[-1] for ns in solved), default=None),
        "solved": solved,
        "checkpoints": written,
        "source": str(network.folder),
        "resumable": False,
    }
    atomic_write_text(run_dir / SUMMARY, json.dumps(summary, indent=2))
