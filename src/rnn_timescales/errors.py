"""Every exception type of the package, in a module that imports nothing of it (so that any
module can raise them without an import cycle).

Each carries a one-line message that says what to fix; the command line prints it and exits
with code 2 (docs/errors.md). All but :class:`WorkerDied` are ``ValueError``: bad input, not a bug.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """An invalid configuration; the message is one line saying what to fix."""


class UsageError(ValueError):
    """Bad input from the user on the command line: printed as one line, exit code 2."""


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, unsafe or of an unknown format (one-line message)."""


class StateError(CheckpointError):
    """A training state that is missing, corrupt or does not fit its run (one-line message)."""


class DatasetError(ConfigError):
    """A data file that is missing or not in the expected format (one-line message)."""


class UnsupportedModel(ConfigError):
    """An analysis asked for a model it does not apply to (one-line message saying what to use)."""


class WorkerDied(RuntimeError):
    """The worker process running a task ended without returning (killed or crashed)."""


class RunTimedOut(WorkerDied):
    """A task ran past its time limit; its worker was killed."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(f"no result after {timeout_s:g} s (the run timeout, resources.timeout_s or --run-timeout); "
                         "its worker was killed")


class WriteError(OSError):
    """A file could not be written (the disk is full, a quota, a read-only file system, ...). The
    message is one line naming the path; the previous version of the file, if any, is unchanged and
    no temporary file is left behind."""

    def __init__(self, message: str, errno_: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno_
