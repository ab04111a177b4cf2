"""``report`` on a run whose metrics.csv was cut short (issue 32): one warning line on stderr and
on the page; the complete rows are shown."""

from __future__ import annotations

from sweep_testing import train_directly

from rnn_timescales.cli import main
from rnn_timescales.config import build_config


def test_a_truncated_metrics_file_is_said_on_stderr_and_on_the_page(tmp_path, capsys):
    overrides = [f"{k}={v}" for k, v in {"model.hidden_size": 16, "model.n_heads": 8, "training.batch_size": 16,
                                          "training.steps_per_epoch": 5, "training.eval_batches": 1,
                                          "training.max_epochs": 3, "device": "cpu"}.items()]
    run = train_directly(build_config("paper", overrides=overrides), tmp_path / "run")
    metrics = run / "metrics.csv"
    text = metrics.read_text()
    metrics.write_text(text[: text.rindex("\n", 0, len(text) - 1) + 8])  # the last row cut after 7 characters
    capsys.readouterr()
    assert main(["report", str(run)]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert err == [f"rnn-timescales: warning: {metrics}: truncated (2 complete rows of the 3 epochs its summary.json "
                   "counts); the report shows the rows it has"]
    page = (run / "report" / "index.html").read_text()
    assert f"{metrics}: truncated (2 complete rows of the 3 epochs" in page

