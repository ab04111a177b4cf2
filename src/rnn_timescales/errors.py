"""Error types shared across the package, in a module that imports nothing of it (so that any
module can raise them without an import cycle)."""

from __future__ import annotations


class ConfigError(ValueError):
    """An invalid configuration; the message is one line saying what to fix."""
