"""The delay curriculum [H19] ("DeCu"): the longest delay T_max grows, the vocabulary stays whole.

Level ``max_delay`` (T_max of delayed recall): ``start`` (6), then ``increment`` (2) more at each
advance up to the task's own ``max_delay`` (20), after which nothing follows. Under
``advance: schedule`` with no steps given it follows the paper's MNIST schedule: T_max = 6 for the
first 20 000 steps, then 8, 10, ..., 18 in blocks of 10 000, and 20 from step 80 000.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from rnn_timescales.curricula.stepwise import StepwiseCurriculum


class DelayParams(BaseModel):
    """start: T_max of the first level; increment: added at each advance."""

    model_config = ConfigDict(extra="forbid")
    start: int = Field(6, ge=2)
    increment: int = Field(2, ge=1)


class DelayCurriculum(StepwiseCurriculum):
    """Delayed recall with a growing maximum delay T_max, by accuracy or the paper's step schedule ([H19])."""

    kind = "delay"
    level_name = "max_delay"
    requires = ("max_delay",)
    Params = DelayParams
    default_schedule = (20_000, 30_000, 40_000, 50_000, 60_000, 70_000, 80_000)
