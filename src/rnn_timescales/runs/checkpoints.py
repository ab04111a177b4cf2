"""Checkpoints: atomic, self-describing, and loaded without executing code.

Our format is a safetensors file (:func:`rnn_timescales.io.write_safetensors`): the model's tensors
plus string metadata holding the run configuration (model type and sizes, task and its settings,
curriculum), the task level the network was trained at (for the N tasks, ``ns``: the N answered by
each head), the epoch, the accuracies at saving time and a SHA-256 over tensors and metadata.

A run directory's ``checkpoints/`` holds ``init.safetensors`` (the untrained network), one
``rnn_<label>.safetensors`` per level solved (``rnn_N{min}_N{max}`` for the N curricula,
``rnn_<level name><value>`` otherwise, ``rnn_solved`` for a curriculum without levels) and
``final.safetensors`` (the weights when the run stopped).

The paper code's own checkpoints are read by :mod:`rnn_timescales.runs.paper`;
:func:`rnn_timescales.runs.load.load_any` accepts both.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

import torch

from rnn_timescales.config import RunConfig, validate
from rnn_timescales.errors import CheckpointError, ConfigError
from rnn_timescales.io import is_safetensors, read_safetensors, write_safetensors
from rnn_timescales.models import RecurrentModel, build_model
from rnn_timescales.runs.files import CHECKPOINTS, CONFIG, is_run_dir  # noqa: F401  (is_run_dir: re-exported)
from rnn_timescales.tasks import Level, Task, build_task

FORMAT = "rnn-timescales-checkpoint"
VERSION = "2"  # 2: the SHA-256 covers the metadata too (1: tensors only)
SUFFIX = ".safetensors"
INIT_NAME = "init"
FINAL_NAME = "final"
_SOLVED = re.compile(r"^rnn_(.+)$")
_VALUE_LABEL = re.compile(r"^([A-Za-z_]+?)(\d+)$")


@dataclass
class LoadedCheckpoint:
    """A network and everything needed to evaluate or analyse it.

    model: the network, in eval mode, on CPU.
    config: the run configuration (for the paper code's checkpoints, the one its run would have had).
    level: the task level the network was trained at (``{"ns": [...]}`` for parity and DMS).
    path: the file; source: ``ours`` or ``reference``.
    epoch, accuracy: when it was saved and the accuracy of each head then (None if unknown).
    """

    model: RecurrentModel
    config: RunConfig
    level: Level
    path: Path
    source: str = "ours"
    epoch: int | None = None
    accuracy: list[float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str:
        """The task's name."""
        return self.config.task.name

    @property
    def curriculum(self) -> str:
        """The curriculum's kind."""
        return self.config.curriculum.kind

    @property
    def ns(self) -> list[int] | None:
        """The N answered by heads 0, 1, ... (None for a task without N)."""
        return list(self.level["ns"]) if "ns" in self.level else None

    @property
    def n_min(self) -> int | None:
        return self.ns[0] if self.ns else None

    @property
    def n_max(self) -> int | None:
        return self.ns[-1] if self.ns else None

    def make_task(self) -> Task:
        """The task (with its settings) the network was trained on."""
        return build_task(self.config.task)

    @property
    def n_heads(self) -> int:
        """Heads in use at the checkpoint's level."""
        return self.make_task().n_heads(self.level)


def checkpoint_name(label: str | None) -> str:
    """File name of the checkpoint of a solved level with ``label`` (e.g. ``N2_N11``, from the
    curriculum's ``label``); None: the untrained network."""
    return INIT_NAME + SUFFIX if label is None else f"rnn_{label}{SUFFIX}"


def non_finite_tensors(tensors: dict[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors holding a NaN or an infinity."""
    return [k for k, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]


def save_checkpoint(
    path: str | Path,
    model: RecurrentModel,
    *,
    config: RunConfig,
    level: Level,
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
    heads = build_task(config.task).n_heads(level)
    if heads > model.n_heads:
        raise CheckpointError(f"checkpoint {str(path)!r}: level {level} uses {heads} heads, the model has {model.n_heads}")
    metadata = {
        "format": FORMAT,
        "version": VERSION,
        "config": json.dumps(config.to_dict()),
        "level": json.dumps(level),
        "task": config.task.name,
        "curriculum": config.curriculum.kind,
        "model": config.model.type,
        "epoch": json.dumps(epoch),
        "accuracy": json.dumps(accuracy),
        "extra": json.dumps(extra or {}),
    }
    if "ns" in level:
        metadata["ns"] = json.dumps(list(level["ns"]))
    return write_safetensors(path, tensors, metadata)


def read_bytes(path: Path) -> bytes:
    """The bytes of checkpoint file ``path``; CheckpointError if it is missing or not a file."""
    if not path.exists():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} is not a file")
    return path.read_bytes()


def load_checkpoint(path: str | Path) -> LoadedCheckpoint:
    """Load one of our checkpoints (safetensors), verifying its digest."""
    path = Path(path)
    data = read_bytes(path)
    if not is_safetensors(data):
        raise CheckpointError(f"{str(path)!r} is not an rnn-timescales checkpoint (not a safetensors file)")
    tensors, metadata = read_safetensors(path, data, CheckpointError, "checkpoint", FORMAT, legacy_versions=("1", None))
    try:
        config = validate(json.loads(metadata["config"]))
        level = json.loads(metadata["level"]) if "level" in metadata else {"ns": json.loads(metadata["ns"])}
        epoch = json.loads(metadata["epoch"])
        accuracy = json.loads(metadata.get("accuracy", "null"))
        extra = json.loads(metadata.get("extra", "{}"))
    except ConfigError as e:
        raise CheckpointError(f"checkpoint {str(path)!r} holds an invalid configuration: {e}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {str(path)!r} has incomplete metadata ({e!r})") from None
    model = build_model(config)
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
    model.load_state_dict(tensors)
    heads = build_task(config.task).n_heads(level)
    if not 0 < heads <= model.n_heads:
        raise CheckpointError(f"checkpoint {str(path)!r} uses {heads} heads but its model has {model.n_heads}")
    model.eval()
    return LoadedCheckpoint(model=model, config=config, level=level, path=path, source="ours", epoch=epoch,
                            accuracy=accuracy, extra=extra)


N_RANGE = re.compile(r"^rnn_N(\d+)_N(\d+)")


def n_range(name: str, whole: bool = False) -> tuple[int, int] | None:
    """(N_min, N_max) of a checkpoint named ``rnn_N<min>_N<max>`` (ours with ``.safetensors``, the
    paper code's without), else None; ``whole``: the name must be exactly that, nothing after it.
    The one parser of checkpoint names."""
    m = N_RANGE.match(name)
    if m is None or (whole and m.end() != len(name)):
        return None
    return int(m.group(1)), int(m.group(2))


def n_of(path: str | Path) -> int | None:
    """The largest N of a checkpoint, from its name (None if it is not named by its N range)."""
    found = n_range(Path(path).name)
    return found[1] if found else None


def solved_checkpoints(run_dir: str | Path, include_init: bool = False) -> list[Path]:
    """Each solved level of a run (each solved N), in the order reached; the untrained network
    first with ``include_init``."""
    return list_run_checkpoints(run_dir, include_init, final="never")


def analysed_checkpoints(run_dir: str | Path, include_init: bool = False) -> list[Path]:
    """What an analysis of a run reads: each solved level, or the final weights of a run that
    solved none (``analyze``, the sweeps)."""
    return list_run_checkpoints(run_dir, include_init, final="if_unsolved")


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """A run's latest network (None when it has no checkpoint yet).

    A curriculum that advances when a level is solved ([K24]'s rule, ``curriculum.advance:
    accuracy``) ends training on a level it has not solved, so its latest network is its last
    solved level, else its final weights, else the untrained network. A curriculum that advances at
    fixed steps or never ([H19]'s schedules, ``schedule`` or ``never``) trains at its last level to
    the end of its budget: the network it trained is its final weights, where written; the
    checkpoints of the levels it passed are the way there (before the final weights are written,
    its last level passed, else the untrained network)."""
    found = list_run_checkpoints(run_dir, include_init=True, final="if_unsolved")
    final = Path(run_dir) / CHECKPOINTS / (FINAL_NAME + SUFFIX)
    if final.is_file() and _advances_by_steps(run_dir):
        return final
    return found[-1] if found else None


def _advances_by_steps(run_dir: str | Path) -> bool:
    """Whether the run's curriculum advances at fixed steps or never (config.yaml's
    ``curriculum.advance``); False where the run has no readable configuration."""
    try:
        return RunConfig.load(Path(run_dir) / CONFIG).curriculum.advance != "accuracy"
    except (OSError, ConfigError, ValueError):
        return False


def checkpoint_at_n(files: Sequence[Path], n: int | None = None) -> Path | None:
    """The checkpoint among ``files`` whose largest N is ``n`` (this N); the last one for None."""
    if n is None:
        return files[-1] if files else None
    return next((f for f in files if n_of(f) == n), None)


def _solved_order(path: Path) -> tuple[int, int] | None:
    """Sort key of a solved-level checkpoint from its name: (level value, N_min), or None."""
    m = _SOLVED.match(path.name[: -len(SUFFIX)])
    if m is None:
        return None
    label = m.group(1)
    if (n := n_range("rnn_" + label, whole=True)) is not None:
        return n[1], n[0]
    if (v := _VALUE_LABEL.match(label)) is not None:
        return int(v.group(2)), 0
    return (0, 0) if label == "solved" else None


def list_run_checkpoints(run_dir: str | Path, include_init: bool = True,
                         final: Literal["never", "if_unsolved", "always"] = "never") -> list[Path]:
    """Which checkpoints of a run: those of the solved levels, in the order they were reached,
    after the untrained network (``include_init``); then the final weights (``final.safetensors``,
    where the run has written it): ``never``, ``if_unsolved`` (a run that solved no level is
    analysed at its final weights: what ``analyze``, the sweeps and :func:`~rnn_timescales.runs.load.load_any`
    use) or ``always``."""
    ckpt_dir = Path(run_dir) / CHECKPOINTS
    found = [(key, p) for p in ckpt_dir.glob(f"rnn_*{SUFFIX}") if (key := _solved_order(p)) is not None]
    ordered = [p for _, p in sorted(found)]
    init = ckpt_dir / checkpoint_name(None)
    last = ckpt_dir / (FINAL_NAME + SUFFIX)
    add_final = final == "always" or (final == "if_unsolved" and not ordered)
    return ([init] if include_init and init.exists() else []) + ordered + ([last] if add_final and last.is_file() else [])
