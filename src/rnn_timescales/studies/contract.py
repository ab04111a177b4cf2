"""What a study declares so that a sweep can run it on every finished run directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping


@dataclass(frozen=True)
class RunStudy:
    """A study of one run directory, as a sweep runs it after training (``analyze:`` in a spec).

    output: the table (relative to the run directory) that shows the study was done.
    validate(settings, where) -> settings with defaults filled in; ConfigError naming ``where``.
    is_current(run_dir, settings) -> whether the run's study is up to date (then it is skipped).
    run(run_dir, settings): study the run and write ``output`` (and whatever goes with it).
    tables: the tables (paths relative to the run directory, glob patterns allowed) that
        ``sweep collect`` gathers across runs (:func:`collected_name` names them there).
    requires: the property a run's task must have for the study to apply (a task class attribute,
        e.g. ``recall`` for delayed recall, ``streaming`` for the binary tasks; "" for every task):
        a sweep spec asking for it on runs of another task is refused before anything runs.
    """

    output: str
    validate: Callable[[Mapping[str, Any], str], dict[str, Any]]
    is_current: Callable[[Path, Mapping[str, Any]], bool]
    run: Callable[[Path, Mapping[str, Any]], None]
    tables: tuple[str, ...] = ()
    requires: str = ""


def collected_name(sweep_name: str, table: str) -> str:
    """The name ``sweep collect`` gives a study's table: the file name, led by the study's sweep
    name unless it begins as that name does (its first five letters): ``timescales_summary.csv``,
    ``robustness_perturbation.csv``, but ``slow_points_summary.csv``, ``extrapolation.csv``."""
    name = Path(table).name
    return name if name[:5] == sweep_name[:5] else f"{sweep_name}_{name}"


@dataclass(frozen=True)
class Study:
    """What a study is, declared once in its module as ``STUDY`` (``rnn-timescales list``, the sweep,
    the report and the docs read it; docs/contracts.md, "Add a study").

    name: the command that runs it (``analyze``, ``slow-points``, ...), or its sweep name.
    summary: one line, what it computes.
    settings: the class of its validated settings (a dataclass or pydantic model), or None.
    outputs: the files it writes into its output directory (the names its module defines).
    figures: the figures it draws (file names, in ``outputs``' directory or its ``figures/``).
    report_section: the report's section that shows its tables ("" if none does yet).
    sweep_name, sweep: the name a sweep spec's ``analyze:`` uses, and how a sweep runs it on every
        finished run directory (None: it does not run in sweeps).
    no_sweep: why a sweep cannot run it on each finished run (when ``sweep`` is None), shown by
        ``rnn-timescales list`` and the docs' table.
    measures: it writes a column per registered measure (``analyze``).
    tiny: settings small enough for the common tests to run the study on a tiny network in seconds
        (scikit-learn's test parameters; merged over its defaults).
    """

    name: str
    summary: str
    settings: type | None
    outputs: tuple[str, ...]
    figures: tuple[str, ...] = ()
    report_section: str = ""
    sweep_name: str | None = None
    sweep: RunStudy | None = None
    no_sweep: str = ""
    measures: bool = False
    tiny: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """One line: the summary, and the sweep name if it has one (else why it has none)."""
        if self.sweep_name:
            return f"{self.summary} (sweep: analyze.{self.sweep_name})"
        return self.summary + (f" (no sweep: {self.no_sweep})" if self.no_sweep else "")
