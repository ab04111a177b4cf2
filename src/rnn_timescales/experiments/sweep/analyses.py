"""The studies a sweep can run on every finished run (a spec's ``analyze:`` names them).

Adding one is declaring a :class:`~rnn_timescales.studies.contract.RunStudy` in its study module
(``studies/analyze.py``'s ``RUN_STUDY`` is the example), one import and one entry here.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from rnn_timescales.studies import analyze as analyze_study
from rnn_timescales.studies import reproduction as reproduction_study
from rnn_timescales.studies.contract import RunStudy

SweepAnalysis = RunStudy  # the name this module used before studies declared their own

# The studies a sweep can run on every finished run, by the name a spec's ``analyze`` uses. Adding
# one is declaring a RunStudy in its study module and one entry here.
ANALYSES: Mapping[str, RunStudy] = MappingProxyType({
    "timescales": analyze_study.RUN_STUDY,
    "reproduction": reproduction_study.RUN_STUDY,
})

