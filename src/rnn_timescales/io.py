"""Files and directories a reader never sees half of (temporary file or directory, fsync, rename),
the one check of an output directory, and the one safetensors format with a SHA-256 that
checkpoints and training states share.

Faults: a write that fails (``ENOSPC``: the disk is full, a quota, a read-only file system) removes
its temporary file and raises :class:`~rnn_timescales.errors.WriteError`, one line naming the path;
the previous file stays as it was. A process killed while writing leaves a temporary file or
directory (``.NAME.*.tmp``) that its writer holds locked while it lives; the next writer of the
same place removes those whose writer is gone (:func:`remove_stale`).

Over 400 lines: every write the package makes goes through here, on purpose — one place for
atomic files, staged directories, their locks and cleanup, so that fault handling exists once.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import shutil
import struct
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from rnn_timescales.errors import ConfigError, WriteError

T = TypeVar("T")

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: temporary files are not locked
    fcntl = None  # type: ignore[assignment]


def write_error(path: str | Path, error: OSError) -> WriteError:
    """The one-line :class:`WriteError` for a failed write of ``path`` (a file, or an output directory)."""
    if isinstance(error, WriteError):
        return error
    where = path
    reason = error.strerror or str(error) or type(error).__name__
    code = errno.errorcode.get(error.errno, "") if error.errno else ""
    return WriteError(f"could not write {str(where)!r}: {reason}{f' ({code})' if code else ''}; the previous "
                      "version, if any, is unchanged: free space (or fix the file system) and run the command again",
                      error.errno)


def _lock_fd(fd: int) -> bool:
    """Hold an exclusive lock on ``fd`` (a temporary file or directory) while its writer lives; False
    if another process holds it. Where the file system has no locks nothing is locked (and
    :func:`remove_stale` removes nothing there)."""
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError:
            pass
    return True


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: other processes see the old file or the whole new one.
    A failure (e.g. ENOSPC) removes the temporary file and raises :class:`WriteError` naming ``path``."""
    path = Path(path)
    for attempt in range(2):
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        except OSError as e:
            raise write_error(path, e) from None
        try:
            try:
                _lock_fd(fd)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except FileNotFoundError:
            # a cleaner took the temporary file for a dead writer's in the instant before it was locked
            if attempt or not path.parent.is_dir():
                raise
            continue
        except BaseException as e:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(e, OSError):
                raise write_error(path, e) from None
            raise
        break
    _fsync_dir(path.parent)
def atomic_write_text(path: str | Path, text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _exchange(a: Path, b: Path) -> bool:
    """Swap the directories ``a`` and ``b`` in one step (Linux ``renameat2(RENAME_EXCHANGE)``);
    False where the system or the file system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def move_into_place(tmp: Path, out: Path, attempts: int = 5) -> None:
    """Rename directory ``tmp`` to ``out``: a reader sees the old directory or the whole new one, and
    a process killed at any moment leaves one of them at ``out``. An existing ``out`` is swapped with
    ``tmp`` in one step (then deleted); where the system cannot swap, it is first moved aside. Retries
    while other processes replace it too."""
    for _ in range(attempts):
        try:
            os.rename(tmp, out)  # fails if ``out`` is a non-empty directory
            return
        except OSError:
            if not out.exists():
                raise
        if _exchange(tmp, out):  # ``tmp`` now holds the old directory
            shutil.rmtree(tmp, ignore_errors=True)
            return
        old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
        try:
            os.rename(out, old)
        except FileNotFoundError:  # another analysis moved it first
            continue
        shutil.rmtree(old, ignore_errors=True)
    raise OSError(f"could not move a directory into {str(out)!r}: other processes keep replacing it")


def is_temporary(name: str) -> bool:
    """Whether a file name is a writer's temporary file or directory (``.NAME.*.tmp``) or a
    directory moved aside (``.NAME.old-*``): what :func:`remove_stale` removes once its writer is gone."""
    return name.startswith(".") and (name.endswith(".tmp") or ".old-" in name)


def remove_stale(directory: str | Path, name: str | None = None) -> list[Path]:
    """Remove what killed writers left in ``directory``: temporary files and directories
    (``.NAME.*.tmp``, only those whose writer no longer holds its lock) and directories moved aside
    (``.NAME.old-*``); ``name`` limits this to one output's. Returns what was removed."""
    d = Path(directory)
    if fcntl is None or not d.is_dir():
        return []
    prefix = f".{name}." if name is not None else "."
    removed = []
    for p in d.iterdir():
        n = p.name
        if not n.startswith(prefix) or not is_temporary(n):
            continue
        try:
            fd = os.open(p, os.O_RDONLY)
        except OSError:
            continue
        try:
            if n.endswith(".tmp"):
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue  # its writer is alive
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            removed.append(p)
        finally:
            os.close(fd)
    return removed


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
    beside it (:func:`staged_directory`), which is then renamed to ``out``. Returns what ``fill``
    returns.

    A reader sees the previous ``out`` or the whole new one, two writers never mix their files, and
    a failure (a full disk included: :class:`WriteError`) leaves nothing behind. ``replace``: an
    existing ``out`` is replaced (:func:`move_into_place`); otherwise the rename fails if ``out``
    appeared meanwhile. Check ``out`` first (:func:`check_output_dir`): this function replaces
    whatever is there.
    """
    with staged_directory(out, replace=replace) as tmp:
        return fill(tmp)


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


def _locked_temp_dir(out: Path) -> tuple[Path, int]:
    """A new temporary directory beside ``out`` and a descriptor holding its lock (removing a killed
    writer's leftovers first)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(out.parent, out.name)
    while True:
        try:
            tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
        except OSError as e:
            raise write_error(out, e) from None
        fd = os.open(tmp, os.O_RDONLY)
        try:
            if _lock_fd(fd) and os.path.samestat(os.fstat(fd), os.stat(tmp)):
                return tmp, fd
        except OSError:  # taken for a dead writer's before it was locked: another name
            pass
        os.close(fd)


@contextlib.contextmanager
def staged_directory(out: str | Path, replace: bool = True) -> Iterator[Path]:
    """A temporary directory beside ``out`` for the caller to fill; on success it is moved into place
    (:func:`move_into_place`; without ``replace``, renamed, failing if ``out`` exists), on any failure removed (an ``OSError`` becomes a one-line
    :class:`WriteError`). While it is filled it is locked, so that a later writer can tell a killed
    writer's leftovers, which it removes (:func:`remove_stale`)."""
    out = Path(out)
    with _filled_or_removed(out, out) as tmp:
        yield tmp
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; an output is meant to be shared
        if replace:
            move_into_place(tmp, out)
        else:
            os.rename(tmp, out)


@contextlib.contextmanager
def _filled_or_removed(beside: Path, out: Path) -> Iterator[Path]:
    """A locked temporary directory named after ``beside`` (:func:`_locked_temp_dir`) for the block
    to fill and move; if the block fails it is removed, an ``OSError`` becoming a one-line
    :class:`WriteError` about ``out``."""
    tmp, fd = _locked_temp_dir(beside)
    try:
        yield tmp
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError):
            raise write_error(out, e) from None
        raise
    finally:
        os.close(fd)


# --- a group of files replaced together -------------------------------------------------------------
COMMIT_DIR = ".commit"


def settle(out: str | Path) -> None:
    """Finish a :func:`write_files_together` that was interrupted after its files were complete
    (its ``.commit`` directory is there): readers call this first, so they see the whole new group
    of files, never a mix. Harmless when there is nothing to finish, or nothing may be written."""
    out = Path(out)
    commit = out / COMMIT_DIR
    if not commit.is_dir():
        return
    with contextlib.suppress(OSError):
        for f in sorted(commit.iterdir()):
            with contextlib.suppress(FileNotFoundError):
                os.replace(f, out / f.name)
        commit.rmdir()
        _fsync_dir(out)


def write_files_together(out: str | Path, files: dict[str, bytes], attempts: int = 5) -> list[Path]:
    """Replace the files ``files`` (name -> bytes) in directory ``out`` as one group: they are written
    into a temporary directory inside ``out``, renamed to ``out/.commit`` once all are complete, then
    moved into place. A process killed before that rename changes nothing; after it, the next reader
    or writer (:func:`settle`) completes the move. Other files in ``out`` are kept. A failure (e.g.
    ENOSPC) leaves the old files and raises :class:`WriteError`."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise write_error(out, e) from None
    settle(out)
    with _filled_or_removed(out / "files", out) as tmp:
        for name, data in files.items():
            atomic_write_bytes(tmp / name, data)
        for _ in range(attempts):
            try:
                os.rename(tmp, out / COMMIT_DIR)
                break
            except OSError:
                if not (out / COMMIT_DIR).exists():
                    raise
            settle(out)  # another writer's group, not yet moved: finish it first
        else:
            raise OSError(f"could not write into {str(out)!r}: other processes keep writing there")
    settle(out)
    return [out / name for name in files]


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
