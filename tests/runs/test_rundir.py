"""The one new/resume/reuse decision for a run directory (runs.rundir.decide_run)."""

from __future__ import annotations

import json

import pytest

from rnn_timescales.config import build_config
from rnn_timescales.errors import ConfigError
from rnn_timescales.runs.rundir import FINAL_STOPS, decide_run


def _run(tmp_path, stop_reason=None, overrides=()):
    config = build_config("quick", overrides=["model.hidden_size=8", *overrides])
    run = tmp_path / "run"
    run.mkdir()
    config.save(run / "config.yaml")
    if stop_reason is not None:
        (run / "summary.json").write_text(json.dumps({"stop_reason": stop_reason}))
    return run, config


def test_a_missing_directory_is_new(tmp_path):
    assert decide_run(tmp_path / "none", build_config("quick")).action == "new"


@pytest.mark.parametrize("reason", ["target_n", "target_level", *FINAL_STOPS])  # target_level: delay, vocabulary
def test_a_run_that_did_what_it_was_asked_is_reused(tmp_path, reason):
    run, config = _run(tmp_path, reason)
    assert decide_run(run, config).action == "reuse"


@pytest.mark.parametrize("reason", [None, "interrupted"])
def test_an_unfinished_run_is_resumed(tmp_path, reason):
    run, config = _run(tmp_path, reason)
    assert decide_run(run, config).action == "resume"


def test_a_larger_budget_resumes_a_finished_run_and_says_what_changed(tmp_path):
    run, _ = _run(tmp_path, "max_epochs", ["training.max_epochs=5"])
    decision = decide_run(run, build_config("quick", overrides=["model.hidden_size=8", "training.max_epochs=9"]))
    assert decision.action == "resume" and "training.max_epochs" in str(decision.changes)


def test_another_configuration_is_refused_in_the_callers_words(tmp_path):
    run, _ = _run(tmp_path, "max_epochs")
    with pytest.raises(ConfigError, match="hidden_size"):
        decide_run(run, build_config("quick", overrides=["model.hidden_size=16"]),
                   different=lambda diff: ConfigError(f"made otherwise: {diff}"))


def test_how_far_a_run_got_reads_its_n_else_its_level():
    from rnn_timescales.runs.rundir import solved_text

    assert solved_text({"n_max_solved": 17, "level_name": None}) == "N = 17"
    # [H19]'s DeCu on its schedule: no N, its last level advanced from (T_max 18; it ended training at 20)
    assert solved_text({"n_max_solved": None, "level_name": "max_delay", "level_solved": 18}) == "max_delay 18 passed"
    assert solved_text({"n_max_solved": None, "level_name": "max_delay", "level_solved": None}) == "nothing solved"
    assert solved_text({}) == "nothing solved"
