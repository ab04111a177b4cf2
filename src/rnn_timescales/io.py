"""Files and directories a reader never sees half of (temporary file or directory, fsync, rename),
the one check of an output directory, and the one safetensors format with a SHA-256 that
checkpoints and training states share."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from rnn_timescales.errors import ConfigError

T = TypeVar("T")


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: other processes see the old file or the whole new one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def move_into_place(tmp: Path, out: Path, attempts: int = 5) -> None:
    """Rename directory ``tmp`` to ``out``, first moving what is at ``out`` aside (and deleting it): a
    reader sees the old directory or the whole new one. Retries while other processes replace it too."""
    for _ in range(attempts):
        try:
            os.rename(tmp, out)  # fails if ``out`` is a non-empty directory
            return
        except OSError:
            if not out.exists():
                raise
        old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
        try:
            os.rename(out, old)
        except FileNotFoundError:  # another analysis moved it first
            continue
        shutil.rmtree(old, ignore_errors=True)
    raise OSError(f"could not move a directory into {str(out)!r}: other processes keep replacing it")


def file_in_the_way(path: str | Path) -> Path | None:
    """The nearest existing ancestor of ``path`` if it is a file (so ``path`` cannot be created
    under it), else None."""
    for parent in Path(path).parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def check_output_dir(out: str | Path, what: str, *, ours: Callable[[Path], bool] | None = None,
                     foreign: str | None = None) -> Path:
    """``out`` if an output of kind ``what`` may be written there; nothing is created.

    Refused with a one-line :class:`~rnn_timescales.errors.ConfigError`: a file at ``out``, a
    path under a file, and (when ``ours`` is given) a non-empty directory for which ``ours(out)``
    is false, i.e. one that holds something other than an earlier output of this kind (``foreign``
    says what, e.g. ``"holds files that are not an analysis; choose another --out"``). Without
    ``ours`` any existing directory is accepted (the output merges into it).
    """
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise ConfigError(f"output path {str(p)!r} is a file; give a directory for the {what}")
    if ours is not None and p.is_dir() and any(p.iterdir()) and not ours(p):
        raise ConfigError(f"output directory {str(p)!r} {foreign or f'holds files that are not a {what}; choose another --out'}")
    blocker = file_in_the_way(p)
    if blocker is not None:
        raise ConfigError(f"output path {str(p)!r} lies under {str(blocker)!r}, which is a file")
    return p


def write_directory(out: str | Path, fill: Callable[[Path], T], *, replace: bool = True) -> T:
    """Make the directory ``out`` at once: ``fill(tmp)`` writes its files into a temporary directory
    beside it, which is then renamed to ``out``. Returns what ``fill`` returns.

    A reader sees the previous ``out`` or the whole new one, two writers never mix their files, and
    a failure leaves nothing behind. ``replace``: an existing ``out`` is replaced
    (:func:`move_into_place`); otherwise the rename fails if ``out`` appeared meanwhile. Check
    ``out`` first (:func:`check_output_dir`): this function replaces whatever is there.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        result = fill(tmp)
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; outputs are meant to be shared
        if replace:
            move_into_place(tmp, out)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result


@dataclass(frozen=True)
class OutputDir:
    """A kind of output directory, declared once by the study that writes it.

    what: the output in messages ("give a directory for the {what}"). marker: the file (or
    directory) an earlier output of this kind has; a non-empty directory without it is refused,
    one with it is replaced (None: any existing directory is accepted and written into). kind: the
    noun of the refusal ("holds files that are not {kind}"; default ``a {what}``).
    """

    what: str
    marker: str | None = None
    kind: str | None = None

    def is_ours(self, out: Path) -> bool:
        """Whether the directory ``out`` holds an earlier output of this kind."""
        return self.marker is not None and (out / self.marker).exists()

    def check(self, out: str | Path) -> Path:
        """``out`` if this output may be written there (see :func:`check_output_dir`)."""
        foreign = f"holds files that are not {self.kind or f'a {self.what}'}; choose another --out"
        return check_output_dir(out, self.what, ours=self.is_ours if self.marker else None, foreign=foreign)

    def write(self, out: str | Path, fill: Callable[[Path], T]) -> T:
        """Check ``out``, then make it at once from what ``fill(tmp)`` writes (:func:`write_directory`)."""
        return write_directory(self.check(out), fill)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- safetensors files with a digest --------------------------------------------------------------
def tensors_digest(tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> str:
    """SHA-256 over every tensor's name and bytes (in name order) and every metadata entry but
    ``sha256`` itself: the fingerprint recorded in a file and checked when it is read."""
    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key].detach().contiguous().cpu()
        h.update(key.encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    for key in sorted(metadata or {}):
        if key != "sha256":
            h.update(f"\0{key}\0{metadata[key]}".encode())
    return h.hexdigest()


def write_safetensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> Path:
    """Write ``tensors`` and string ``metadata`` as one safetensors file, atomically, with the
    SHA-256 of :func:`tensors_digest` recorded as ``metadata["sha256"]``."""
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    metadata = {**metadata, "sha256": tensors_digest(tensors, metadata)}
    path = Path(path)
    atomic_write_bytes(path, st_save(tensors, metadata=metadata))
    return path


def is_safetensors(data: bytes) -> bool:
    """Whether ``data`` starts like a safetensors file (header length, then a JSON object)."""
    if len(data) < 9:
        return False
    (header_len,) = struct.unpack("<Q", data[:8])
    return 0 < header_len <= len(data) - 8 and data[8:9] == b"{"


def read_safetensors(
    path: str | Path, data: bytes, error: type[Exception], what: str, fmt: str, legacy_versions: tuple[str, ...] = ()
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and metadata of a file written by :func:`write_safetensors` whose
    ``metadata["format"]`` is ``fmt``, its SHA-256 verified. ``what`` names the kind of file in the
    messages (e.g. "checkpoint"); problems raise ``error`` with one line naming the file. Files of a
    version in ``legacy_versions`` have a digest over the tensors only."""
    name = str(path)
    try:
        if not is_safetensors(data):
            raise ValueError("not a safetensors file")
        (header_len,) = struct.unpack("<Q", data[:8])
        metadata = json.loads(data[8 : 8 + header_len]).get("__metadata__") or {}
        tensors = st_load(data)
    except (SafetensorError, ValueError, struct.error, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise error(f"{what} {name!r} is corrupt or truncated ({str(e).splitlines()[0]})") from None
    if metadata.get("format") != fmt:
        raise error(f"{name!r} is a safetensors file but not an rnn-timescales {what}")
    covered = None if metadata.get("version") in legacy_versions else metadata
    if tensors_digest(tensors, covered) != metadata.get("sha256"):
        raise error(f"{what} {name!r} is corrupt: it does not match the SHA-256 recorded when it was written")
    return tensors, metadata
