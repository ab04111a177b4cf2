"""The shared test helpers: tests that need the paper's reference checkpoints fail in CI when
they are missing (a skip there would pass without checking anything) and skip elsewhere."""

import conftest
import pytest


def test_missing_reference_checkpoints_fail_in_ci_and_skip_elsewhere(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "REFERENCE_DIR", tmp_path / "missing")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        conftest.require_reference_checkpoints()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        conftest.require_reference_checkpoints()


def test_present_reference_checkpoints_are_returned(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "REFERENCE_DIR", tmp_path)
    assert conftest.require_reference_checkpoints() == tmp_path


def test_agrees_rounds_to_the_last_printed_digit():
    from conftest import agrees

    assert agrees("0.32", 0.32397) and not agrees("0.32", 0.3251)
    assert agrees("+0.000", -0.0004) and agrees("-0.002", -0.0021)
    assert agrees("4.7e-06", 4.74e-06) and not agrees("4.7e-06", 4.8e-06)  # not to 5 decimals
