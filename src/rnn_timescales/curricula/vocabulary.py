"""The vocabulary curriculum [H19] ("VoCu"): the number of classes grows, the delays stay whole.

Level ``n_classes`` (the vocabulary of delayed recall, the null class included): ``start`` (3:
null and the first two labels), then ``increment`` (1) more at each advance up to the task's own
``n_classes`` (11), after which nothing follows. Classes not yet in the vocabulary are removed
from the softmax. Under ``advance: schedule`` with no steps given it follows the paper's MNIST
schedule: 4 classes from step 8 000, 5 from 16 000, 6 from 26 000, 7 from 36 000, 8 from 48 000,
9 from 62 000, 10 from 78 000 and 11 from 98 000.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from rnn_timescales.curricula.stepwise import StepwiseCurriculum


class VocabularyParams(BaseModel):
    """start: classes (null included) of the first level; increment: added at each advance."""

    model_config = ConfigDict(extra="forbid")
    start: int = Field(3, ge=2)
    increment: int = Field(1, ge=1)


class VocabularyCurriculum(StepwiseCurriculum):
    """Delayed recall with a growing number of classes, by accuracy or the paper's step schedule ([H19])."""

    kind = "vocabulary"
    level_name = "n_classes"
    requires = ("n_classes",)
    Params = VocabularyParams
    default_schedule = (8_000, 16_000, 26_000, 36_000, 48_000, 62_000, 78_000, 98_000)
