"""Curricula (SPEC section 3): the state machines over a task level, their advance rules, and
their bookkeeping (checkpoint labels, head labels, state round trip)."""

from __future__ import annotations

import pytest

from rnn_timescales.config import CurriculumConfig
from rnn_timescales.curricula import CURRICULA, Curriculum, build_curriculum
from rnn_timescales.tasks import get_task


def make(task: str = "parity", **kw) -> Curriculum:
    return build_curriculum(CurriculumConfig(**kw), get_task(task))


def test_single_head_moves_one_head_to_next_n():
    c = make(kind="single")
    assert c.ns == [2] and c.n_heads == 1
    c.advance()
    c.advance()
    assert c.ns == [4] and c.n_heads == 1 and c.history == [{"ns": [2]}, {"ns": [3]}]


def test_multi_head_adds_heads():
    c = make(kind="multi")
    assert c.ns == [2]
    c.advance()
    assert c.ns == [2, 3]
    c2 = make(kind="multi", initial_heads=3, add_heads=2)
    assert c2.ns == [2, 3, 4]
    c2.advance()
    assert c2.ns == [2, 3, 4, 5, 6] and c2.n_heads == 5


def test_sliding_window_drops_smallest_and_adds_new():
    c = make(kind="sliding", window=4, forget=2)
    assert c.ns == [2, 3, 4, 5]
    c.advance()
    assert c.ns == [4, 5, 6, 7]  # head 0 now answers N = 4
    c.advance()
    assert c.ns == [6, 7, 8, 9] and c.n_heads == 4


def test_fixed_never_changes_and_finishes():
    c = make(kind="fixed", n_start=7)
    assert c.ns == [7]
    c.advance()
    assert c.finished and c.ns == [7] and c.history == [{"ns": [7]}]


def test_paper_rule_needs_mean_and_newest_above_threshold():
    c = make(kind="multi", initial_heads=3)
    assert c.solved([0.99, 0.99, 0.985])
    assert not c.solved([0.99, 0.99, 0.975])  # newest too low
    assert not c.solved([0.95, 1.0, 0.99])  # mean 0.98 is not above 0.98
    assert not c.solved([0.98, 0.98, 0.98])  # strictly greater
    with pytest.raises(ValueError):
        c.solved([0.99])


def test_other_rules_and_threshold():
    assert not make(kind="multi", initial_heads=2, rule="all").solved([0.97, 1.0])
    assert make(kind="multi", initial_heads=2, rule="mean").solved([0.97, 1.0])
    assert make(kind="single", threshold=0.9).solved([0.91])


def test_advance_by_accuracy_by_schedule_or_never():
    by_accuracy = make(kind="multi")
    assert by_accuracy.should_advance(True, 10) and not by_accuracy.should_advance(False, 10**6)
    scheduled = make(kind="multi", advance="schedule", schedule=[100, 250])
    assert not scheduled.should_advance(True, 99) and scheduled.should_advance(False, 100)
    scheduled.advance()
    assert not scheduled.should_advance(True, 249) and scheduled.should_advance(False, 300)
    scheduled.advance()
    assert not scheduled.should_advance(True, 10**6)  # the schedule is used up
    never = make(kind="multi", advance="never")
    assert not never.should_advance(True, 10**6)


def test_labels_values_and_targets():
    c = make(kind="multi", initial_heads=3)
    assert c.label(c.level) == "N2_N4" and c.level_name == "n_max" and c.level_value(c.level) == 4
    assert c.head_labels(c.level) == [2, 3, 4]
    assert not c.reached(4)
    c.advance()
    assert c.reached(4) and not c.reached(5)
    none = make("flipflop", kind="none")
    assert none.level == {} and none.n_heads == 3 and none.label(none.level) == "solved"
    none.advance()
    assert none.finished


def test_a_curriculum_over_n_refuses_a_task_without_n():
    with pytest.raises(ValueError, match="flipflop.*use 'none'"):
        make("flipflop", kind="multi")


def test_state_round_trip():
    c = make(kind="sliding", window=3, forget=1)
    c.advance()
    d = make(kind="sliding", window=3, forget=1)
    d.load_state_dict(c.state_dict())
    assert d.state_dict() == c.state_dict()
    d.advance()
    assert d.ns == [4, 5, 6]
    with pytest.raises(ValueError, match="not 'multi'"):
        make(kind="multi").load_state_dict(c.state_dict())


def test_the_registry_lists_every_kind():
    assert set(CURRICULA) >= {"single", "multi", "sliding", "fixed", "none"}
