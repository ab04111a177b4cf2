"""Error types shared across the package, in a module that imports nothing of it (so that any
module can raise them without an import cycle)."""

from __future__ import annotations


class ConfigError(ValueError):
    """An invalid configuration; the message is one line saying what to fix."""


class WriteError(OSError):
    """A file could not be written (the disk is full, a quota, a read-only file system, ...). The
    message is one line naming the path; the previous version of the file, if any, is unchanged and
    no temporary file is left behind."""

    def __init__(self, message: str, errno_: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno_
