"""The measures of ``analyze``: every module of this package declares some (a :class:`Measure`
registered with :func:`register_measure`), and this package loads them all, so a new measure is one
file here (docs/contracts.md, "Add a measure").

:data:`MEASURES` is the registry; :func:`measures` lists them in the order of the tables.
"""

from __future__ import annotations

import importlib
import pkgutil

from rnn_timescales.studies.measures.base import (
    MEASURES,
    REPORT_SECTION,
    STATISTICS,
    Measure,
    MeasureContext,
    measures,
    network_summary,
    neuron_table,
    register_measure,
    spread,
)

__all__ = ["MEASURES", "REPORT_SECTION", "STATISTICS", "Measure", "MeasureContext", "measures", "network_summary",
           "neuron_table", "register_measure", "spread"]


def _load_all() -> None:
    """Import every module of this package (the registry's own entry-point loading): each
    registers its measures."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")


_load_all()
