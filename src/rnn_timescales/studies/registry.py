"""Every study of the package, read from the ``STUDY`` its module declares
(:class:`~rnn_timescales.studies.contract.Study`): ``rnn-timescales list``, the sweep's analyses
and the docs are generated from :func:`all_studies`, so a new study is one module here."""

from __future__ import annotations

import importlib
import pkgutil

from rnn_timescales.studies.contract import RunStudy, Study


def all_studies() -> dict[str, Study]:
    """Name -> :class:`Study` of every module of :mod:`rnn_timescales.studies` that declares one,
    by module name (the registry's own entry-point loading: each module is imported here)."""
    from rnn_timescales import studies

    found: dict[str, Study] = {}
    for info in sorted(pkgutil.iter_modules(studies.__path__), key=lambda i: i.name):
        if info.ispkg or info.name in ("contract", "registry"):
            continue
        study = getattr(importlib.import_module(f"{studies.__name__}.{info.name}"), "STUDY", None)
        if isinstance(study, Study):
            if study.name in found:
                raise ValueError(f"two studies are named {study.name!r}")
            found[study.name] = study
    return found


def sweep_analyses() -> dict[str, RunStudy]:
    """The studies a sweep can run on every finished run, by the name a spec's ``analyze:`` uses."""
    return {s.sweep_name: s.sweep for s in all_studies().values() if s.sweep is not None and s.sweep_name}


def _first_line(cls: type) -> str:
    doc = (cls.__doc__ or "").strip()
    return doc.split("\n\n")[0].replace("\n", " ").strip() if doc else ""


def registry_lines(kind: str) -> list[tuple[str, str]]:
    """(name, one line) of everything registered of ``kind``: ``studies``, ``measures``, ``tasks``,
    ``models`` or ``curricula``."""
    if kind == "studies":
        return [(name, study.describe() + (f"; writes {', '.join(study.outputs)}" if study.outputs else ""))
                for name, study in all_studies().items()]
    if kind == "measures":
        from rnn_timescales.studies.measures import measures

        return [(m.name, m.describe()) for m in measures()]
    if kind == "tasks":
        from rnn_timescales.tasks import TASKS as registry
    elif kind == "models":
        from rnn_timescales.models import MODELS as registry
    elif kind == "curricula":
        from rnn_timescales.curricula import CURRICULA as registry
    else:
        raise ValueError(f"unknown kind {kind!r}; choose from studies, measures, tasks, models, curricula")
    return [(name, _first_line(registry.get(name))) for name in registry]


def measures_markdown() -> str:
    """The docs' table of ``analyze``'s columns, one row per registered measure."""
    from rnn_timescales.studies.measures import measures

    rows = ["| column | per | label | unit | definition | summary.csv columns |", "| --- | --- | --- | --- | --- | --- |"]
    for m in measures():
        summary = m.columns()[1:] if m.per == "neuron" else m.columns()
        rows.append(f"| `{m.name}` | {m.per} | {m.label} | {m.unit or '–'} | {m.definition} | "
                    f"{', '.join(f'`{c}`' for c in summary) or '–'} |")
    return "\n".join(rows)


def studies_markdown() -> str:
    """The docs' table of studies: command, what it computes, files, figures, report section, sweep name."""
    rows = ["| study | computes | writes | figures | report section | sweep |", "| --- | --- | --- | --- | --- | --- |"]
    for name, s in all_studies().items():
        rows.append(f"| `{name}` | {s.summary} | {', '.join(f'`{o}`' for o in s.outputs) or '–'} | "
                    f"{', '.join(f'`{f}`' for f in s.figures) or '–'} | {s.report_section or '–'} | "
                    f"{_sweep_cell(s)} |")
    return "\n".join(rows)


def _sweep_cell(s: Study) -> str:
    if not s.sweep_name:
        return f"– ({s.no_sweep})" if s.no_sweep else "–"
    needs = f" ({s.sweep.requires} tasks: {', '.join(tasks_with(s.sweep.requires))})" if s.sweep.requires else ""
    return f"`analyze.{s.sweep_name}`{needs}"


def tasks_with(requires: str) -> list[str]:
    """The registered tasks that have the property ``requires`` (a task class attribute, e.g.
    ``recall``); every task for ""."""
    from rnn_timescales.tasks import TASKS

    return [name for name in TASKS if not requires or getattr(TASKS.get(name), requires, False)]


def report_entries() -> list[tuple[str, str, str, str | None]]:
    """What the report shows, from the registry: (section, ``study`` or ``measure``, name, panel)
    for every study with a report section and every measure (its panel: the figure that draws it,
    None for a panel of its own, ``""`` for none), in the registry's order. The report's program
    reads its sections from here (``experiments/report/page.py``'s ``panel_measures`` draws the
    measures without a figure of their own)."""
    from rnn_timescales.studies.measures import measures

    entries: list[tuple[str, str, str, str | None]] = [
        (s.report_section, "study", name, None) for name, s in all_studies().items() if s.report_section]
    entries += [(m.section, "measure", m.name, m.panel) for m in measures()]
    return entries
