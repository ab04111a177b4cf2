"""Whether a run directory's checkpoints and training states are the bytes that were written.

Two records are checked (:func:`verify_run`):

- every checkpoint and training state carries the SHA-256 of its tensors and metadata, written with
  it (:func:`rnn_timescales.io.write_safetensors`); it is checked for every file, finished run or not;
- a finished run's ``summary.json`` records the SHA-256 of each whole file under ``checkpoints/``
  and ``state/`` as they were when it stopped (``"sha256"``: relative path -> hex digest,
  :func:`file_digests`, made after each file's own digest was checked); this covers every byte,
  the file's header included (a tensor's dtype, its shape, the padding), and a file that matches
  it needs no other check (one read).

Nothing is repaired: a damaged checkpoint is retrained (remove the run directory, or its run resumes
from an undamaged state), a damaged state is replaced when the run resumes from its other state.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from rnn_timescales.errors import CheckpointError, StateError
from rnn_timescales.io import read_safetensors
from rnn_timescales.runs import checkpoints as checkpoint_format
from rnn_timescales.runs import state as state_format
from rnn_timescales.runs.files import CHECKPOINTS

DIGESTS_KEY = "sha256"
"""The key of ``summary.json`` holding the digests of the run's files."""
_KINDS = {CHECKPOINTS: ("checkpoint", checkpoint_format.FORMAT, CheckpointError, ("1", None)),
          state_format.STATE_DIR: ("training state", state_format.FORMAT, StateError, ())}


def run_files(run_dir: str | Path) -> list[Path]:
    """The checkpoints and training states of a run (``checkpoints/*.safetensors``, ``state/*.safetensors``)."""
    run_dir = Path(run_dir)
    return [p for sub in _KINDS for p in sorted((run_dir / sub).glob(f"*{checkpoint_format.SUFFIX}")) if p.is_file()]


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """The SHA-256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def file_digests(run_dir: str | Path) -> dict[str, str]:
    """``{"checkpoints/init.safetensors": sha256, ..., "state/epoch.safetensors": sha256}``: what a
    finished run records in its summary.json. A file whose own digest fails is left out (so that
    :func:`verify_run` reports it, rather than a record of its damaged bytes)."""
    run_dir = Path(run_dir)
    return {p.relative_to(run_dir).as_posix(): sha256_file(p) for p in run_files(run_dir) if _own_digest(p) is None}


def _own_digest(path: Path) -> str | None:
    """The problem of a file's own SHA-256 (over its tensors and metadata), or None."""
    what, fmt, error, legacy = _KINDS[path.parent.name]
    try:
        read_safetensors(path, path.read_bytes(), error, what, fmt, legacy_versions=legacy)
    except (CheckpointError, OSError) as e:
        return str(e).splitlines()[0] if str(e) else f"{path}: {type(e).__name__}"
    return None


def verify_run(run_dir: str | Path, recorded: dict[str, str] | None = None) -> list[str]:
    """The problems of a run's checkpoints and training states, one line each (none: all verified).

    ``recorded``: the whole-file digests of its summary.json (None: none recorded, or the run has
    not stopped, so its files may change). A file whose recorded digest matches is verified (its
    own digest was checked when the record was made); any other file has its own digest checked."""
    run_dir = Path(run_dir)
    recorded = recorded or {}
    problems = []
    for path in run_files(run_dir):
        rel = path.relative_to(run_dir).as_posix()
        if rel in recorded:
            if sha256_file(path) != recorded[rel]:
                problems.append(_own_digest(path) or f"{str(path)!r} does not match the SHA-256 its summary.json records")
            continue
        problem = _own_digest(path)
        if problem is not None:
            problems.append(problem)
    problems += [f"{str(run_dir / rel)!r} is missing (summary.json records it)"
                 for rel in sorted(recorded) if not (run_dir / rel).is_file()]
    return problems
