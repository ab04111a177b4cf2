"""Typed configuration: presets, YAML, overrides and validation."""

from __future__ import annotations

import pytest

from rnn_timescales.config import ConfigError, RunConfig, build_config, parse_override


def test_paper_preset_is_the_spec_table():
    c = build_config("paper")
    assert (c.optimizer.name, c.optimizer.lr, c.optimizer.momentum, c.optimizer.nesterov) == ("sgd", 0.05, 0.1, True)
    assert c.optimizer.grad_clip == 2.0
    assert (c.training.batch_size, c.training.steps_per_epoch, c.training.eval_batches) == (256, 600, 50)
    assert c.training.max_epochs == 1000
    assert (c.model.hidden_size, c.model.n_heads, c.model.nonlinearity, c.model.placement) == (500, 100, "leaky_relu", "outside")
    assert c.curriculum.threshold == 0.98 and c.curriculum.rule == "mean_and_newest"
    assert c == RunConfig()  # the code defaults are the paper's too


def test_quick_preset_changes_only_epoch_size_budget_and_precision():
    paper, quick = build_config("paper").to_dict(), build_config("quick").to_dict()
    diff = {(s, k) for s in paper if isinstance(paper[s], dict) for k in paper[s] if paper[s][k] != quick[s][k]}
    assert diff == {("training", "steps_per_epoch"), ("training", "eval_batches"), ("training", "time_budget_s"),
                    ("model", "precision")}
    assert paper["model"]["precision"] == "fp32" and quick["model"]["precision"] == "auto"
    assert quick["preset"] == "quick" and quick["training"]["time_budget_s"] is not None


def test_yaml_round_trip_and_layers(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("task:\n  name: dms\ntraining:\n  batch_size: 32\n")
    c = build_config("paper", config_file=f, overrides=["training.batch_size=16", "curriculum.kind=single"],
                     **{"seed": 7, "training.max_epochs": None})
    assert (c.task.name, c.training.batch_size, c.curriculum.kind, c.seed, c.preset) == ("dms", 16, "single", 7, "custom")
    c.save(tmp_path / "saved.yaml")
    assert RunConfig.load(tmp_path / "saved.yaml") == c


def test_override_parsing():
    assert parse_override("model.hidden_size=64") == {"model": {"hidden_size": 64}}
    assert parse_override("training.target_n=null") == {"training": {"target_n": None}}
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_override("no-equals-sign")


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["task.name=parrity"], "choose one of 'parity', 'dms', 'flipflop'"),
        (["curriculum.kind=multihead"], "curriculum.kind"),
        (["curriculum.n_start=1"], "curriculum.n_start"),
        (["model.hidden_size=-5"], "model.hidden_size"),
        (["model.hiden_size=5"], "did you mean 'hidden_size'"),
        (["training.batch_size=abc"], "training.batch_size"),
        (["optimizer.lr=0"], "optimizer.lr"),
        (["curriculum.kind=sliding", "curriculum.window=3", "curriculum.forget=4"], "must not exceed"),
        (["curriculum.kind=multi", "curriculum.initial_heads=5", "model.n_heads=3"], "model.n_heads"),
        (["training.target_n=3", "curriculum.n_start=5"], "below curriculum.n_start"),
        (["colour=blue"], "unknown setting 'colour'"),
    ],
)
def test_invalid_configs_are_rejected_in_one_line(overrides, message):
    with pytest.raises(ConfigError, match=message) as info:
        build_config("paper", overrides=overrides)
    assert "\n" not in str(info.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        build_config("paper", config_file=tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        build_config("paper", config_file=bad)
    with pytest.raises(ConfigError, match="unknown preset"):
        build_config("papr")


def test_a_config_file_naming_a_preset_starts_from_it(tmp_path):
    """`train --config FILE` with `preset: h19` in FILE layers FILE over h19 (GRU of 200 units, batch
    128, Adam 1e-5), not over the default preset under h19's name; --preset names the same one or is
    refused; a saved config.yaml (complete) is unchanged by the starting preset."""
    f = tmp_path / "h19.yaml"
    f.write_text("preset: h19\ntask: {name: delayed-recall, dataset: digits}\ntraining: {max_epochs: 3}\n")
    for preset in (None, "h19"):
        c = build_config(preset, config_file=f, default_preset="quick")
        assert (c.preset, c.model.type, c.model.hidden_size, c.training.batch_size) == ("h19", "gru", 200, 128)
        assert (c.optimizer.name, c.optimizer.lr, c.training.max_epochs) == ("adam", 1e-5, 3)
    with pytest.raises(ConfigError, match="preset 'quick' and the config file .*'s preset 'h19' differ"):
        build_config("quick", config_file=f)
    plain = tmp_path / "plain.yaml"
    plain.write_text("seed: 3\n")
    c = build_config(None, config_file=plain, default_preset="quick")
    assert (c.preset, c.seed, c.model.hidden_size) == ("custom", 3, build_config("quick").model.hidden_size)
    saved = tmp_path / "saved.yaml"
    quick = build_config("quick", overrides=["seed=5", "task.name=dms"])
    quick.save(saved)
    assert build_config(None, config_file=saved, default_preset="paper") == quick
