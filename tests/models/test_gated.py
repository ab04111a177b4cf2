"""GRU and LSTM: PyTorch's documented equations by hand, the state contract, gate timescales on
hand-set gates, checkpoints, configuration, the CLI end to end, and the model comparison."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import assert_refused

from rnn_timescales.analysis.gates import gate_timescales, mean_gates
from rnn_timescales.dynamics.jacobian import jacobian_timescales, step_jacobian
from rnn_timescales.studies.analyze import AnalysisSettings, analyze_checkpoint
from rnn_timescales.cli import main
from rnn_timescales.config import ConfigError, build_config
from rnn_timescales.models import GRU, LSTM, build_model
from rnn_timescales.models.capabilities import UnsupportedModel, has_trained_timescales, require_leaky_rnn
from rnn_timescales.runs import load_any, load_checkpoint, save_checkpoint


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def logit(p):
    return math.log(p / (1 - p))


def params(model):
    """The fused layer's weights as float64 numpy arrays: W_ih, W_hh, b_ih, b_hh."""
    r = model.rnn
    return [t.detach().double().numpy() for t in (r.weight_ih_l0, r.weight_hh_l0, r.bias_ih_l0, r.bias_hh_l0)]


def gru_by_hand(model, h, x):
    """torch.nn.GRU's documented update, rows (r, z, n): h (B, H), x (B, D)."""
    w_ih, w_hh, b_ih, b_hh = params(model)
    H = model.hidden_size
    W_ir, W_iz, W_in = w_ih[:H], w_ih[H:2 * H], w_ih[2 * H:]
    W_hr, W_hz, W_hn = w_hh[:H], w_hh[H:2 * H], w_hh[2 * H:]
    b_ir, b_iz, b_in = b_ih[:H], b_ih[H:2 * H], b_ih[2 * H:]
    b_hr, b_hz, b_hn = b_hh[:H], b_hh[H:2 * H], b_hh[2 * H:]
    r = sigmoid(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
    z = sigmoid(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
    n = np.tanh(x @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))
    return (1 - z) * n + z * h


def lstm_by_hand(model, h, c, x):
    """torch.nn.LSTM's documented update, rows (i, f, g, o): returns (h', c')."""
    w_ih, w_hh, b_ih, b_hh = params(model)
    H = model.hidden_size
    pre = [x @ w_ih[k * H:(k + 1) * H].T + b_ih[k * H:(k + 1) * H] + h @ w_hh[k * H:(k + 1) * H].T
           + b_hh[k * H:(k + 1) * H] for k in range(4)]
    i, f, g, o = sigmoid(pre[0]), sigmoid(pre[1]), np.tanh(pre[2]), sigmoid(pre[3])
    c = f * c + i * g
    return o * np.tanh(c), c


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_gru_step_and_fused_layer_match_the_documented_equations(rng):
    torch.manual_seed(0)
    model = GRU(hidden_size=3, input_size=2, n_heads=2)
    h = rng.normal(size=(4, 3)) * 0.5
    x = rng.normal(size=(4, 2))
    want = gru_by_hand(model, h, x)
    ht, xt = torch.tensor(h, dtype=torch.float32), torch.tensor(x, dtype=torch.float32)
    np.testing.assert_allclose(model.step(ht, xt).detach().numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.run(xt[None], ht)[0].detach().numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.run_final(xt[None], ht).detach().numpy(), want, rtol=1e-5, atol=1e-6)


def test_lstm_step_and_fused_layer_match_the_documented_equations(rng):
    torch.manual_seed(0)
    model = LSTM(hidden_size=3, input_size=2, n_heads=2)
    h, c = rng.normal(size=(4, 3)) * 0.5, rng.normal(size=(4, 3))
    x = rng.normal(size=(4, 2))
    want_h, want_c = lstm_by_hand(model, h, c, x)
    want = np.concatenate([want_h, want_c], -1)
    state = torch.tensor(np.concatenate([h, c], -1), dtype=torch.float32)
    xt = torch.tensor(x, dtype=torch.float32)
    assert model.state_size == 6
    np.testing.assert_allclose(model.step(state, xt).detach().numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.run(xt[None], state)[0].detach().numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.run_final(xt[None], state).detach().numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.activity(model.step(state, xt)).detach().numpy(), want_h, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", [GRU, LSTM])
def test_whole_sequences_equal_repeated_steps_with_the_same_gradients(cls):
    torch.manual_seed(1)
    model = cls(hidden_size=8, n_heads=3)
    inputs = (torch.rand(300, 5, 1) < 0.5).float()  # longer than one block of the LSTM's cell rebuild
    state0 = 0.3 * torch.randn(5, model.state_size)
    fused = model.run(inputs, state0)
    loop = model.run_reference(inputs, state0)
    torch.testing.assert_close(fused, loop, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(model.run_final(inputs, state0), loop[-1], rtol=1e-4, atol=1e-5)
    # every state (the LSTM's c too) carries the gradients of the step-by-step definition
    weights = torch.randn(fused.shape[-1])
    grads = [torch.autograd.grad((run(inputs, state0) * weights).sum(), list(model.rnn.parameters()))
             for run in (model.run, model.run_reference)]
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("cls", [GRU, LSTM])
def test_forward_contract(cls):
    torch.manual_seed(2)
    model = cls(hidden_size=6, n_heads=4)
    inputs = torch.rand(7, 3, 1)
    state0 = model.init_state(3)
    assert torch.equal(state0, torch.zeros(3, model.state_size))  # the paper code's LSTM starts at zero
    out = model(inputs, state0, n_heads=2, return_trajectory=True, return_step_logits=True)
    steps = model(inputs, state0, n_heads=2, return_step_logits=True)  # the LSTM's path without c
    final = model(inputs, state0, n_heads=2)
    assert out.trajectory.shape == (7, 3, model.state_size) and out.step_logits.shape == (7, 3, 2, 2)
    torch.testing.assert_close(steps.step_logits, out.step_logits, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(final.final_state, out.trajectory[-1], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(steps.final_state, out.trajectory[-1], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(final.logits, model.readout(model.activity(out.trajectory[-1]), 2))
    assert model.timescales() is None and not has_trained_timescales(model)


def test_uniform_initial_state_option():
    model = LSTM(hidden_size=5, initial_state="uniform")
    state = model.init_state(4, torch.Generator().manual_seed(0))
    assert state.shape == (4, 10) and float(state.min()) >= 0 and float(state.max()) <= 0.1 and float(state.std()) > 0


def hand_set(model, retention: float, drive_from_input: float = 0.0):
    """Every gate independent of h; the retention gate held at ``retention`` whatever the input;
    the LSTM's cell candidate driven by the input alone."""
    H = model.hidden_size
    k = model.gate_names.index(model.retention_gate)
    with torch.no_grad():
        model.rnn.weight_hh_l0.zero_()
        model.rnn.bias_hh_l0.zero_()
        model.rnn.weight_ih_l0[k * H:(k + 1) * H] = 0.0
        model.rnn.bias_ih_l0[k * H:(k + 1) * H] = logit(retention)
        if isinstance(model, LSTM):
            model.rnn.weight_ih_l0[2 * H:3 * H] = drive_from_input  # g = tanh(w x + b)
    return model


@pytest.mark.parametrize("cls, value", [(LSTM, 0.9), (LSTM, 0.5), (GRU, 0.8)])
def test_gate_timescales_are_exact_on_hand_set_gates(cls, value):
    torch.manual_seed(3)
    model = hand_set(cls(hidden_size=4, n_heads=2), value)
    inputs = (torch.rand(50, 6, 1) < 0.5).float()
    means = mean_gates(model, inputs)
    torch.testing.assert_close(means[model.retention_gate], torch.full((4,), value), rtol=1e-6, atol=1e-6)
    table = gate_timescales(means[model.retention_gate])
    np.testing.assert_allclose(table["tau_gate"], 1 / (1 - value), rtol=1e-5)
    np.testing.assert_allclose(table["tau_gate_log"], -1 / math.log(value), rtol=1e-5)


def test_gate_timescales_edges_and_validation():
    table = gate_timescales(np.array([0.0, 0.5, 1.0]))
    assert table["tau_gate"].tolist() == [1.0, 2.0, math.inf]
    assert table["tau_gate_log"].tolist()[0] == 0.0 and table["tau_gate_log"].iloc[2] == math.inf
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        gate_timescales(np.array([0.5, 1.5]))


def save_hand_set(tmp_path, model_type, retention):
    config = build_config("gated", overrides=[f"model.type={model_type}", "model.hidden_size=6", "device=cpu"])
    model = hand_set(build_model(config), retention, drive_from_input=1.5)
    return save_checkpoint(tmp_path / f"{model_type}.safetensors", model, config=config, level={"ns": [2, 3]}, epoch=1)


def test_analysis_reports_gate_timescales_and_the_cell_state_timescale(tmp_path):
    # Forget gate fixed at f and every gate blind to h: c_t = f c_{t-1} + i g(x_t) is an AR(1)
    # process driven by independent inputs, whose autocorrelation is f^lag: tau_net(c) = -1/ln f.
    f = 0.9
    ckpt = load_any(save_hand_set(tmp_path, "lstm", f))
    result = analyze_checkpoint(ckpt, AnalysisSettings(n_trials=4, n_steps=20_000, burn_in=100, max_lag=60, n_points=2))
    neurons, summary = result.neurons, result.summary
    np.testing.assert_allclose(neurons["tau_gate"], 1 / (1 - f), rtol=1e-5)
    np.testing.assert_allclose(neurons["tau_gate_log"], -1 / math.log(f), rtol=1e-5)
    np.testing.assert_allclose(neurons["tau_net_cell"], -1 / math.log(f), rtol=0.1)
    assert summary["tau_gate_median"] == pytest.approx(1 / (1 - f), rel=1e-5)
    assert summary["model_type"] == "lstm" and summary["gate"] == "forget"
    assert neurons["tau"].isna().all() and math.isnan(summary["tau_median"])
    # the cell's memory is the slowest linear mode: eigenvalue f of dc'/dc
    assert summary["jacobian_tau_max"] == pytest.approx(-1 / math.log(f), rel=1e-6)


def test_gru_analysis_and_leaky_rnn_gate_columns(tmp_path):
    z = 0.75
    gru = analyze_checkpoint(load_any(save_hand_set(tmp_path, "gru", z)),
                             AnalysisSettings(n_trials=2, n_steps=2_000, burn_in=50, max_lag=40, n_points=1))
    np.testing.assert_allclose(gru.neurons["tau_gate"], 1 / (1 - z), rtol=1e-5)
    assert gru.neurons["tau_net_cell"].isna().all() and gru.summary["gate"] == "update"
    config = build_config("quick", overrides=["model.hidden_size=5", "device=cpu"])
    path = save_checkpoint(tmp_path / "leaky.safetensors", build_model(config), config=config, level={"ns": [2]}, epoch=0)
    leaky = analyze_checkpoint(load_any(path), AnalysisSettings(n_trials=2, n_steps=2_000, burn_in=50, max_lag=40, n_points=1))
    assert leaky.neurons[["tau_gate", "tau_gate_log", "gate_mean", "tau_net_cell"]].isna().all().all()
    assert math.isnan(leaky.summary["tau_gate_median"]) and leaky.summary["gate"] is None


def test_lstm_jacobian_with_hand_set_gates():
    f = 0.8
    torch.manual_seed(4)
    model = hand_set(LSTM(hidden_size=3, n_heads=1), f).double()
    state, x = torch.randn(6, dtype=torch.float64), torch.ones(1, dtype=torch.float64)
    jac = step_jacobian(model, state, x)
    assert jac.shape == (6, 6)
    torch.testing.assert_close(jac[3:, 3:], f * torch.eye(3, dtype=torch.float64))  # dc'/dc = diag(f)
    torch.testing.assert_close(jac[:, :3], torch.zeros(6, 3, dtype=torch.float64))  # nothing reads h
    tau = jacobian_timescales(model, state[None], x[None], n_slowest=1)["per_point"][0, 0]
    assert tau == pytest.approx(-1 / math.log(f))


@pytest.mark.parametrize("model_type", ["gru", "lstm"])
def test_checkpoint_round_trip(tmp_path, model_type):
    config = build_config("gated", overrides=[f"model.type={model_type}", "model.hidden_size=7",
                                              "model.initial_state=uniform", "device=cpu"])
    model = build_model(config)
    path = save_checkpoint(tmp_path / "c.safetensors", model, config=config, level={"ns": [2, 3, 4]}, epoch=3)
    loaded = load_checkpoint(path)
    assert type(loaded.model) is type(model) and loaded.model.initial_state == "uniform"
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value), key
    inputs = torch.rand(9, 2, 1)
    state0 = model.init_state(2, torch.Generator().manual_seed(0))
    torch.testing.assert_close(loaded.model(inputs, state0, n_heads=3).logits, model.eval()(inputs, state0, n_heads=3).logits)


def test_configuration_refuses_what_gated_models_cannot_honour():
    with pytest.raises(ConfigError, match="model.train_tau belongs to the leaky RNN"):
        build_config("gated", overrides=["model.train_tau=false"])
    with pytest.raises(ConfigError, match="model.nonlinearity belongs to the leaky RNN; model.type 'gru'"):
        build_config("gated", overrides=["model.type=gru", "model.nonlinearity=tanh"])
    with pytest.raises(ConfigError, match="bf16' is not available for the lstm"):
        build_config("gated", overrides=["model.precision=bf16"])
    with pytest.raises(ConfigError, match="unknown setting 'model.initial_state'"):
        build_config("quick", overrides=["model.initial_state=zero"])
    config = build_config("gated")
    assert (config.model.type, config.model.hidden_size, config.optimizer.name, config.optimizer.lr,
            config.optimizer.grad_clip, config.training.batch_size, config.training.steps_per_epoch,
            config.training.eval_batches, config.model.n_heads) == ("lstm", 500, "adam", 1e-3, 2.0, 64, 300, 50, 100)


def test_gru_bf16_keeps_an_fp32_state_close_to_fp32():
    torch.manual_seed(5)
    fp32 = GRU(hidden_size=32, n_heads=2)
    bf16 = GRU(hidden_size=32, n_heads=2, precision="bf16")
    bf16.load_state_dict(fp32.state_dict())
    inputs = (torch.rand(200, 4, 1) < 0.5).float()
    state0 = fp32.init_state(4)
    with torch.no_grad():
        want, got = fp32.run(inputs, state0), bf16.run(inputs, state0)
    assert got.dtype == torch.float32
    assert float((got - want).norm() / want.norm()) < 0.03
    torch.testing.assert_close(bf16.step(state0, inputs[0]), fp32.step(state0, inputs[0]))  # step stays fp32


def test_leaky_only_analyses_refuse_gated_models_in_one_line():
    with pytest.raises(UnsupportedModel, match="ablation by trained tau needs a leaky RNN.*this network is a lstm; "
                                               "for the lstm, order the units by tau_gate"):
        require_leaky_rnn(LSTM(hidden_size=2), "ablation by trained tau", "order the units by tau_gate")
    assert isinstance(UnsupportedModel("x"), ConfigError)  # the CLI prints it in one line, exit code 2


@pytest.mark.parametrize("model_type", ["gru", "lstm"])
def test_cli_trains_to_n4_then_evaluates_and_analyzes(tmp_path, capsys, model_type):
    run = tmp_path / model_type
    code = main(["train", "--preset", "gated", "--model", model_type, "--hidden", "24", "--target-n", "4",
                 "--max-epochs", "60", "--seed", "0", "--device", "cpu", "--out", str(run), "--no-progress",
                 "--set", "training.steps_per_epoch=40", "--set", "training.eval_batches=4",
                 "--set", "optimizer.lr=0.01"])
    assert code == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stop_reason"] == "target_n" and summary["n_max_solved"] == 4
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json", "--batches", "4", "--streams", "2", "--length", "200",
                 "--device", "cpu"]) == 0
    heads = json.loads(capsys.readouterr().out)["heads"]
    assert [h["n"] for h in heads] == [2, 3, 4] and min(h["accuracy"] for h in heads) > 0.9
    assert main(["analyze", str(run), "--n", "4", "--steps", "1500", "--trials", "2", "--max-lag", "60",
                 "--no-progress"]) == 0
    summary = pd.read_csv(run / "analysis" / "summary.csv")
    neurons = pd.read_csv(run / "analysis" / "neurons.csv")
    assert summary["tau_gate_median"].iloc[0] > 1 and neurons["tau_gate"].gt(1).all()
    assert neurons["tau_net_cell"].notna().any() == (model_type == "lstm")
    assert (run / "analysis" / "figures" / "tau_scatter.png").is_file()


def test_compare_models_end_to_end_and_continues(tmp_path, capsys):
    out = tmp_path / "cmp"
    base = ["compare-models", "--hidden", "8", "--set", "training.steps_per_epoch=3", "--set", "training.eval_batches=1",
            "--set", "training.batch_size=16", "--out", str(out), "--no-progress"]
    assert main([*base, "--max-epochs", "2"]) == 0
    table = pd.read_csv(out / "comparison.csv")
    assert sorted(zip(table["model"], table["curriculum"])) == sorted(
        (m, c) for m in ("leaky_rnn", "gru", "lstm") for c in ("single", "multi"))
    assert set(table["optimizer"]) == {"sgd", "adam"} and (table["epochs"] == 2).all()
    curves = pd.read_csv(out / "comparison_curves.csv")
    assert len(curves) == 12 and curves["largest_n"].ge(1).all()
    for name in ("largest_n_vs_epoch", "largest_n_vs_time"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 0
    # a larger epoch budget continues the same runs; other settings are refused
    assert main([*base, "--max-epochs", "3", "--models", "gru"]) == 0
    table = pd.read_csv(out / "comparison.csv")
    assert list(table["epochs"]) == [3, 3]
    assert len(pd.read_csv(out / "runs" / "gru_multi" / "metrics.csv")) == 3
    assert "holds a comparison with other settings (run gru_single, seed: 0 there, 1 now)" in assert_refused(
        [*base, "--max-epochs", "3", "--models", "gru", "--seed", "1"], capsys, out)


def test_robustness_analyses_of_w_and_tau_refuse_a_gated_network_in_one_line(tmp_path, capsys):
    """Perturbations and ablations act on the leaky RNN's W and tau; a GRU gets one line saying so."""
    from rnn_timescales.cli import main
    from rnn_timescales.config import build_config
    from rnn_timescales.training.trainer import train

    config = build_config("quick", overrides=["model.type=gru", "model.hidden_size=8", "training.max_epochs=1",
                                               "training.steps_per_epoch=2", "training.eval_batches=1",
                                               "training.batch_size=8", "device=cpu", "curriculum.threshold=0.01"])
    train(config, tmp_path / "gru", progress=False)  # solves N = 2 at once: a checkpoint to analyse
    for kind in ("perturb-w", "perturb-tau", "ablation", "continuous", "retrain"):
        capsys.readouterr()
        assert main(["robustness", str(tmp_path / "gru"), "--kind", kind, "--no-progress"]) == 2, kind
        err = capsys.readouterr().err.strip()
        assert "needs a leaky RNN" in err and "gru" in err and "\n" not in err, err
    assert not (tmp_path / "gru" / "robustness").exists()


def test_a_signal_stops_the_comparison_and_running_it_again_finishes_it_exactly(tmp_path, monkeypatch, capsys):
    """SIGINT in the first run stops compare-models with exit 130: no later run starts, no table is
    written; the second call resumes to the uninterrupted result."""
    import os
    import signal

    import rnn_timescales.training.loop as loop_module

    def argv(out):
        return ["compare-models", "--hidden", "8", "--models", "gru", "--max-epochs", "2", "--set",
                "training.steps_per_epoch=3", "--set", "training.eval_batches=1", "--set", "training.batch_size=16",
                "--workers", "1", "--out", str(out), "--no-progress"]

    assert main(argv(tmp_path / "ref")) == 0
    step, calls = loop_module.train_step, {"n": 0}

    def interrupted_step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return step(*args, **kwargs)

    monkeypatch.setattr(loop_module, "train_step", interrupted_step)
    assert main(argv(tmp_path / "cut")) == 130
    assert "interrupted" in capsys.readouterr().err
    assert len(list((tmp_path / "cut" / "runs").iterdir())) == 1 and not (tmp_path / "cut" / "comparison.csv").exists()
    monkeypatch.setattr(loop_module, "train_step", step)
    assert main(argv(tmp_path / "cut")) == 0
    volatile = ["wall_time_s", "time_largest_n_s"]
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "cut" / "comparison.csv").drop(columns=volatile),
                                  pd.read_csv(tmp_path / "ref" / "comparison.csv").drop(columns=volatile))
