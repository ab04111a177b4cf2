"""Checkpoints of the paper's public code (SPEC section 9) turned into run directories.

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
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rnn_timescales.config import ConfigError, build_config
from rnn_timescales.curricula import Curriculum
from rnn_timescales.io import atomic_write_text
from rnn_timescales.models import LeakyRNN
from rnn_timescales.training.checkpoints import (
    CheckpointError,
    checkpoint_name,
    parse_reference_name,
    read_reference_state_dict,
    reference_state_dict_to_model,
    save_checkpoint,
)

NETWORK_DIR = re.compile(r"^(cumulative|single|fixed|sliding_(\d+)_(\d+))_(parity|dms)_network_\w+$")
CHECKPOINT_FILE = re.compile(r"^(rnn_N\d+_N\d+|rnn_init)$")


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
            files = sorted(f for f in folder.iterdir() if f.is_file() and CHECKPOINT_FILE.match(f.name))
            if not files:
                raise CheckpointError(f"reference folder {str(folder)!r} holds no rnn_N<min>_N<max> or rnn_init files")
            groups.setdefault(folder.resolve(), []).extend(files)
    for folder, files in groups.items():
        unique = {f.resolve(): f for f in files}
        groups[folder] = sorted(unique.values(), key=_order)
    return groups


def _order(path: Path) -> tuple[int, int]:
    m = re.fullmatch(r"rnn_N(\d+)_N(\d+)", path.name)
    return (int(m.group(2)), int(m.group(1))) if m else (-1, -1)


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


def network_config(network: ReferenceNetwork):
    """The configuration a run of the paper's code for ``network`` would have had."""
    model = network.files[0].model
    trained = [f.ns for f in network.files if f.ns is not None]
    n_start = min((ns[0] for ns in trained), default=2)
    overrides = [
        f"task.name={network.task}",
        f"curriculum.kind={network.curriculum}",
        f"curriculum.n_start={n_start}",
        f"model.hidden_size={model.hidden_size}",
        f"model.n_heads={model.n_heads}",
        f"model.train_tau={'true' if model.train_tau else 'false'}",
        "seed=0",
    ]
    if not model.train_tau:
        overrides.append(f"model.tau_init={float(model.tau.reshape(-1)[0])}")
    m = NETWORK_DIR.match(network.folder.name)
    if m and m.group(2):
        overrides += [f"curriculum.window={m.group(2)}", f"curriculum.forget={m.group(3)}"]
    try:
        return build_config("paper", overrides=overrides)
    except ConfigError as e:
        raise CheckpointError(f"reference folder {str(network.folder)!r} does not describe a valid run: {e}") from None


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
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{target.name}.", suffix=".tmp"))
        try:
            _write_run(network, config, tmp)
            os.chmod(tmp, 0o755)  # mkdtemp makes it private; a run directory is meant to be shared
            os.rename(tmp, target)  # fails rather than merge if the name was taken meanwhile
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        created.append(target)
    return created


def _write_run(network: ReferenceNetwork, config, run_dir: Path) -> None:
    atomic_write_text(run_dir / "config.yaml", config.to_yaml())
    (run_dir / "checkpoints").mkdir()
    initial_ns = Curriculum.from_config(config.curriculum).ns
    written, solved = [], []
    for f in network.files:
        path = run_dir / "checkpoints" / checkpoint_name(f.ns)
        extra = {"source": "paper-code", "source_file": str(f.path.resolve()), "source_sha256": f.sha256}
        save_checkpoint(path, f.model, config=config, ns=f.ns or initial_ns, epoch=None, extra=extra)
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
    atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2))
