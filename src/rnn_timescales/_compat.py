"""Import paths the README documented before the layout of issue 22, kept working.

One table maps each old module name to the module that now holds its contents; a finder on
``sys.meta_path`` (installed by ``rnn_timescales/__init__.py``) answers an import of an old name
with the new module, lazily, so nothing is imported until asked for and no file is left at the
old path. New code imports the new paths.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType

MOVED = {
    "rnn_timescales.training.checkpoints": "rnn_timescales.runs",
    "rnn_timescales.evaluation": "rnn_timescales.studies.evaluate",
    "rnn_timescales.analysis.report": "rnn_timescales.studies.analyze",
    "rnn_timescales.analysis.slow_point_report": "rnn_timescales.studies.slow_points",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the old names of :data:`MOVED` and loads them as the new modules."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec) -> ModuleType:
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module: ModuleType) -> None:
        pass  # already executed under its new name


def install() -> None:
    """Put the finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
        sys.meta_path.append(_MovedModules())
