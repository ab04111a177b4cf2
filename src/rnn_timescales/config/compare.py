"""The one comparison of a configuration with a run's: which settings differ, and which of them
a resumed run may take (train --resume, sweeps, compare-models, robustness retraining)."""

from __future__ import annotations

from typing import Any

from rnn_timescales.config.mapping import flatten, merge, parse_override
from rnn_timescales.config.schema import RunConfig, validate
from rnn_timescales.errors import ConfigError

# Settings a resumed run may change: they decide when to stop and what to do on divergence,
# never what a step computes, so the resumed run stays the run its config describes.
RESUMABLE = (
    "training.max_epochs",
    "training.target_n",
    "training.target_level",
    "training.time_budget_s",
    "training.divergence",
    "training.rollback_lr_factor",
    "training.max_rollbacks",
    "training.state_every_s",
)
# Settings a run resolves from the machine it runs on. ``auto`` asks the machine to choose, so a
# run made with ``auto`` matches any value it was resolved to, and a resolved value matches ``auto``.
MACHINE_RESOLVED = ("device", "model.precision")


def config_difference(
    saved: RunConfig | dict[str, Any],
    wanted: RunConfig | dict[str, Any],
    *,
    skip: tuple[str, ...] = RESUMABLE,
    where: tuple[str, str] = ("there", "now"),
) -> str | None:
    """The first setting (by dotted name, outside ``skip``) on which a saved configuration and a
    wanted one differ, as ``"key: <saved> there, <wanted> now"`` (``where`` names the two sides);
    None when they describe the same run.

    This is the one comparison of a configuration with a run's, used wherever a run directory is
    resumed or reused (``train --resume``, sweeps, compare-models, robustness retraining). A
    setting of :data:`MACHINE_RESOLVED` that is ``auto`` on either side matches any value: the
    run resolved ``auto`` on its machine (``config.yaml`` records ``bf16`` or ``fp32``), and the
    user who wrote ``auto`` asked for exactly that.
    """
    flat_saved = flatten(saved.to_dict() if isinstance(saved, RunConfig) else saved)
    flat_wanted = flatten(wanted.to_dict() if isinstance(wanted, RunConfig) else wanted)
    for key in sorted(set(flat_saved) | set(flat_wanted)):
        a, b = flat_saved.get(key), flat_wanted.get(key)
        if key in skip or a == b or (key in MACHINE_RESOLVED and "auto" in (a, b)):
            continue
        return f"{key}: {a!r} {where[0]}, {b!r} {where[1]}"
    return None


def resumable_changes(saved: RunConfig | dict[str, Any], wanted: RunConfig | dict[str, Any]) -> dict[str, Any]:
    """The settings of :data:`RESUMABLE` on which a run's saved configuration and a wanted one
    differ, as dotted name -> wanted value: what resuming the run with the wanted configuration
    changes (its budget and stopping rules), in the order of :data:`RESUMABLE`."""
    flat_saved = flatten(saved.to_dict() if isinstance(saved, RunConfig) else saved)
    flat_wanted = flatten(wanted.to_dict() if isinstance(wanted, RunConfig) else wanted)
    return {k: flat_wanted.get(k) for k in RESUMABLE if flat_saved.get(k) != flat_wanted.get(k)}


def resume_config(saved: RunConfig, overrides: list[str] | None) -> RunConfig:
    """``saved`` with ``key=value`` overrides applied; only the settings in :data:`RESUMABLE` may
    change (ConfigError otherwise)."""
    data = saved.to_dict()
    for text in overrides or []:
        layer = parse_override(text)
        for key in flatten(layer):
            if key not in RESUMABLE:
                raise ConfigError(
                    f"a resumed run keeps its configuration; {key!r} cannot change "
                    f"(only {', '.join(k.split('.')[-1] for k in RESUMABLE)} can)"
                )
        data = merge(data, layer)
    return validate(data)
