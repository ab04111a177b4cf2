"""Typed run configuration: one object per run, defaults = the paper's, YAML in and out.

A run's configuration is built in layers, each overriding the one before:

1. a preset (``paper``: the paper's exact values; ``quick``: sized for a 2-core CPU; ``gated``:
   the paper code's LSTM setup; ``h19``: Haviv et al. 2019's delayed recall), with the task's own
   layer for the preset where there is one (``quick.delayed-recall.yaml``),
2. a YAML file (``--config``),
3. ``key=value`` overrides with dotted keys (``--set training.batch_size=64``),
4. the named command-line flags.

Every value is validated before any work starts; :class:`ConfigError` carries a one-line message
that says what to fix.

- :mod:`.schema`: the sections and :class:`RunConfig` (validation, resolution of what the task
  decides: its default curriculum and readout heads).
- :mod:`.mapping`: YAML read safely, layers merged, dotted keys, ``--set`` overrides.
- :mod:`.layers`: presets and :func:`build_config`.
- :mod:`.compare`: :func:`config_difference`, the one comparison of a configuration with a run's.
"""

from rnn_timescales.config.compare import MACHINE_RESOLVED, RESUMABLE, config_difference, resumable_changes, resume_config
from rnn_timescales.config.layers import PRESETS, build_config, preset_dict
from rnn_timescales.config.mapping import flatten, merge, parse_override, read_yaml
from rnn_timescales.config.schema import (
    CurriculumConfig,
    ModelConfig,
    OptimizerConfig,
    RunConfig,
    SpeedRegularization,
    TaskConfig,
    TrainingConfig,
    validate,
)
from rnn_timescales.errors import ConfigError

__all__ = [
    "MACHINE_RESOLVED", "PRESETS", "RESUMABLE", "ConfigError", "CurriculumConfig", "ModelConfig", "OptimizerConfig",
    "RunConfig", "SpeedRegularization", "TaskConfig", "TrainingConfig", "build_config", "config_difference",
    "flatten", "merge", "parse_override", "preset_dict", "read_yaml", "resumable_changes", "resume_config",
    "validate",
]
