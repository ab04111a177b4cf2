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
