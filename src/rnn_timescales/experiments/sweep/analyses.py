"""The studies a sweep can run on every finished run (a spec's ``analyze:`` names them).

They are the studies that declare how a sweep runs them (a ``Study`` with a ``sweep``
:class:`~rnn_timescales.studies.contract.RunStudy`, read by
:func:`rnn_timescales.studies.registry.sweep_analyses`): adding one is declaring it in its study
module, nothing here.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from rnn_timescales.studies.contract import RunStudy
from rnn_timescales.studies.registry import sweep_analyses

# The studies a sweep can run on every finished run, by the name a spec's ``analyze`` uses.
ANALYSES: Mapping[str, RunStudy] = MappingProxyType(sweep_analyses())
