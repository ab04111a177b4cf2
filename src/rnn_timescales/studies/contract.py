"""What a study declares so that a sweep can run it on every finished run directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping


@dataclass(frozen=True)
class RunStudy:
    """A study of one run directory, as a sweep runs it after training (``analyze:`` in a spec).

    output: the table (relative to the run directory) that shows the study was done.
    validate(settings, where) -> settings with defaults filled in; ConfigError naming ``where``.
    is_current(run_dir, settings) -> whether the run's study is up to date (then it is skipped).
    run(run_dir, settings): study the run and write ``output`` (and whatever goes with it).
    """

    output: str
    validate: Callable[[Mapping[str, Any], str], dict[str, Any]]
    is_current: Callable[[Path, Mapping[str, Any]], bool]
    run: Callable[[Path, Mapping[str, Any]], None]
