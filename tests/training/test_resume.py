"""Resumable training: a run killed at any point and resumed ends exactly like the uninterrupted run.

The training processes are forked from a forkserver that has imported the package once, so each
one starts in milliseconds instead of paying torch's import time; they run the real command line
(``rnn_timescales.cli.main``) in a separate process that is killed with real signals.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import random
import signal
import time
from pathlib import Path

import pytest
from conftest import assert_same_run, tiny_overrides

from rnn_timescales.cli import main
from rnn_timescales.config import build_config
from rnn_timescales.training import loop as loop_module
from rnn_timescales.runs.state import load_state
from rnn_timescales.training.trainer import Trainer, resume, train

SETTINGS = tiny_overrides(hidden=16, batch=16, steps=10, eval_batches=2) + [
    "curriculum.threshold=0.65",  # low, so the curriculum advances (and writes checkpoints) within seconds
    "training.state_every_s=0.05",  # mid-epoch states too, so some kills resume inside an epoch
]
ARGS = ["train", "--no-progress", "--preset", "paper", "--seed", "5", "--max-epochs", "10"]
for _s in SETTINGS:
    ARGS += ["--set", _s]


@pytest.fixture(scope="module")
def fork():
    """Start CLI processes from a forkserver (one thread each, like every run compared here)."""
    old = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    ctx = multiprocessing.get_context("forkserver")
    # torch._dynamo is imported lazily by the first optimiser, and costs seconds: import it once.
    ctx.set_forkserver_preload(["rnn_timescales.cli", "rnn_timescales.training.trainer", "torch._dynamo"])

    def start(argv: list[str]) -> multiprocessing.Process:
        p = ctx.Process(target=main, args=([str(a) for a in argv],))
        p.start()
        return p

    yield start
    if old is None:
        os.environ.pop("OMP_NUM_THREADS", None)
    else:
        os.environ["OMP_NUM_THREADS"] = old


def _wait_for(path: Path, process: multiprocessing.Process, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        assert process.is_alive() or path.exists(), "training ended before writing its first state"
        assert time.monotonic() < end, f"{path} did not appear"
        time.sleep(0.01)


def test_killed_runs_resume_to_the_uninterrupted_result(tmp_path, fork):
    ref = tmp_path / "ref"
    p = fork(ARGS + ["--out", ref])
    p.join(120)
    reference = json.loads((ref / "summary.json").read_text())
    assert reference["stop_reason"] == "max_epochs" and reference["solved"], reference  # the curriculum moved
    duration = reference["wall_time_s"]

    rng = random.Random(1729)  # seeded: the kill delays (fractions of the run's duration) are the same every time
    # SIGKILL (nothing saved at the kill), SIGTERM (state saved after the current step), and a run
    # killed twice: the resumed process is killed again.
    plans = [[signal.SIGKILL], [signal.SIGTERM], [signal.SIGKILL, signal.SIGKILL]]
    for trial, kills in enumerate(plans):
        out = tmp_path / f"trial{trial}"
        argv = ARGS + ["--out", out]
        for k, sig in enumerate(kills):
            p = fork(argv)
            _wait_for(out / "state" / "epoch.safetensors", p)
            delay = rng.uniform(0.0, (0.8 if k == 0 else 0.3) * duration)
            time.sleep(delay)
            with contextlib.suppress(ProcessLookupError):  # a resumed run may finish first
                os.kill(p.pid, sig)
            p.join(60)
            argv = ["train", "--resume", out, "--no-progress"]
            summary = out / "summary.json"
            if sig == signal.SIGTERM and p.exitcode == 130:
                assert json.loads(summary.read_text())["stop_reason"] == "interrupted"
        p = fork(["train", "--resume", out, "--no-progress"])
        p.join(120)
        assert json.loads((out / "summary.json").read_text())["stop_reason"] == "max_epochs", (trial, delay)
        assert_same_run(ref, out)


def tiny(**kw):
    return build_config("paper", overrides=SETTINGS + [f"{k}={v}" for k, v in kw.items()])


def test_sigint_mid_epoch_saves_the_state_and_resume_is_exact(tmp_path, monkeypatch):
    config = tiny(seed=2, **{"training.max_epochs": 5, "training.state_every_s": "null"})
    reference = train(config, tmp_path / "ref", progress=False)
    calls = {"n": 0}
    step = loop_module.train_step

    def interrupted_step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 27:  # epoch 3, step 7
            os.kill(os.getpid(), signal.SIGINT)
        return step(*args, **kwargs)

    monkeypatch.setattr(loop_module, "train_step", interrupted_step)
    first = train(config, tmp_path / "run", progress=False)
    monkeypatch.setattr(loop_module, "train_step", step)
    assert first.stop_reason == "interrupted" and len(first.metrics) == 2
    saved = load_state(tmp_path / "run" / "state" / "step.safetensors")
    assert (saved.epoch, saved.step) == (2, 7)
    result = resume(tmp_path / "run", progress=False)
    assert result.stop_reason == "max_epochs"
    assert_same_run(tmp_path / "ref", tmp_path / "run")
    assert reference.stop_reason == "max_epochs"


def test_a_finished_run_can_be_extended_exactly(tmp_path, capsys):
    train(tiny(seed=4, **{"training.max_epochs": 5}), tmp_path / "ref", progress=False)
    train(tiny(seed=4, **{"training.max_epochs": 2}), tmp_path / "run", progress=False)
    assert main(["train", "--resume", str(tmp_path / "run"), "--no-progress"]) == 0
    assert "already stopped (max_epochs)" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "run"), "--max-epochs", "5", "--no-progress"]) == 0
    assert_same_run(tmp_path / "ref", tmp_path / "run", same_config=False)
    assert "max_epochs: 5" in (tmp_path / "run" / "config.yaml").read_text()


def _mtimes(run):
    return {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}


def test_resume_decides_as_the_sweep_does_and_a_finished_run_is_left_untouched(tmp_path, capsys):
    """train --resume asks decide_run (through decide_resume), as a sweep does: a run finished as
    asked is reused (nothing written, not even its summary), one a larger budget extends is resumed,
    and an imported run is never trained further."""
    from rnn_timescales.config import RunConfig, resume_config
    from rnn_timescales.runs.rundir import decide_resume, decide_run

    run = tmp_path / "run"
    train(tiny(seed=5, **{"training.max_epochs": 2}), run, progress=False)
    saved = RunConfig.load(run / "config.yaml")
    for overrides, action in (([], "reuse"), (["training.max_epochs=2"], "reuse"), (["training.max_epochs=3"], "resume")):
        decision = decide_resume(run, overrides)
        assert decision.action == action == decide_run(run, resume_config(saved, overrides)).action
    before = _mtimes(run)
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    assert "already stopped (max_epochs) after 2 epochs; nothing to train" in capsys.readouterr().err
    assert _mtimes(run) == before
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "stop_reason": "imported"}))
    before = _mtimes(run)
    assert decide_resume(run, ["training.max_epochs=9"]).action == "reuse"
    assert main(["train", "--resume", str(run), "--max-epochs", "9", "--no-progress"]) == 0
    assert "an imported run is not trained further" in capsys.readouterr().err and _mtimes(run) == before


def test_time_budget_counts_the_time_before_the_interruption(tmp_path):
    run = tmp_path / "run"
    first = train(tiny(**{"training.time_budget_s": 0.3, "training.max_epochs": 1000}), run, progress=False)
    assert first.stop_reason == "time_budget"
    trainer = Trainer.resume(run, progress=False)
    assert trainer.pending_stop_reason() == "time_budget" and trainer.elapsed_before > 0
    more = Trainer.resume(run, ["training.time_budget_s=0.6"], progress=False).run()
    assert more.stop_reason == "time_budget" and len(more.metrics) >= len(first.metrics)


def test_two_runs_given_the_same_generated_name_get_separate_directories(tmp_path):
    config = tiny(**{"training.max_epochs": 1})
    name = tmp_path / "runs" / "same-name"
    a = Trainer(config, name, progress=False, auto_name=True)
    b = Trainer(config, name, progress=False, auto_name=True)  # both chose the name before either ran
    ra, rb = a.run(), b.run()
    assert ra.run_dir != rb.run_dir and rb.run_dir.name == "same-name-2"
    assert (ra.run_dir / "summary.json").is_file() and (rb.run_dir / "summary.json").is_file()


def test_a_run_directory_in_use_is_refused(tmp_path):
    run = tmp_path / "run"
    train(tiny(**{"training.max_epochs": 1}), run, progress=False)
    holder = Trainer.resume(run, ["training.max_epochs=2"], progress=False)
    holder.run_directory.lock()  # as if another process were training it
    try:
        with pytest.raises(Exception, match="being trained by another process"):
            Trainer.resume(run, ["training.max_epochs=2"], progress=False).run()
    finally:
        holder.run_directory.release()


def test_readers_never_list_a_checkpoint_being_written(tmp_path):
    from rnn_timescales.runs.checkpoints import list_run_checkpoints

    run = tmp_path / "run"
    train(tiny(**{"training.max_epochs": 1}), run, progress=False)
    (run / "checkpoints" / ".rnn_N2_N9.safetensors.x1y2.tmp").write_bytes(b"half")
    listed = [p.name for p in list_run_checkpoints(run)]
    assert listed[0] == "init.safetensors" and not any(name.endswith(".tmp") for name in listed)


def test_resuming_a_finished_run_without_its_summary_writes_it(tmp_path):
    """Killed after its last training state but before summary.json: --resume trains nothing and
    writes the summary (and the final weights) the run would have written."""
    run = tmp_path / "run"
    train(tiny(**{"training.max_epochs": 2}), run, progress=False)
    expected = json.loads((run / "summary.json").read_text())
    (run / "summary.json").unlink()
    (run / "checkpoints" / "final.safetensors").unlink()
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    again = json.loads((run / "summary.json").read_text())
    for j in (expected, again):
        j.pop("wall_time_s"), j.pop("phase_times_s"), j.pop("sha256", None)  # the files' bytes: timings in the state
    assert again == expected and (run / "checkpoints" / "final.safetensors").is_file()


def test_a_run_drawing_its_time_scale_per_batch_resumes_exactly_after_a_kill(tmp_path, fork):
    """k drawn per batch from task.time_scale comes from the run's generator, which the training
    state holds: a run killed mid-way ends exactly like the uninterrupted one."""
    argv = ARGS + ["--set", "task.time_scale=[2,3,4]"]
    ref = tmp_path / "ref"
    p = fork(argv + ["--out", ref])
    p.join(120)
    reference = json.loads((ref / "summary.json").read_text())
    assert reference["stop_reason"] == "max_epochs" and reference["solved"], reference
    out = tmp_path / "killed"
    p = fork(argv + ["--out", out])
    _wait_for(out / "state" / "epoch.safetensors", p)
    time.sleep(random.Random(7).uniform(0.2, 0.6) * reference["wall_time_s"])
    with contextlib.suppress(ProcessLookupError):
        os.kill(p.pid, signal.SIGKILL)
    p.join(60)
    assert not (out / "summary.json").exists()  # killed before it finished
    p = fork(["train", "--resume", out, "--no-progress"])
    p.join(120)
    assert json.loads((out / "summary.json").read_text())["stop_reason"] == "max_epochs"
    assert_same_run(ref, out)
