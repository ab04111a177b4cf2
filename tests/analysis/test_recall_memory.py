"""[H19]'s memory analysis of delayed recall and speed regularisation: hand-made cases, the
regulariser's gradient, lambda = 0, resumption, and the two commands end to end on tiny networks."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import tiny_overrides

from rnn_timescales.analysis import recall_memory as rm
from rnn_timescales.analysis.extrapolation import recall_by_delay
from rnn_timescales.dynamics.slow_points import find_slow_points
from rnn_timescales.cli import main
from rnn_timescales.config import build_config
from rnn_timescales.models import build_model
from rnn_timescales.tasks import build_task
from rnn_timescales.runs import load_any, load_checkpoint
from rnn_timescales.training.regularizers import SpeedRegularizer, build_regularizer
from rnn_timescales.training.steps import batch_loss, train_step
from rnn_timescales.training.trainer import resume, train

RECALL = ["task.name=delayed-recall", "device=cpu"]


def _config(*extra: str, hidden: int = 6):
    return build_config("quick", overrides=tiny_overrides(hidden=hidden, batch=16, steps=2, eval_batches=1)
                        + RECALL + list(extra))


def _model_and_task(hidden: int = 6, model: str = "gru"):
    config = _config(f"model.type={model}", hidden=hidden)
    task = build_task(config.task)
    return build_model(config, task), task, config


# --- the pieces, by hand -----------------------------------------------------------------------
def test_centres_of_mass_hand_made():
    states = torch.tensor([[1.0, 0.0], [2.0, 2.0], [3.0, 4.0], [5.0, -1.0]])
    labels = torch.tensor([1, 2, 1, 3])
    centres, counts = rm.centres_of_mass(states, labels, n_classes=5)
    assert counts.tolist() == [2, 1, 1, 0]
    assert torch.equal(centres, torch.tensor([[2.0, 2.0], [2.0, 2.0], [5.0, -1.0], [0.0, 0.0]]))


def test_memory_state_is_the_state_the_response_step_starts_from():
    states = torch.arange(5 * 2 * 1, dtype=torch.float32).view(5, 2, 1)  # (time, trials, state)
    picked = rm.memory_states(states, torch.tensor([4, 1]))
    assert picked[:, 0].tolist() == [states[3, 0, 0].item(), states[0, 1, 0].item()]


def test_rest_input_is_the_noise_mean_with_the_trigger_off_or_on():
    _, task, _ = _model_and_task()
    mean, _ = task.noise_stats()
    off, on = rm.rest_input(task), rm.rest_input(task, trigger=True)
    assert off.shape == (65,) and torch.allclose(off[:-1], torch.full((64,), mean)) and off[-1] == 0 and on[-1] == 1


def test_seeds_follow_the_recipe_step_by_step():
    """class_seeds against the recipe written out one trial and one step at a time: the image at
    step 0, then the same noise frames for every trial (a third of the noise s.d.), the trigger off;
    the readout one step later with the trigger on; the mean over the trials read out correctly."""
    torch.manual_seed(0)
    model, task, _ = _model_and_task()
    with torch.no_grad():
        model.readout.weight.mul_(20)  # a readout decisive enough that some trials are read out correctly
    level = {"n_classes": 4, "max_delay": 20}
    steps, per_class = 5, 12
    seeds = rm.class_seeds(model, task, level, steps, per_class, 1 / 3, torch.Generator().manual_seed(3))

    gen = torch.Generator().manual_seed(3)
    labels = torch.arange(1, 4).repeat_interleave(per_class)
    images = rm.class_images(task, labels, gen)
    mean, std = task.noise_stats()
    noise = torch.randn(steps - 1, 64, generator=gen) * (std / 3) + mean
    trigger = torch.cat([torch.full((64,), mean), torch.ones(1)])
    expected, correct_counts = [], []
    for k in (1, 2, 3):
        finals = []
        for i in torch.nonzero(labels == k).squeeze(1):
            h = torch.zeros(1, model.state_size)
            for t in range(steps):
                frame = images[i] if t == 0 else noise[t - 1]
                h = model.step(h, torch.cat([frame, torch.zeros(1)])[None])
            logits = model.readout(model.step(h, trigger[None]), 1)[0, 0, :4]
            if int(logits.argmax()) == k:
                finals.append(h[0])
        correct_counts.append(len(finals))
        expected.append(torch.stack(finals).mean(0) if finals else torch.full((model.state_size,), math.nan))
    assert seeds.n_correct.tolist() == correct_counts and sum(correct_counts) > 0
    torch.testing.assert_close(seeds.seeds, torch.stack(expected).detach(), equal_nan=True, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(seeds.trajectories[-1], seeds.seeds, equal_nan=True, atol=0, rtol=0)


def test_extrapolation_by_class_splits_the_same_trials():
    model, task, _ = _model_and_task()
    level = {"n_classes": 11, "max_delay": 8}
    plain = recall_by_delay(model, task, level, [4, 9, 12], 40, torch.Generator().manual_seed(1))
    split = recall_by_delay(model, task, level, [4, 9, 12], 40, torch.Generator().manual_seed(1), by_class=True)
    assert list(split.columns[:2]) == ["delay", "class"]
    hits = (split["accuracy"] * split["n_trials"]).groupby(split["delay"]).sum()
    assert split.groupby("delay")["n_trials"].sum().tolist() == [40, 40, 40]
    np.testing.assert_allclose(hits.to_numpy() / 40, plain["accuracy"].to_numpy())
    per_class = rm.extrapolation_by_class(split, 10)
    untrained = split[split["delay"] >= 8]
    k = untrained[untrained["class"] == 3]
    assert per_class[2] == pytest.approx((k["accuracy"] * k["n_trials"]).sum() / k["n_trials"].sum())


def test_tracking_names_the_nearest_earlier_slow_point():
    def analysis(points, seeds):
        k = len(points)
        classes = pd.DataFrame({"class": np.arange(1, k + 1), "slow_point_q": np.arange(k) * 0.1})
        return SimpleNamespace(classes=classes, result=SimpleNamespace(final_states=np.array(points, float)),
                               seeds=SimpleNamespace(seeds=torch.tensor(seeds, dtype=torch.float64)))

    prev = analysis([[0, 0], [10, 0]], [[0, 1], [10, 1]])
    cur = analysis([[0, 0], [10, 0], [9, 1]], [[0, 1], [10, 1], [1, 0]])
    table = rm.track_classes([("rnn_n_classes3", prev), ("rnn_n_classes4", cur)])
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["checkpoint"], row["previous"], row["class"]) == ("rnn_n_classes4", "rnn_n_classes3", 3)
    assert row["parent_class"] == 2 and row["distance"] == pytest.approx(math.sqrt(2))
    assert row["seed_parent_class"] == 1 and row["seed_distance"] == pytest.approx(1.0)
    assert row["parent_q"] == pytest.approx(0.1)


def test_correlations_across_classes_and_networks():
    rows = pd.DataFrame({"network": ["a"] * 4 + ["b"] * 4 + ["c"] * 4,
                         "slow_point_q": [1e-4, 1e-3, 1e-2, 1e-1] * 3, "centre_q": [1e-2, 1e-1, 1, 10] * 3,
                         "seed_q": [1.0] * 12,
                         "extrapolation_accuracy": [0.9, 0.8, 0.7, 0.6, 0.8, 0.7, 0.6, 0.5, 0.7, 0.6, 0.5, 0.4]})
    table = rm.speed_correlations(rows, "network")
    within = table[(table["speed"] == "slow_point_q") & (table["network"] == "a")].iloc[0]
    assert within["n"] == 4 and within["spearman_r"] == pytest.approx(-1.0)
    across = table[(table["speed"] == "centre_q") & (table["scope"] == "networks")].iloc[0]
    assert across["n"] == 3 and np.isnan(across["spearman_r"])  # every network has the same mean speed
    assert np.isnan(table[table["speed"] == "seed_q"]["spearman_r"]).all()  # constant speed: undefined


def test_finder_clip_keeps_h_in_the_box_and_leaves_c_alone():
    torch.manual_seed(1)
    model, task, _ = _model_and_task(hidden=5, model="lstm")
    start = torch.rand(6, 10) - 0.5
    # one large gradient step throws every coordinate far out; only h is brought back
    kick = dict(optimizer="sgd", lr_schedule="constant", lr_init=1e4, max_iters=1, compute_jacobians=False,
                exclude_distance_outliers=False)
    free = find_slow_points(model, start, rm.rest_input(task), **kick)
    clipped = find_slow_points(model, start, rm.rest_input(task), clip=1.0, **kick)
    assert np.abs(free.final_states[:, :5]).max() > 1.0
    np.testing.assert_array_equal(clipped.final_states[:, :5], np.clip(free.final_states[:, :5], -1, 1))
    np.testing.assert_array_equal(clipped.final_states[:, 5:], free.final_states[:, 5:])  # c is not clipped
    assert np.abs(clipped.final_states[:, 5:]).max() > 1.0


# --- the regulariser -----------------------------------------------------------------------------
@pytest.mark.parametrize("at", ["centres", "seeds"])
def test_regularizer_gradient_equals_autograd_of_the_definition(at):
    torch.manual_seed(0)
    model, task, config = _model_and_task()
    cfg = config.training.model_copy().speed_regularization  # None: build the section by hand
    assert cfg is None
    from rnn_timescales.config import SpeedRegularization

    reg = SpeedRegularizer(SpeedRegularization(weight=0.7, at=at, trials_per_class=6, seed_steps=4), task, seed=0)
    level = {"n_classes": 11, "max_delay": 20}
    reg.prepare(model, level, 0)
    batch = task.sample(level, 24, torch.Generator().manual_seed(2))
    grads = torch.autograd.grad(reg.loss(model, batch), list(model.parameters()))

    # the definition: CE + lambda * sum_k 1/2 ||F(c_k, u) - c_k||^2, the points held fixed
    with torch.no_grad():
        states = model.run(batch.inputs, model.init_state(24))
    if at == "centres":
        rows = [states[int(t) - 1, i] for i, t in enumerate(batch.response_time)]
        points = [torch.stack([r for r, lab in zip(rows, batch.labels) if lab == k]).mean(0)
                  for k in range(1, 11) if (batch.labels == k).any()]
    else:
        points = list(reg.points)
    u = torch.cat([torch.full((64,), task.noise_stats()[0]), torch.zeros(1)])
    penalty = sum(0.5 * (model.step(p[None], u[None])[0] - p).pow(2).sum() for p in points)
    expected = torch.autograd.grad(batch_loss(model, batch) + 0.7 * penalty, list(model.parameters()))
    for g, e in zip(grads, expected):
        torch.testing.assert_close(g, e, atol=1e-6, rtol=1e-5)


def test_noise_input_averages_over_draws():
    model, task, _ = _model_and_task()
    from rnn_timescales.config import SpeedRegularization

    reg = SpeedRegularizer(SpeedRegularization(input="noise", noise_samples=4), task, seed=0)
    points = torch.randn(3, 6)
    gen_state = reg.generator.get_state()
    value = reg.penalty(model, points)
    reg.generator.set_state(gen_state)
    mean, std = task.noise_stats()
    frames = torch.randn(12, 64, generator=reg.generator) * std + mean
    x = torch.cat([frames, torch.zeros(12, 1)], 1)
    h = points.repeat_interleave(4, 0)
    assert value.item() == pytest.approx((0.5 * (model.step(h, x) - h).pow(2).sum() / 4).item(), rel=1e-6)


def test_lambda_zero_reproduces_plain_training_bit_for_bit():
    from rnn_timescales.config import SpeedRegularization

    level = {"n_classes": 11, "max_delay": 20}
    finals = []
    for regularizer in (None, "zero"):
        torch.manual_seed(0)
        model, task, _ = _model_and_task()
        reg = None if regularizer is None else SpeedRegularizer(SpeedRegularization(weight=0.0), task, seed=0)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        gen = torch.Generator().manual_seed(5)
        for _ in range(3):
            train_step(model, opt, task.sample(level, 16, gen), 1.0, gen, reg)
        finals.append([p.detach().clone() for p in model.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*finals))
    assert build_regularizer(_config("training.speed_regularization.weight=0"), None) is None


def test_regularized_run_resumes_exactly(tmp_path):
    extra = ["training.max_epochs=2", "curriculum.advance=never",
             "training.speed_regularization={weight: 0.5, at: slow_points, recompute_every: 3, trials_per_class: 4, "
             "seed_steps: 3, finder: {max_iters: 40}}"]
    straight = train(_config(*extra), tmp_path / "straight", progress=False)
    train(_config(*extra[1:], "training.max_epochs=1"), tmp_path / "halted", progress=False)
    resumed = resume(tmp_path / "halted", ["training.max_epochs=2"], progress=False)
    assert straight.metrics["loss"].tolist() == resumed.metrics["loss"].tolist()
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "final.safetensors").model.state_dict()
    b = load_checkpoint(tmp_path / "halted" / "checkpoints" / "final.safetensors").model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


# --- the commands end to end -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def vocabulary_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("vocab") / "run"
    config = _config("curriculum.kind=vocabulary", "curriculum.advance=schedule", "curriculum.schedule=[2,4]",
                     "training.max_epochs=3", hidden=8)
    train(config, run, progress=False)
    return run


def test_recall_memory_command_with_tracking(vocabulary_run, tmp_path, capsys):
    out = tmp_path / "memory"
    code = main(["recall-memory", str(vocabulary_run), "--track", "--trials-per-class", "6", "--centre-trials", "40",
                 "--trials", "10", "--max-delay", "24", "--set", "max_iters=60", "--no-progress", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    # the run's final network (a schedule trains at its last level to the end): 5 classes, null included
    classes = pd.read_csv(out / rm.CLASSES)
    assert classes["class"].tolist() == [1, 2, 3, 4] and (classes["centre_q"] > 0).all()
    assert set(pd.read_csv(out / rm.CORRELATIONS)["speed"]) == set(rm.SPEEDS)
    assert pd.read_csv(out / rm.EXTRAPOLATION)["delay"].max() == 24
    tracking = pd.read_csv(out / rm.TRACKING)
    assert tracking[["checkpoint", "class"]].values.tolist() == [["rnn_n_classes4", 3], ["final", 4]]
    assert tracking["parent_class"].isin([-1, 1, 2, 3]).all()  # -1: no class of the previous one had a seed
    assert (out / "figures" / "recall_slow_points_pca.png").is_file()
    assert (out / "figures" / "speed_vs_extrapolation.png").is_file()


def test_speed_regularization_command_lowers_the_centres_speeds(vocabulary_run, tmp_path, capsys):
    out = tmp_path / "sr"
    code = main(["speed-regularization", str(vocabulary_run / "checkpoints" / "final.safetensors"), "--lambda", "30",
                 "--lr", "3e-3", "--steps", "20", "--epoch-steps", "10", "--centre-trials", "64", "--trials", "8",
                 "--max-delay", "22", "--no-progress", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    summary = pd.read_csv(out / "speed_regularization_summary.csv").set_index("network")
    assert list(summary.index) == ["start", "control", "regularized"]
    assert summary.loc["regularized", "centre_q_mean"] < summary.loc["control", "centre_q_mean"]
    control, regularized = (load_any(out / name / "checkpoints" / "final.safetensors") for name in ("control", "regularized"))
    assert control.config.training.speed_regularization is None
    assert regularized.config.training.speed_regularization.weight == 30
    assert regularized.level == control.level == {"n_classes": 5, "max_delay": 20}
    curves = pd.read_csv(out / "speed_regularization_extrapolation.csv")
    assert set(curves["network"]) == {"start", "control", "regularized"}
    assert (out / "figures" / "speed_regularization_extrapolation.png").is_file()
