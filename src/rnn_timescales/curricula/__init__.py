"""Curricula, registered by kind: small state machines over a task's level (see ``base.py``)."""

from __future__ import annotations

from rnn_timescales.curricula.base import ADVANCE, RULES, Curriculum, NoCurriculum
from rnn_timescales.curricula.delay import DelayCurriculum
from rnn_timescales.curricula.n_heads import Fixed, MultiHead, NCurriculum, SingleHead, SlidingWindow
from rnn_timescales.curricula.stepwise import StepwiseCurriculum
from rnn_timescales.curricula.vocabulary import VocabularyCurriculum
from rnn_timescales.registry import Registry

CURRICULA: Registry[type[Curriculum]] = Registry("curriculum", Curriculum, key="kind")
"""Curriculum kind -> class; ``curriculum.kind`` in a configuration must be one of these."""

register_curriculum = CURRICULA.register
register_curriculum(SingleHead)
register_curriculum(MultiHead)
register_curriculum(SlidingWindow)
register_curriculum(Fixed)
register_curriculum(NoCurriculum)
register_curriculum(VocabularyCurriculum)
register_curriculum(DelayCurriculum)


def build_curriculum(config, task) -> Curriculum:
    """The starting state of the curriculum a ``CurriculumConfig`` describes, over ``task``."""
    return CURRICULA.get(config.kind)(config, task)


__all__ = [
    "ADVANCE", "CURRICULA", "RULES", "Curriculum", "DelayCurriculum", "Fixed", "MultiHead", "NCurriculum",
    "NoCurriculum", "SingleHead", "SlidingWindow", "StepwiseCurriculum", "VocabularyCurriculum", "build_curriculum",
    "register_curriculum",
]
