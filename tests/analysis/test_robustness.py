"""Robustness analyses: the changes to a network on hand-made cases, the streaming engines against
``streaming_accuracy``, the acceptance points on the paper code's checkpoints (scaled down), and
``rnn-timescales robustness`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from rnn_timescales.analysis.robustness import (
    StreamingProtocol,
    ablated_copy,
    ablation_groups,
    ablation_sweep,
    baseline_accuracy,
    continuous_sweep,
    forgetting_matrix,
    forgetting_scores,
    perturb_tau,
    perturb_w,
    perturbation_sweep,
    perturbed_copy,
    relative_accuracy,
    repeat_inputs,
    rescaled_copy,
    silence_mask,
)
from rnn_timescales.analysis.robustness import strengths as sweeps
from rnn_timescales.studies.robustness import load_tau_net, resolve_networks
from rnn_timescales.analysis.robustness.streams import copy_accuracy, draw_streams, rows_accuracy
from rnn_timescales.cli import main
from rnn_timescales.models import LeakyRNN
from rnn_timescales.tasks import get_task
from rnn_timescales.runs import CheckpointError, LoadedCheckpoint, load_any
from rnn_timescales.config import build_config
from rnn_timescales.training.steps import streaming_accuracy
from conftest import tiny_overrides

SMALL = StreamingProtocol(repeats=3, warmup=20, length=150, seed=4)


def _tiny(hidden=12, heads=3, task="parity", curriculum="multi", ns=(2, 3, 4), seed=0, placement="outside"):
    torch.manual_seed(seed)
    model = LeakyRNN(hidden, n_heads=heads, placement=placement).eval()
    with torch.no_grad():
        model.tau.copy_(1.0 + 3 * torch.rand(hidden))
    config = build_config("paper", overrides=[f"task.name={task}", f"curriculum.kind={curriculum}",
                                              f"model.hidden_size={hidden}", f"model.n_heads={heads}",
                                              f"model.placement={placement}", f"curriculum.n_start={ns[0]}"])
    return LoadedCheckpoint(model=model, config=config, level={"ns": list(ns)}, path=Path("tiny"), source="ours")


def _streaming(ckpt, protocol):
    gen = torch.Generator().manual_seed(protocol.seed)
    return streaming_accuracy(ckpt.model, get_task(ckpt.task), ckpt.ns, protocol.warmup, protocol.length,
                              protocol.repeats, gen)


def _counts(table, protocol):
    """Correct predictions summed over repeats, per N (exact integers)."""
    return (table.groupby("n")["accuracy"].sum() * protocol.length).round().astype(int)


# --- the changes, on hand-made cases ----------------------------------------------------------------
def test_w_perturbation_has_the_requested_frobenius_norm():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(6, 6, generator=gen) * (1 - torch.eye(6))
    noise = torch.randn(4, 6, 6, generator=gen)
    eps = torch.tensor([0.0, 0.1, 1.0, 10.0])
    new = perturb_w(w, eps, noise)
    for e, n in zip(eps, new):
        assert torch.linalg.matrix_norm(n - w).item() == pytest.approx(e.item() * torch.linalg.matrix_norm(w).item(), rel=1e-5)
        assert torch.count_nonzero(n.diagonal()) == 0
    # the paper code normalises over all H^2 entries and its forward pass then drops the diagonal
    paper = perturb_w(w, 1.0, noise[1], direction="paper")
    off = noise[1] * (1 - torch.eye(6))
    expected = torch.linalg.matrix_norm(w) * torch.linalg.matrix_norm(off) / torch.linalg.matrix_norm(noise[1])
    assert torch.linalg.matrix_norm(paper - w).item() == pytest.approx(expected.item(), rel=1e-5)
    u = torch.rand(6, 6, generator=gen)
    torch.testing.assert_close(perturb_w(w, 0.5, u, "multiplicative"), w * (1 + 0.5 * u), rtol=0, atol=0)


def test_perturbed_copy_changes_only_w_and_leaves_the_original():
    ckpt = _tiny()
    before = {k: v.clone() for k, v in ckpt.model.state_dict().items()}
    copy = perturbed_copy(ckpt.model, "w", 0.3, torch.Generator().manual_seed(1))
    w = ckpt.model.recurrent_weight()
    assert torch.linalg.matrix_norm(copy.recurrent_weight() - w).item() == pytest.approx(
        0.3 * torch.linalg.matrix_norm(w).item(), rel=1e-5)
    for k, v in ckpt.model.state_dict().items():
        assert torch.equal(v, before[k])
        if k != "recurrent.weight":
            assert torch.equal(copy.state_dict()[k], v), k


def test_tau_perturbations_on_a_hand_made_case():
    tau = torch.tensor([1.0, 2.0, 2.0])  # ||tau|| = 3
    d = torch.tensor([-3.0, 0.0, 4.0])  # ||d|| = 5
    torch.testing.assert_close(perturb_tau(tau, 0.5, d), torch.tensor([1.9, 2.0, 3.2]))
    torch.testing.assert_close(perturb_tau(tau, 0.5, d, "normalized"), torch.tensor([0.1, 2.0, 3.2]))
    torch.testing.assert_close(perturb_tau(tau, 0.5, d, "additive"), torch.tensor([-0.5, 2.0, 4.0]))
    u = torch.tensor([0.5, 0.0, 1.0])
    torch.testing.assert_close(perturb_tau(tau, 0.5, u, "multiplicative"), torch.tensor([1.25, 2.0, 3.0]))
    batch = perturb_tau(tau, torch.tensor([0.0, 0.5]), torch.stack([d, d]))
    torch.testing.assert_close(batch, torch.stack([tau, torch.tensor([1.9, 2.0, 3.2])]))
    with pytest.raises(ValueError, match=">= 0"):
        perturb_tau(tau, -0.1, d)


def test_ablated_neuron_is_exactly_silent_and_nothing_else_changes():
    ckpt = _tiny(hidden=8)
    model, i = ckpt.model, 3
    with torch.no_grad():
        model.recurrent.bias.add_(0.5)  # the neuron would otherwise be driven by its bias
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ablated = ablated_copy(model, [i], "spec")
    changed = {"recurrent.weight": (np.s_[i, :], np.s_[:, i]), "input.weight": (np.s_[i, :],),
               "recurrent.bias": (np.s_[i],), "input.bias": (np.s_[i],), "readout.weight": (np.s_[:, :, i],)}
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), f"the original's {k} changed"
        new = ablated.state_dict()[k]
        mask = torch.zeros_like(v, dtype=torch.bool)
        for idx in changed.get(k, ()):
            mask[idx] = True
            assert torch.count_nonzero(new[idx]) == 0, k
        assert torch.equal(new[~mask], v[~mask]), f"{k} changed outside the ablated neuron"
    keep = silence_mask(8, [i])
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(60, 5, 1, generator=gen) < 0.5).float()
    h0 = model.init_state(5, gen) * keep
    with torch.no_grad():
        for states in (ablated.run(x, h0), ablated.run_reference(x, h0)):
            assert torch.count_nonzero(states[..., i]) == 0
        # silencing = clamping the neuron's activity to zero in the original network
        h, clamped = h0, []
        for t in range(x.shape[0]):
            h = model.step(h, x[t]) * keep
            clamped.append(h)
        states = ablated.run(x, h0)
        torch.testing.assert_close(states, torch.stack(clamped), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(ablated.readout(states), model.readout(torch.stack(clamped)), rtol=1e-5, atol=1e-6)


def test_paper_ablation_rule_zeroes_head_zero_only_and_keeps_the_bias():
    ckpt = _tiny(hidden=8)
    model, i = ckpt.model, 2
    ablated = ablated_copy(model, [i], "paper")
    assert torch.count_nonzero(ablated.readout.weight[0, :, i]) == 0
    assert torch.equal(ablated.readout.weight[1:, :, i], model.readout.weight[1:, :, i])
    assert torch.equal(ablated.recurrent.bias, model.recurrent.bias) and torch.equal(ablated.input.bias, model.input.bias)
    # the neuron runs on its own: h <- phi((1 - 1/tau) h + (b_W + b_U) / tau), whatever the input
    x = (torch.rand(30, 2, 1, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    h0 = model.init_state(2, torch.Generator().manual_seed(2))
    with torch.no_grad():
        states = ablated.run(x, h0)
        inv = 1 / model.tau_hat()[i]
        b = model.recurrent.bias[i] + model.input.bias[i]
        h = h0[:, i]
        for t in range(x.shape[0]):
            h = torch.nn.functional.leaky_relu((1 - inv) * h + b * inv, 0.01)
            torch.testing.assert_close(states[t, :, i], h)


def test_relative_accuracy_on_a_hand_made_case():
    np.testing.assert_allclose(relative_accuracy([0.75, 0.5, 1.0, 0.4], 1.0), [0.5, 0.0, 1.0, -0.2])
    base = baseline_accuracy([0.9, 0.8, 0.85])
    assert base == 0.9 and baseline_accuracy([0.9, 0.8, 0.85], "mean") == pytest.approx(0.85)
    np.testing.assert_allclose(relative_accuracy([0.75, 0.9], base), [0.625, 1.0])
    assert np.isnan(relative_accuracy(0.7, 0.5)).all() and np.isnan(relative_accuracy(0.7, 0.45)).all()


def test_rank_and_group_neurons_for_ablation():
    ckpt = _tiny(hidden=5)
    with torch.no_grad():
        ckpt.model.tau.copy_(torch.tensor([3.0, 0.5, 2.0, 5.0, 4.0]))
    groups = ablation_groups(ckpt.model, "tau", 2)
    assert [(g, v.tolist()) for g, v in groups] == [("short", [1]), ("short", [2]), ("long", [4]), ("long", [3])]
    pairs = ablation_groups(ckpt.model, "tau", 2, group_size=2)
    assert [(g, v.tolist()) for g, v in pairs] == [("short", [1, 2]), ("long", [4, 3])]
    by_net = ablation_groups(ckpt.model, "tau_net", 1, tau_net=np.array([np.nan, 7.0, 1.0, 9.0, np.nan]))
    assert [(g, v.tolist()) for g, v in by_net] == [("short", [2]), ("long", [3])]
    rand = ablation_groups(ckpt.model, "random", 3, seed=5)
    assert rand[0][0] == "random" and len({int(v[0]) for _, v in rand}) == 3
    assert [v.tolist() for _, v in rand] == [v.tolist() for _, v in ablation_groups(ckpt.model, "random", 3, seed=5)]
    with pytest.raises(ValueError, match="cannot pick"):
        ablation_groups(ckpt.model, "tau", 6)


def test_rescaling_by_k_one_reproduces_the_network_bit_for_bit():
    for placement in ("outside", "inside"):
        ckpt = _tiny(placement=placement)
        with torch.no_grad():
            ckpt.model.tau[0] = 0.7  # below 1: the clamp must act on tau * k
        copy = rescaled_copy(ckpt.model, 1)
        x = (torch.rand(40, 4, 1, generator=torch.Generator().manual_seed(0)) < 0.5).float()
        h0 = ckpt.model.init_state(4, torch.Generator().manual_seed(1))
        with torch.no_grad():
            assert torch.equal(copy.run(repeat_inputs(x, 1), h0), ckpt.model.run(x, h0))
        three = rescaled_copy(ckpt.model, 3)
        assert torch.equal(three.tau_hat(), torch.clamp(ckpt.model.tau * 3, min=1.0))
        assert three.tau_hat()[0].item() == pytest.approx(2.1)
    assert torch.equal(repeat_inputs(torch.tensor([[[0.0]], [[1.0]]]), 3).flatten(), torch.tensor([0.0] * 3 + [1.0] * 3))


# --- the engines ----------------------------------------------------------------------------------
@pytest.mark.parametrize("task", ["parity", "dms"])
def test_unchanged_network_reproduces_streaming_accuracy_exactly(task):
    ckpt = _tiny(task=task)
    expected = (_streaming(ckpt, SMALL).numpy() * SMALL.repeats * SMALL.length).round().astype(int)
    for table in (perturbation_sweep(ckpt, "w", [0.0], heads="all", protocol=SMALL),
                  perturbation_sweep(ckpt, "tau", [0.0, 0.1], heads="all", protocol=SMALL),
                  ablation_sweep(ckpt, n_neurons=1, heads="all", protocol=SMALL).query("group == 'none'")):
        base = table[table["epsilon"] == 0] if "epsilon" in table else table
        assert _counts(base, SMALL).tolist() == expected.tolist()
    k1 = continuous_sweep(ckpt, [1], mode="streaming", protocol=SMALL)
    assert (k1["accuracy"].to_numpy() * SMALL.repeats * SMALL.length).round().astype(int).tolist() == expected.tolist()


def test_batched_rows_equal_one_copy_per_variant():
    ckpt = _tiny(hidden=16)
    model = ckpt.model
    streams = draw_streams(model, get_task("parity"), ckpt.ns, SMALL)
    gen = torch.Generator().manual_seed(3)
    taus = torch.stack([perturb_tau(model.tau.detach(), e, torch.randn(16, generator=gen)) for e in (0.05, 0.2, 0.5, 1.0)])
    stream_of = torch.tensor([0, 1, 2, 1])
    rows = rows_accuracy(model, {"tau": taus}, stream_of, streams, [0, 2], len(ckpt.ns))
    for v in range(4):
        copy = rescaled_copy(model, 1)
        with torch.no_grad():
            copy.tau.copy_(taus[v])
        one = copy_accuracy(copy, streams, [0, 2], len(ckpt.ns), repeats=[int(stream_of[v])])[0]
        assert torch.equal(rows[v], one), v


def test_perturbation_sweep_is_deterministic_and_paper_sized_by_default():
    ckpt = _tiny()
    a = perturbation_sweep(ckpt, "w", [0, 0.1, 1.0], protocol=SMALL)
    b = perturbation_sweep(ckpt, "w", [0, 0.1, 1.0], protocol=SMALL)
    pd.testing.assert_frame_equal(a, b)
    c = perturbation_sweep(ckpt, "w", [0, 0.1, 1.0], protocol=StreamingProtocol(3, 20, 150, seed=5))
    assert not a["accuracy"].equals(c["accuracy"])
    assert list(a.columns[:8]) == ["kind", "mode", "epsilon", "repeat", "head", "n", "accuracy", "relative_accuracy"]
    assert len(sweeps.PAPER_W_EPSILONS) == 11 and len(sweeps.PAPER_TAU_EPSILONS) == 14
    assert sweeps.PAPER_W_EPSILONS[5] == pytest.approx(0.2154, abs=1e-4) and 0.1 in sweeps.PAPER_TAU_EPSILONS
    assert sweeps.PAPER_KS[:3] == (1, 2, 3) and sweeps.PAPER_KS[-4:] == (90, 100, 150, 200) and len(sweeps.PAPER_KS) == 33


def test_continuous_sequence_mode_at_k_one_is_the_end_of_sequence_accuracy(monkeypatch):
    ckpt = _tiny()
    table = continuous_sweep(ckpt, [1, 2], mode="sequence", n_sequences=40, protocol=SMALL)
    gen = torch.Generator().manual_seed(SMALL.seed)
    batch = get_task("parity").sample(ckpt.level, 40, gen)
    with torch.no_grad():
        out = ckpt.model(batch.inputs, n_heads=3, generator=gen)
    expected = (out.logits.argmax(-1) == batch.final_targets).double().mean(0).tolist()
    assert table[table["k"] == 1]["accuracy"].tolist() == expected
    # chunked runs (tiny state budget) give the same numbers
    monkeypatch.setattr(sweeps, "STATE_BUDGET", 12 * 40 * 3)
    pd.testing.assert_frame_equal(continuous_sweep(ckpt, [1, 2], mode="sequence", n_sequences=40, protocol=SMALL), table)
    streaming = continuous_sweep(ckpt, [1, 3], mode="streaming", protocol=SMALL)
    monkeypatch.setattr(sweeps, "STATE_BUDGET", 12 * 3 * 3 * 7)
    pd.testing.assert_frame_equal(continuous_sweep(ckpt, [1, 3], mode="streaming", protocol=SMALL), streaming)


def test_forgetting_scores_on_a_hand_made_matrix():
    m = pd.DataFrame({
        "checkpoint_n": [2, 2, 2, 3, 3, 3, 4, 4, 4],
        "n": [2, 3, 4] * 3,
        "trained": [True, False, False, False, True, False, False, False, True],
        "accuracy": [1.0, 0.5, 0.5, 0.6, 0.98, 0.5, 0.5, 0.7, 0.96],
    })
    s = forgetting_scores(m).set_index("checkpoint_n")
    assert np.isnan(s.loc[2, "forgetting"]) and s.loc[2, "n_earlier"] == 0
    assert s.loc[3, "forgetting"] == pytest.approx(0.4) and s.loc[3, "retained"] == pytest.approx(0.6)
    assert s.loc[4, "forgetting"] == pytest.approx(((1.0 - 0.5) + (0.98 - 0.7)) / 2)


def test_heads_and_bad_arguments_are_refused():
    ckpt = _tiny()
    assert sweeps.resolve_heads([2, 3, 4], "newest") == [2] and sweeps.resolve_heads([2, 3, 4], (3, 2)) == [1, 0]
    with pytest.raises(ValueError, match="none answers N = 7"):
        perturbation_sweep(ckpt, "w", [0], heads=(7,), protocol=SMALL)
    with pytest.raises(ValueError, match="unknown tau perturbation"):
        perturbation_sweep(ckpt, "tau", [0], mode="normalized_abz", protocol=SMALL)
    with pytest.raises(ValueError, match="shorter than N - 1"):
        perturbation_sweep(ckpt, "w", [0], protocol=StreamingProtocol(warmup=2))
    with pytest.raises(ValueError, match="distinct numbers"):
        perturbation_sweep(ckpt, "w", [0, 0.1, 0.1], protocol=SMALL)


def test_tau_net_is_read_from_the_analysis_table(tmp_path):
    path = tmp_path / "neurons.csv"
    pd.DataFrame({"n_max": [5] * 3 + [6] * 3, "neuron": [2, 0, 1] * 2, "tau_net": [2.0, 0.5, np.nan, 1, 1, 1],
                  "tau": 1.0}).to_csv(path, index=False)
    np.testing.assert_array_equal(load_tau_net(path, 5, 3), [0.5, np.nan, 2.0])
    with pytest.raises(ValueError, match="no tau_net for all 4 neurons"):
        load_tau_net(path, 5, 4)
    with pytest.raises(ValueError, match="run analyze first"):
        load_tau_net(tmp_path / "missing.csv", 5, 3)


# --- the paper code's checkpoints (scaled down) -------------------------------------------------------
def test_reference_perturbations_start_exact_and_fall_to_chance(reference_dir):
    protocol = StreamingProtocol(repeats=4, warmup=100, length=400, seed=0)
    for name in ("single_parity_network_1/rnn_N5_N5", "cumulative_parity_network_1/rnn_N2_N5"):
        ckpt = load_any(reference_dir / name)
        expected = int(round(_streaming(ckpt, protocol)[-1].item() * protocol.repeats * protocol.length))
        for target in ("w", "tau"):
            table = perturbation_sweep(ckpt, target, [0, 10], protocol=protocol)
            assert _counts(table[table["epsilon"] == 0], protocol).tolist() == [expected]
            assert abs(table.loc[table["epsilon"] == 10, "relative_accuracy"].mean()) < 0.12, (name, target)


def test_reference_forgetting_single_head_forgets_and_multi_head_does_not(reference_dir):
    protocol = StreamingProtocol(repeats=2, warmup=100, length=400, seed=0)
    single = sorted((reference_dir / "single_parity_network_1").glob("rnn_N*"))
    m = forgetting_matrix([load_any(f) for f in single], protocol=protocol)
    assert sorted(m["checkpoint_n"].unique()) == list(range(2, 12))
    diag = m[m["n"] == m["checkpoint_n"]]
    assert diag["trained"].all() and (diag["accuracy"] >= 0.95).all(), diag
    earlier = m[m["n"] < m["checkpoint_n"]]
    assert earlier["accuracy"].between(0.35, 0.7).all() and abs(earlier["accuracy"].mean() - 0.5) < 0.05
    assert (forgetting_scores(m)["forgetting"].dropna() > 0.4).all()
    multi = sorted((reference_dir / "cumulative_parity_network_1").glob("rnn_N*"))
    mm = forgetting_matrix([load_any(f) for f in multi], protocol=protocol)
    assert mm["trained"].all() and (mm["accuracy"] >= 0.95).all()
    assert (forgetting_scores(mm)["forgetting"].dropna().abs() < 0.05).all()


# --- the command line -----------------------------------------------------------------------------------
def test_robustness_cli_writes_the_whole_report(reference_dir, tmp_path, capsys):
    single, multi = reference_dir / "single_parity_network_1", reference_dir / "cumulative_parity_network_1"
    small = ["--repeats", "2", "--length", "120", "--no-progress", "--out", str(tmp_path)]
    argv = ["robustness", str(single), str(multi), "--n", "5", "--kind", "perturb-w", "--kind", "perturb-tau",
            "--kind", "ablation", "--kind", "forgetting", "--kind", "continuous", "--w-epsilons", "0", "0.5", "10",
            "--tau-epsilons", "0", "0.1", "--ablate-count", "2", "--ks", "1", "4", "--sequences", "16", "--json"]
    assert main(argv + small) == 0
    out = tmp_path / "robustness"
    summary = json.loads(capsys.readouterr().out)
    assert summary["out"] == str(out) and set(summary) >= {"perturb-w", "perturb-tau", "ablation", "forgetting", "continuous"}
    for name in ("perturbation.csv", "ablation.csv", "forgetting.csv", "forgetting_scores.csv", "continuous.csv",
                 "perturbation_w.png", "perturbation_tau.png", "ablation.png", "forgetting.png", "continuous.png",
                 "summary.json"):
        assert (out / name).stat().st_size > 0, name
    p = pd.read_csv(out / "perturbation.csv")
    assert {"kind", "epsilon", "repeat", "n", "accuracy", "relative_accuracy"} <= set(p.columns)
    assert set(p["network"]) == {"single_parity_network_1", "cumulative_parity_network_1"} and set(p["n"]) == {5}
    assert len(p) == 2 * (3 + 2) * 2
    a = pd.read_csv(out / "ablation.csv")
    assert {"neuron", "tau", "group", "n", "accuracy"} <= set(a.columns) and len(a) == 2 * (1 + 4) * 2
    f = pd.read_csv(out / "forgetting.csv")
    assert {"checkpoint_n", "n", "accuracy"} <= set(f.columns) and f["checkpoint_n"].max() == 5
    c = pd.read_csv(out / "continuous.csv")
    assert {"k", "n", "accuracy"} <= set(c.columns) and len(c) == 2 * (1 + 4)  # single: N = 5; multi: N = 2..5
    # a later run of one kind keeps the other kind's rows
    assert main(["robustness", str(single), "--n", "5", "--kind", "perturb-w", "--w-epsilons", "0", "1"] + small) == 0
    p2 = pd.read_csv(out / "perturbation.csv")
    assert len(p2[p2["kind"] == "perturb-tau"]) == len(p[p["kind"] == "perturb-tau"])
    assert len(p2[p2["kind"] == "perturb-w"]) == 2 * 2
    assert json.loads((out / "summary.json").read_text()).keys() >= {"perturb-tau", "ablation"}


def test_networks_from_run_dirs_files_and_reference_folders(reference_dir):
    nets = resolve_networks([reference_dir / "single_parity_network_1", reference_dir / "cumulative_parity_network_1" / "rnn_N2_N8"])
    assert [n.name for n in nets] == ["single_parity_network_1", "cumulative_parity_network_1"]
    assert [f.name for f in nets[0].files][:3] == ["rnn_N2_N2", "rnn_N3_N3", "rnn_N4_N4"] and len(nets[0].files) == 10
    assert nets[0].checkpoint().name == "rnn_N11_N11" and nets[0].checkpoint(7).name == "rnn_N7_N7"
    assert [f.name for f in nets[0].up_to(4)] == ["rnn_N2_N2", "rnn_N3_N3", "rnn_N4_N4"]
    assert len(resolve_networks([reference_dir])) == 3


def test_ablation_sweep_rules_groups_and_random_on_a_small_network():
    ckpt = _tiny(hidden=10)
    spec = ablation_sweep(ckpt, "tau", 2, group_size=2, protocol=SMALL, heads="all")
    groups = spec[spec["group"] != "none"]
    assert set(groups["size"]) == {2} and set(groups["neuron"]) == {-1}
    assert len(spec) == (1 + 2) * SMALL.repeats * 3
    assert groups["neurons"].str.split().map(len).eq(2).all()
    paper = ablation_sweep(ckpt, "tau", 2, group_size=2, rule="paper", protocol=SMALL, heads="all")
    # head 0 reads neither rule's silenced neurons; the same network and streams give the same answers there
    pd.testing.assert_series_equal(spec[spec["head"] == 0]["accuracy"].reset_index(drop=True),
                                   paper[paper["head"] == 0]["accuracy"].reset_index(drop=True))
    rand = ablation_sweep(ckpt, "random", 3, protocol=SMALL)
    assert set(rand["group"]) == {"none", "random"} and rand["neuron"].nunique() == 4


def test_ablation_by_tau_net_reads_the_analysis_beside_the_network(reference_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = reference_dir / "cumulative_parity_network_1"
    assert main(["analyze", str(folder), "--n", "5", "--steps", "600", "--trials", "1", "--max-lag", "40",
                 "--no-progress"]) == 0
    assert main(["robustness", str(folder), "--n", "5", "--kind", "ablation", "--ablate", "tau-net",
                 "--ablate-count", "2", "--repeats", "2", "--length", "100", "--no-progress"]) == 0
    table = pd.read_csv(tmp_path / "robustness" / "cumulative_parity_network_1" / "ablation.csv")
    neurons = pd.read_csv(tmp_path / "analysis" / "cumulative_parity_network_1" / "neurons.csv")
    tau_net = neurons.set_index("neuron")["tau_net"]
    longest = table.loc[table["group"] == "long", "neuron"].unique()
    assert sorted(tau_net.loc[longest]) == sorted(tau_net.dropna().nlargest(2))
    assert table.loc[table["group"] == "long", "tau_net"].notna().all()


def test_a_sweep_directory_gives_each_of_its_runs(tmp_path):
    from rnn_timescales.training.trainer import train

    sweep = tmp_path / "sweep"
    for curriculum in ("multi", "single"):
        config = build_config("paper", overrides=tiny_overrides(hidden=8, batch=8, steps=5, eval_batches=1)
                              + [f"curriculum.kind={curriculum}", "curriculum.threshold=0.01", "training.max_epochs=2"])
        train(config, sweep / f"curriculum-{curriculum}", progress=False)
    (sweep / "errors").mkdir()  # what a sweep keeps beside its runs is not a network
    nets = resolve_networks([sweep])
    assert [n.name for n in nets] == ["curriculum-multi", "curriculum-single"]
    assert all(n.run_dir is not None and n.files for n in nets)
    # a run that has not finished (interrupted, or training now) is left out of the sweep's networks...
    summary = sweep / "curriculum-single" / "summary.json"
    finished = summary.read_text()
    summary.write_text(json.dumps({**json.loads(finished), "stop_reason": "interrupted"}))
    assert [n.name for n in resolve_networks([sweep])] == ["curriculum-multi"]
    # ...but given as a run directory it is analysed as it stands
    assert [n.name for n in resolve_networks([sweep / "curriculum-single"])] == ["curriculum-single"]
    summary.unlink()
    (sweep / "curriculum-multi" / "summary.json").unlink()
    with pytest.raises(CheckpointError, match="has finished yet"):
        resolve_networks([sweep])
