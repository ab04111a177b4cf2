"""A plan's fast path (points that differ only in numbers of free settings share one full validation,
see ``points._configurations``) gives what full validation of every point gives (issue 32)."""

from __future__ import annotations

import inspect
import random
import re

import pytest

from rnn_timescales.config import ConfigError, RunConfig, flatten
from rnn_timescales.experiments.sweep import SweepSpec, plan, point_config
from rnn_timescales.experiments.sweep.points import (
    _RESOLVE_READS,
    _configurations,
    _free_keys,
    expand,
)

# Values of several settings, valid and not, including the cross-field constraints _resolve checks
# (training.target_n vs curriculum.n_start, the gated models' refusal of leaky-RNN settings, heads).
POOL = {  # setting: (valid values, invalid ones)
    "optimizer.lr": ([0.01, 0.5, 1, 1e-3], [0.0, -0.1]),
    "optimizer.momentum": ([0.0, -0.0, 0.9], [-1]),
    "model.hidden_size": ([8, 16, 16.0], [0, 2.5]),
    "model.tau_init": ([None, 1.5, 3], [0]),
    "model.type": (["leaky_rnn", "gru"], []),
    "model.n_heads": ([None, 3, 200], []),
    "training.target_n": ([None, 2, 5], []),
    "training.batch_size": ([16, 32], [0, True]),
    "training.max_epochs": ([1, 2], []),
    "curriculum.n_start": ([2, 3, 6], []),
    "seed": ([0, 1], [-1]),
}
OVERRIDES = [[], [], ["optimizer.lr=0.2"], ["model.hidden_size=12"], ["seed=3"]]


def _values(rng: random.Random, key: str, n: int) -> list:
    valid, invalid = POOL[key]
    values = rng.sample(valid, min(n, len(valid)))
    if invalid and rng.random() < 0.2:
        values.insert(rng.randrange(len(values) + 1), rng.choice(invalid))
    return values


def _random_spec(rng: random.Random) -> SweepSpec:
    keys = rng.sample(sorted(POOL), rng.randint(2, 4))
    grid = {k: _values(rng, k, rng.randint(1, 3)) for k in keys}
    others = sorted(set(POOL) - set(keys))
    runs = [{k: _values(rng, k, 1)[0] for k in rng.sample(others, rng.randint(1, 2))} for _ in range(rng.choice([0, 0, 1, 2]))]
    return SweepSpec.from_mapping({"base": {"preset": "quick"}, "grid": grid, "runs": runs,
                                   "overrides": rng.choice(OVERRIDES)})


def _full(spec: SweepSpec) -> tuple[list[RunConfig] | None, str | None]:
    """Every point validated in full, and the message plan must refuse the sweep with (or None)."""
    raw, configs = expand(spec), []
    for settings in raw:
        try:
            configs.append(point_config(spec, settings))
        except ConfigError as e:
            return None, str(e)
    seen: dict[str, int] = {}
    for i, config in enumerate(configs):
        key = repr(sorted(flatten(config.to_dict()).items()))
        if key in seen:
            a, b = (", ".join(f"{k}={v}" for k, v in raw[j].items()) for j in (seen[key], i))
            return configs, f"sweep points ({a}) and ({b}) are the same run; remove one"
        seen[key] = i
    return configs, None


@pytest.mark.parametrize("seed", range(60))
def test_the_fast_path_gives_what_full_validation_gives(seed):
    spec = _random_spec(random.Random(seed))
    expected, message = _full(spec)
    if message is not None:
        with pytest.raises(ConfigError) as caught:
            plan(spec)
        assert str(caught.value) == message
        return
    points = plan(spec)
    assert [p.config for p in points] == expected
    assert [p.config.to_dict() for p in points] == [c.to_dict() for c in expected]
    _, flats, _ = _configurations(spec, expand(spec))
    assert flats == [flatten(c.to_dict()) for c in expected]


def test_the_fast_path_is_taken_for_numbers_of_free_settings(monkeypatch):
    from rnn_timescales.experiments.sweep import points as module

    spec = SweepSpec.from_mapping({"base": {"preset": "quick"}, "runs": [{"model.type": "gru"}, {"model.type": "leaky_rnn"}],
                                   "grid": {"optimizer.lr": [0.1, 0.2], "model.hidden_size": [8, 16],
                                            "training.target_n": [None]}})
    assert _free_keys(spec, {"base": flatten(spec.base), "overrides": []}) == {"optimizer.lr", "model.hidden_size"}
    full = []
    monkeypatch.setattr(module, "point_config", lambda *a: full.append(a[1]) or point_config(*a))
    points = plan(spec)
    assert len(points) == 8 and len(full) == 3  # the first point read twice (the memo), then one per model type
    assert [p.name for p in points][:3] == ["lr-0.1_h-8_model-gru", "lr-0.1_h-8_model-leaky-rnn",
                                            "lr-0.1_h-16_model-gru"]
    assert points[2].config.model.n_heads == points[0].config.model.n_heads  # the heads _resolve fills in
    assert [p.config for p in points] == [point_config(spec, p.settings) for p in points]
    with_override = SweepSpec.from_mapping({"base": {"preset": "quick"}, "grid": {"model.hidden_size": [8, 16]},
                                            "overrides": ["model.tau_init=2"]})
    assert _free_keys(with_override, {"base": {}, "overrides": [{"model": {"tau_init": 2}}]}) == set()


def test_a_bad_number_in_a_free_setting_is_refused_naming_its_point():
    spec = SweepSpec.from_mapping({"base": {"preset": "quick"},
                                   "grid": {"optimizer.lr": [0.1, 0.2, -1], "model.hidden_size": [8, 16]}})
    with pytest.raises(ConfigError, match=r"^sweep point \(optimizer.lr=-1, model.hidden_size=8\): optimizer.lr"):
        plan(spec)
    gru = SweepSpec.from_mapping({"base": {"preset": "quick", "model": {"type": "gru"}},
                                  "grid": {"model.hidden_size": [8, 16], "model.tau_init": [None, 2.0]}})
    with pytest.raises(ConfigError, match=r"^sweep point \(model.hidden_size=8, model.tau_init=2.0\): .*belongs to the leaky RNN"):
        plan(gru)


def test_resolve_reads_only_the_settings_the_fast_path_leaves_to_the_template():
    """The fast path's argument rests on RunConfig._resolve reading, outside the task and curriculum,
    only _RESOLVE_READS: this fails when it reads another setting of a section the fast path varies."""
    source = inspect.getsource(RunConfig._resolve)
    read = set(re.findall(r"self\.((?:model|optimizer|training)\.\w+)", source)) - {"model.model_copy"}  # heads: see _section
    assert read and read <= _RESOLVE_READS, read - _RESOLVE_READS
    assert not re.search(r"self\.(model|optimizer|training)\b(?!\.)", source)  # no whole section handed on
    assert not re.search(r"self\.(seed|device|preset)\b", source)
