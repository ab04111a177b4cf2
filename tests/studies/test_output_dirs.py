"""Every study's output directory goes through the one check of ``io`` (``OutputDir`` /
``check_output_dir``): ``timescales`` (recorded_timescales) as the others, with the same refusals."""

from __future__ import annotations

import pytest

from rnn_timescales.errors import ConfigError
from rnn_timescales.io import OutputDir
from rnn_timescales.studies import recorded_timescales as rt


def test_the_timescales_output_is_checked_by_the_common_check(tmp_path, monkeypatch):
    assert isinstance(rt.OUTPUT, OutputDir) and rt.OUTPUT.marker == rt.TABLE
    calls = []
    monkeypatch.setattr("rnn_timescales.io.check_output_dir", lambda out, what, **kw: calls.append((out, what)) or out)
    rt.check_out(tmp_path / "new")
    assert calls == [(tmp_path / "new", "timescales")]


def test_the_timescales_output_refuses_and_accepts_as_every_study(tmp_path):
    assert rt.check_out(tmp_path / "new") == tmp_path / "new" and not (tmp_path / "new").exists()  # nothing made
    (tmp_path / "empty").mkdir()
    rt.check_out(tmp_path / "empty")
    (tmp_path / "previous").mkdir()
    (tmp_path / "previous" / rt.TABLE).write_text("unit\n")
    rt.check_out(tmp_path / "previous")  # a previous result: replaced
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("mine")
    (tmp_path / "afile").write_text("a file")
    for path, message in ((tmp_path / "notes", "holds files that are not timescales; choose another --out"),
                          (tmp_path / "afile", "is a file; give a directory for the timescales"),
                          (tmp_path / "afile" / "under", "lies under")):
        with pytest.raises(ConfigError, match=message) as e:
            rt.check_out(path)
        assert "\n" not in str(e.value)
