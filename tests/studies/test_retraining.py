"""The training kinds of ``rnn-timescales robustness``: retraining a changed network, continuing a
curriculum, transfer between parity and DMS. Configurations on hand-made levels; the runs on tiny
networks (a few training steps each); reuse and exact resumption of their run directories; the
command line end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from rnn_timescales.studies.retraining import (
    PlannedRun,
    TrainingPlan,
    continuation_config,
    continuation_sweep,
    epochs_per_level,
    next_level,
    retrain_changes,
    retrain_config,
    retrain_summary,
    retrain_sweep,
    starting_at,
    transfer_config,
    transfer_sweep,
)
from rnn_timescales.cli import main
from rnn_timescales.config import build_config
from rnn_timescales.models import LeakyRNN, build_model
from rnn_timescales.tasks import build_task
from rnn_timescales.runs import LoadedCheckpoint, load_any
from rnn_timescales.training.steps import accuracy
from rnn_timescales.training.trainer import train

TINY = ("training.batch_size=16", "training.steps_per_epoch=3", "training.eval_batches=2")


def _ckpt(curriculum="multi", ns=(2, 3, 4), task="parity", hidden=12, extra=()) -> LoadedCheckpoint:
    config = build_config("paper", overrides=[f"task.name={task}", f"curriculum.kind={curriculum}",
                                              f"model.hidden_size={hidden}", "model.n_heads=12", "seed=3",
                                              f"curriculum.n_start={ns[0]}", *extra])
    model = build_model(config)
    with torch.no_grad():
        model.tau.copy_(1.0 + 3 * torch.rand(hidden, generator=torch.Generator().manual_seed(1)))
    return LoadedCheckpoint(model=model.eval(), config=config, level={"ns": list(ns)}, path=Path("tiny"))


def _plan(**kw) -> TrainingPlan:
    return TrainingPlan(overrides=TINY, **kw)


# --- configurations -----------------------------------------------------------------------------------
def _start(config):
    from rnn_timescales.curricula import build_curriculum

    return build_curriculum(config.curriculum, build_task(config.task)).level["ns"]


@pytest.mark.parametrize("curriculum, level, following", [
    ("multi", [2, 3, 4, 5], [2, 3, 4, 5, 6]),
    ("single", [7], [8]),
    ("sliding", list(range(4, 14)), list(range(9, 19))),
])
def test_a_curriculum_starts_at_any_of_its_levels_and_moves_on_from_there(curriculum, level, following):
    config = _ckpt(curriculum, level).config
    assert _start(starting_at(config, {"ns": level})) == level
    assert next_level(config, {"ns": level})["ns"] == following


def test_levels_a_curriculum_cannot_start_at_or_leave_are_refused():
    with pytest.raises(ValueError, match="no level after N = \\[5\\]"):
        next_level(_ckpt("fixed", [5]).config, {"ns": [5]})
    with pytest.raises(ValueError, match="cannot start at N = \\[2, 3, 4\\]"):
        starting_at(_ckpt("sliding", list(range(2, 12))).config, {"ns": [2, 3, 4]})  # a window of 10
    flipflop = build_config("paper", overrides=["task.name=flipflop"])
    with pytest.raises(ValueError, match="curriculum over N"):
        starting_at(flipflop, {"ns": [2]})


def test_configurations_take_the_preset_epochs_and_the_analysis_stopping_rules():
    ckpt = _ckpt("multi", [2, 3, 4], extra=["training.time_budget_s=540", "training.target_n=4"])
    plan = TrainingPlan(new_n=3, time_budget_s=60.0, overrides=("optimizer.lr=0.01",))
    c = continuation_config(ckpt, plan)
    assert _start(c) == [2, 3, 4, 5] and c.curriculum.advance == "accuracy"
    t = c.training
    assert (t.steps_per_epoch, t.eval_batches, t.batch_size) == (100, 10, 256)  # the quick preset's epochs
    assert (t.max_epochs, t.target_n, t.time_budget_s) == (100, 7, 60.0)
    assert c.optimizer.lr == 0.01 and c.seed == 3 and c.device == "cpu"
    r = retrain_config(ckpt, TrainingPlan(preset="paper"))
    assert _start(r) == [2, 3, 4] and r.curriculum.advance == "never"
    assert (r.training.max_epochs, r.training.target_n, r.training.time_budget_s) == (20, None, None)
    assert (r.training.steps_per_epoch, r.training.eval_batches) == (600, 50)
    assert retrain_config(ckpt, TrainingPlan(epochs=7)).training.max_epochs == 7


def test_transfer_goes_to_the_other_task_from_n2_with_the_task_settings_kept():
    ckpt = _ckpt("multi", [2, 3, 4, 5, 6, 7], extra=["task.time_scale=[2,3]"])
    c = transfer_config(ckpt, TrainingPlan(new_n=4))
    assert c.task.name == "dms" and c.task.params["time_scale"] == [2, 3]
    assert _start(c) == [2] and c.training.target_n == 5 and c.curriculum.kind == "multi"
    back = transfer_config(_ckpt("single", [9], task="dms"), TrainingPlan())
    assert back.task.name == "parity" and _start(back) == [2] and back.training.target_n == 6
    sliding = transfer_config(_ckpt("sliding", list(range(5, 15))), TrainingPlan(new_n=5))
    assert _start(sliding) == list(range(2, 12)) and sliding.training.target_n == 15
    assert _start(transfer_config(_ckpt("fixed", [6]), TrainingPlan())) == [6]  # a fixed network keeps its N
    with pytest.raises(ValueError, match="must differ"):
        transfer_config(ckpt, TrainingPlan(), task="parity")
    with pytest.raises(ValueError, match="transfer is between parity and dms"):
        transfer_config(ckpt, TrainingPlan(), task="flipflop")


def test_bad_plans_are_refused():
    for kw, match in (({"preset": "fast"}, "preset"), ({"epochs": 0}, "epochs"), ({"new_n": 0}, "new_n"),
                      ({"time_budget_s": 0.0}, "time budget"), ({"overrides": ("lr",)}, "section.key=value")):
        with pytest.raises(ValueError, match=match):
            TrainingPlan(**kw)
    with pytest.raises(ValueError, match="> 0"):
        retrain_changes([0.0])


# --- tables from metrics ---------------------------------------------------------------------------------
def test_epochs_per_level_counts_the_epochs_of_each_level():
    metrics = pd.DataFrame({"epoch": range(1, 8), "n_min": [2, 2, 2, 2, 2, 2, 2], "n_max": [2, 3, 3, 3, 4, 5, 5],
                            "solved": [True, False, False, True, True, False, False]})
    levels = epochs_per_level(metrics)
    assert levels[["n", "epochs", "epochs_total", "solved"]].values.tolist() == [
        [2, 1, 1, True], [3, 3, 4, True], [4, 1, 5, True], [5, 2, 7, False]]
    sliding = pd.DataFrame({"epoch": [1, 2, 3], "n_min": [2, 2, 7], "n_max": [11, 11, 16], "solved": [False, True, False]})
    assert epochs_per_level(sliding)[["n_min", "n", "epochs"]].values.tolist() == [[2, 11, 2], [7, 16, 1]]
    assert epochs_per_level(metrics.iloc[:0]).empty


def test_retrain_summary_reads_accuracy_after_the_budget_and_epochs_to_recover():
    rows = []
    for change, solved in (("none", [True, True, True]), ("w", [False, False, True]), ("tau", [False, False, False])):
        rows += [{"change": change, "epsilon": 0.1, "group": "", "draw": 0, "epoch": e, "accuracy_mean": 0.6 + 0.1 * e,
                  "accuracy_newest": 0.5 + 0.1 * e, "solved": s} for e, s in enumerate(solved)]
    s = retrain_summary(pd.DataFrame(rows)).set_index("change")
    assert s.loc["none", "epochs_to_recover"] == 0 and s.loc["w", "epochs_to_recover"] == 2
    assert s.loc["tau", "epochs_to_recover"] == 2 and not s.loc["tau", "recovered"]  # capped at the budget
    assert s.loc["w", "accuracy_before"] == pytest.approx(0.6) and s.loc["w", "accuracy_after"] == pytest.approx(0.8)
    assert s.loc["w", "newest_after"] == pytest.approx(0.7) and (s["epochs"] == 2).all()


# --- runs ----------------------------------------------------------------------------------------------
def test_retraining_starts_each_run_from_its_changed_network(tmp_path):
    ckpt = _ckpt()
    changes = retrain_changes([0.5], [0.2], ["long"], draws=2)
    assert [c.label for c in changes] == ["none", "w0.5-d0", "w0.5-d1", "tau0.2-d0", "tau0.2-d1", "ablation-long"]
    table = retrain_sweep(ckpt, tmp_path, changes, plan=_plan(epochs=2), name="net", ablation={"long": [1, 4]})
    assert len(table) == len(changes) * 3 and set(table["epoch"]) == {0, 1, 2} and (table["n_max"] == 4).all()
    runs = table.groupby("run", sort=False)
    assert len(runs) == len(changes)
    w = ckpt.model.recurrent_weight()
    for (run, g), change in zip(runs, changes):
        assert Path(run).name == f"retrain_net_N4_{change.label}"
        init = load_file(Path(run) / "checkpoints" / "init.safetensors")
        start = LeakyRNN(12, n_heads=12)
        start.load_state_dict(init)
        if change.kind == "none":
            assert all(torch.equal(init[k], v) for k, v in ckpt.model.state_dict().items())
        elif change.kind == "w":
            dw = torch.linalg.matrix_norm(start.recurrent_weight() - w) / torch.linalg.matrix_norm(w)
            assert dw.item() == pytest.approx(0.5, rel=1e-5) and torch.equal(init["tau"], ckpt.model.tau.detach())
        elif change.kind == "tau":
            assert (init["tau"] >= ckpt.model.tau.detach()).all() and not torch.equal(init["tau"], ckpt.model.tau.detach())
        else:
            assert (init["recurrent.weight"][[1, 4]] == 0).all() and (init["readout.weight"][..., [1, 4]] == 0).all()
            assert g["neurons"].iloc[0] == "1 4"
        # epoch 0 is the changed network, measured the way the trainer measures an epoch
        config = retrain_config(ckpt, _plan(epochs=2))
        before = accuracy(start.eval(), build_task(config.task), {"ns": [2, 3, 4]}, 2, 16,
                          torch.Generator().manual_seed(_before_seed()), "cpu")
        assert g.loc[g["epoch"] == 0, "accuracy_mean"].item() == pytest.approx(before.mean().item())
        metrics = pd.read_csv(Path(run) / "metrics.csv")
        assert g.loc[g["epoch"] > 0, "accuracy_mean"].tolist() == pytest.approx(metrics["accuracy_mean"].tolist())
    draws = table[table["change"] == "w"].groupby("draw")["accuracy_mean"].first()
    assert len(draws) == 2


def _before_seed() -> int:
    from rnn_timescales.analysis.robustness.streams import derived_seed

    return derived_seed(0, "retrain/before")


def test_a_finished_run_is_reused_an_interrupted_one_resumed_and_another_refused(tmp_path):
    ckpt = _ckpt()
    state = {k: v.clone() for k, v in ckpt.model.state_dict().items()}
    plan = _plan(epochs=2)
    config = retrain_config(ckpt, plan)
    first = PlannedRun(config, tmp_path / "a", state).check()
    assert first.status == "new"
    metrics = first.run()
    stamp = (tmp_path / "a" / "metrics.csv").stat().st_mtime_ns
    again = PlannedRun(config, tmp_path / "a", state).check()
    assert again.status == "existing"
    pd.testing.assert_frame_equal(again.run(), metrics)
    assert (tmp_path / "a" / "metrics.csv").stat().st_mtime_ns == stamp  # read back, not trained again
    # a larger budget resumes the run exactly: the same as a run trained with it from the start
    longer = retrain_config(ckpt, _plan(epochs=4))
    resumed = PlannedRun(longer, tmp_path / "a", state).check().run()
    fresh = PlannedRun(longer, tmp_path / "b", state).check().run()
    drop = ["wall_time_s", "epoch_time_s"]
    pd.testing.assert_frame_equal(resumed.drop(columns=drop), fresh.drop(columns=drop))
    # and a smaller one reads the first epochs of it
    pd.testing.assert_frame_equal(PlannedRun(config, tmp_path / "b", state).check().run().drop(columns=drop),
                                  metrics.drop(columns=drop))
    with pytest.raises(ValueError, match="other settings \\(training.batch_size: 16 there, 32 now\\)"):
        PlannedRun(retrain_config(ckpt, TrainingPlan(epochs=2, overrides=TINY + ("training.batch_size=32",))),
                   tmp_path / "a", state).check()
    other = {k: v + 1 if k == "tau" else v for k, v in state.items()}
    with pytest.raises(ValueError, match="started from another network"):
        PlannedRun(config, tmp_path / "a", other).check()
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="already holds files"):
        PlannedRun(config, tmp_path / "c", state).check()


def test_a_run_killed_before_its_first_state_restarts_from_its_network(tmp_path):
    ckpt = _ckpt()
    state = {k: v.clone() for k, v in ckpt.model.state_dict().items()}
    config = retrain_config(ckpt, _plan(epochs=1))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text(config.to_yaml())  # what a kill after claiming leaves
    run = PlannedRun(config, tmp_path / "run", state).check()
    assert run.status == "existing"
    run.run()
    init = load_file(tmp_path / "run" / "checkpoints" / "init.safetensors")
    assert all(torch.equal(init[k], v) for k, v in state.items())


def test_continuation_and_transfer_count_epochs_per_level(tmp_path):
    ckpt = _ckpt(ns=(2, 3))
    cont = continuation_sweep(ckpt, tmp_path, plan=_plan(epochs=3, new_n=2), name="net")
    assert (cont["source"] == "continued").all() and cont["n"].iloc[0] == 4 and (cont["n_start"] == 3).all()
    assert Path(cont["run"].iloc[0]).name == "continuation_net_N3"
    metrics = pd.read_csv(tmp_path / "continuation_net_N3" / "metrics.csv")
    assert metrics["n_max"].iloc[0] == 4 and metrics["n_heads"].iloc[0] == 3 and len(metrics) <= 3
    levels = epochs_per_level(metrics)
    assert cont[["n", "epochs", "solved"]].values.tolist() == levels[["n", "epochs", "solved"]].values.tolist()
    assert cont["epochs"].sum() == len(metrics)
    trans = transfer_sweep(ckpt, tmp_path, plan=_plan(epochs=2, new_n=1), name="net")
    assert set(trans["start"]) == {"transferred", "fresh"} and (trans["target_task"] == "dms").all()
    runs = {s: Path(r) for s, r in trans.groupby("start")["run"].first().items()}
    fresh = load_file(runs["fresh"] / "checkpoints" / "init.safetensors")
    seed_net = build_model(transfer_config(ckpt, _plan())).state_dict()
    assert all(torch.equal(fresh[k], v) for k, v in seed_net.items())  # a fresh network of the same seed
    moved = load_file(runs["transferred"] / "checkpoints" / "init.safetensors")
    assert all(torch.equal(moved[k], v) for k, v in ckpt.model.state_dict().items())
    assert "task:\n  name: dms" in (runs["fresh"] / "config.yaml").read_text()


# --- the command line ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("trained") / "run"
    config = build_config("paper", overrides=["model.hidden_size=12", "training.batch_size=16",
                                              "training.steps_per_epoch=4", "training.eval_batches=2", "device=cpu",
                                              "curriculum.threshold=0.5", "training.max_epochs=2", "seed=3"])
    assert train(config, run, progress=False).solved == [[2], [2, 3]]
    return run


def test_cli_trains_retrain_continuation_and_transfer_and_reuses_them(tiny_run, tmp_path, capsys):
    argv = ["robustness", str(tiny_run), "--kind", "retrain", "--kind", "continuation", "--kind", "transfer",
            "--epochs", "2", "--new-n", "1", "--retrain-w", "0.3", "--retrain-ablate", "random", "--ablate-count", "2",
            "--out", str(tmp_path), "--no-progress", "--json"] + [a for s in TINY for a in ("--set", s)]
    assert main(argv) == 0
    out = tmp_path / "robustness"
    summary = json.loads(capsys.readouterr().out)
    assert set(summary) >= {"retrain", "continuation", "transfer"}
    for name in ("retrain.csv", "retrain_summary.csv", "continuation.csv", "transfer.csv", "retrain.png",
                 "continuation.png", "transfer.png", "summary.json"):
        assert (out / name).stat().st_size > 0, name
    r = pd.read_csv(out / "retrain.csv")
    assert set(r["change"]) == {"none", "w", "ablation"} and set(r["epoch"]) == {0, 1, 2}
    assert {"network", "curriculum", "task", "accuracy_mean", "solved", "run"} <= set(r.columns)
    s = pd.read_csv(out / "retrain_summary.csv")
    assert {"accuracy_before", "accuracy_after", "epochs_to_recover", "recovered"} <= set(s.columns) and len(s) == 3
    c = pd.read_csv(out / "continuation.csv")
    assert set(c["source"]) == {"original", "continued"} and c.loc[c["source"] == "original", "n"].tolist() == [2, 3]
    t = pd.read_csv(out / "transfer.csv")
    assert set(t["start"]) == {"transferred", "fresh"} and (t["task"] == "parity").all()
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert runs == ["continuation_run_N3", "retrain_run_N3_ablation-random", "retrain_run_N3_none",
                    "retrain_run_N3_w0.3-d0", "transfer_run_N3_dms_fresh", "transfer_run_N3_dms_transferred"]
    stamps = {p: (out / "runs" / p / "metrics.csv").stat().st_mtime_ns for p in runs}
    assert main(argv) == 0  # everything reused
    assert {p: (out / "runs" / p / "metrics.csv").stat().st_mtime_ns for p in runs} == stamps
    pd.testing.assert_frame_equal(pd.read_csv(out / "retrain.csv"), r)
    assert load_any(out / "runs" / "retrain_run_N3_none").n_max == 3  # a run directory like any other


def test_a_signal_stops_the_retraining_study_and_running_it_again_finishes_it_exactly(tiny_run, tmp_path,
                                                                                      monkeypatch, capsys):
    """SIGINT (or SIGTERM) in the middle of the first retraining run stops the whole study with exit
    130 (nothing written, no later run started); the second call resumes to the uninterrupted result."""
    import os
    import signal

    import rnn_timescales.training.loop as loop_module

    def argv(out):
        return ["robustness", str(tiny_run), "--kind", "retrain", "--epochs", "2", "--retrain-w", "0.3",
                "--out", str(out), "--no-progress"] + [a for s in TINY for a in ("--set", s)]

    assert main(argv(tmp_path / "ref")) == 0
    step, calls = loop_module.train_step, {"n": 0}

    def interrupted_step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the first run (the unchanged network), epoch 1, step 2
            os.kill(os.getpid(), signal.SIGINT)
        return step(*args, **kwargs)

    monkeypatch.setattr(loop_module, "train_step", interrupted_step)
    assert main(argv(tmp_path / "cut")) == 130
    assert "interrupted" in capsys.readouterr().err
    out = tmp_path / "cut" / "robustness"
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["retrain_run_N3_none"]
    assert not (out / "retrain.csv").exists()
    monkeypatch.setattr(loop_module, "train_step", step)
    assert main(argv(tmp_path / "cut")) == 0
    drop = ["run"]
    pd.testing.assert_frame_equal(pd.read_csv(out / "retrain.csv").drop(columns=drop),
                                  pd.read_csv(tmp_path / "ref" / "robustness" / "retrain.csv").drop(columns=drop))
