"""The run directory, read and written in one place.

A run directory holds ``config.yaml``, ``metrics.csv``, ``head_metrics.csv``, ``summary.json``,
``checkpoints/`` (one file per solved level, the untrained and the final network) and ``state/``
(the training state a resumed run continues from); :mod:`.files` names them.

- :mod:`.files`: the names of a run directory's files, and which checkpoints of a run an analysis reads.
- :mod:`.checkpoints`: our checkpoint format (safetensors with a SHA-256, never unpickled).
- :mod:`.state`: the training state file.
- :mod:`.rundir`: claiming, locking and writing a run directory; new, resume or reuse of one.
- :mod:`.verify`: whether a run's checkpoints and states are the bytes written (``sweep verify``).
- :mod:`.paper`: the paper code's checkpoints (names, safe loading, importing them as run directories).
- :mod:`.load`: :func:`load_any`, the network a path names.
"""

from rnn_timescales.errors import CheckpointError
from rnn_timescales.runs.checkpoints import (
    FINAL_NAME,
    INIT_NAME,
    SUFFIX,
    LoadedCheckpoint,
    analysed_checkpoints,
    checkpoint_at_n,
    checkpoint_name,
    is_run_dir,
    latest_checkpoint,
    list_run_checkpoints,
    load_checkpoint,
    n_of,
    n_range,
    save_checkpoint,
    solved_checkpoints,
)
from rnn_timescales.runs.load import load_any, resolve_checkpoint

__all__ = [
    "FINAL_NAME",
    "INIT_NAME",
    "SUFFIX",
    "CheckpointError",
    "LoadedCheckpoint",
    "analysed_checkpoints",
    "checkpoint_at_n",
    "checkpoint_name",
    "is_run_dir",
    "latest_checkpoint",
    "list_run_checkpoints",
    "load_any",
    "load_checkpoint",
    "n_of",
    "n_range",
    "resolve_checkpoint",
    "save_checkpoint",
    "solved_checkpoints",
]
