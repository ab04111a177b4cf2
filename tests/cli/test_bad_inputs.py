"""Every bad input, on every command: one line on stderr, exit code 2, nothing written.

Each case is a row of the table in ``docs/errors.md`` (the test checks that every case is listed
there). A case gets a fresh workspace holding a small trained run (``run/``) and, for
import-reference, copies of the paper code's checkpoints; every file in the workspace (names,
sizes, modification times, contents) must be the same after the command as before.
"""

from __future__ import annotations

import json
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import torch
from conftest import REFERENCE_DIR, assert_case_refused, missing_from_docs, require_reference_checkpoints, tiny_overrides
from safetensors.torch import save_file

from rnn_timescales.config import build_config
from rnn_timescales.models import build_model
from rnn_timescales.runs.checkpoints import save_checkpoint
from rnn_timescales.training.trainer import train

DOCS = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
REF = REFERENCE_DIR / "cumulative_parity_network_1"


class Evil:
    """Unpickling this would run a shell command that creates the file ``pwned``."""

    def __reduce__(self):
        import os

        return (os.system, ("touch pwned",))


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(data, bytes) else path.write_text)(data)
    return path


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _npy(path: Path, shape: tuple, nan: bool = False) -> Path:
    import numpy as np

    x = np.random.default_rng(0).normal(size=shape)
    if nan:
        x.flat[7] = np.nan
    np.save(path, x)
    return path


def _ckpt(ws: Path) -> Path:
    return ws / "run" / "checkpoints" / "rnn_N2_N2.safetensors"


def _edit_metadata(ws: Path) -> None:
    # Same length, valid JSON, only the recorded N changes: caught by the SHA-256, not by parsing.
    p = _ckpt(ws)
    p.write_bytes(p.read_bytes().replace(b'"ns":"[2]"', b'"ns":"[3]"', 1))


def _mismatched_checkpoint(ws: Path) -> None:
    small = build_config("paper", overrides=["model.hidden_size=8", "model.n_heads=4"])
    claimed = build_config("paper", overrides=["model.hidden_size=16", "model.n_heads=4"])
    save_checkpoint(ws / "mismatch.safetensors", build_model(small), config=claimed, level={"ns": [2]}, epoch=1)


def _pickle_bomb(path: Path, zipped: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if zipped:
        torch.save({"state_dict": Evil()}, path)
    else:
        path.write_bytes(pickle.dumps({"state_dict": Evil()}, protocol=2))


def _copy_ref(ws: Path, folder: str, name: str, as_name: str | None = None) -> Path:
    target = ws / "ref" / folder / (as_name or name)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(REF / name, target)
    return target


def _no_state(ws: Path) -> None:
    shutil.rmtree(ws / "run" / "state")


def _other_hidden(ws: Path) -> None:
    p = ws / "run" / "config.yaml"
    p.write_text(p.read_text().replace("hidden_size: 16", "hidden_size: 24"))


def _recall_run(ws: Path) -> None:
    """A tiny delayed-recall run in ``ws/recall`` (2 training steps)."""
    config = build_config("quick", overrides=tiny_overrides(hidden=4, batch=8, steps=2, eval_batches=1)
                          + ["task.name=delayed-recall", "training.max_epochs=1"])
    train(config, ws / "recall", progress=False)


@dataclass
class Case:
    id: str
    command: str
    what: str
    argv: list[str]
    expect: str
    setup: Callable[[Path], object] | None = None
    needs_reference: bool = False


T = ["train", "--no-progress", "--max-epochs", "1", "--out", "new"]
CASES = [
    # --- train: configuration ---------------------------------------------------------------
    Case("unknown-task", "train", "unknown task name", T + ["--task", "partiy"], "did you mean 'parity'"),
    Case("unknown-curriculum", "train", "unknown curriculum", T + ["--curriculum", "multihead"], "did you mean 'multi'"),
    Case("unknown-preset", "train", "unknown preset", T + ["--preset", "papr"], "did you mean 'paper'"),
    Case("unknown-model-option", "train", "unknown nonlinearity", T + ["--set", "model.nonlinearity=leakyrelu"],
         "did you mean 'leaky_relu'"),
    Case("n-below-2", "train", "N below 2", T + ["--set", "curriculum.n_start=1"], "curriculum.n_start"),
    Case("negative-hidden", "train", "negative hidden size (flag)", T + ["--hidden", "-5"], "positive integer"),
    Case("negative-hidden-set", "train", "negative hidden size (--set)", T + ["--set", "model.hidden_size=-5"],
         "model.hidden_size"),
    Case("zero-epochs", "train", "zero epochs", T + ["--max-epochs", "0"], "positive integer"),
    Case("unknown-setting", "train", "misspelt setting", T + ["--set", "training.batchsize=64"],
         "did you mean 'batch_size'"),
    Case("wrong-type", "train", "value of the wrong type", T + ["--set", "training.batch_size=abc"],
         "training.batch_size"),
    Case("bad-set-syntax", "train", "--set without '='", T + ["--set", "training.batch_size"], "section.key=value"),
    Case("config-missing", "train", "config file missing", T + ["--config", "missing.yaml"], "does not exist"),
    Case("config-malformed", "train", "config file not valid YAML", T + ["--config", "bad.yaml"], "not valid YAML",
         lambda ws: _write(ws / "bad.yaml", "model: [unclosed\n")),
    Case("config-python-tag", "train", "config file with a !!python tag (would run code)", T + ["--config", "evil.yaml"],
         "tag that is not allowed", lambda ws: _write(ws / "evil.yaml", "seed: !!python/object/apply:os.system ['touch pwned']\n")),
    Case("config-not-mapping", "train", "config file holding a list", T + ["--config", "list.yaml"], "must hold a mapping",
         lambda ws: _write(ws / "list.yaml", "- 1\n- 2\n")),
    Case("config-preset-conflict", "train", "--preset and the config file's preset: differ",
         T + ["--preset", "paper", "--config", "h19.yaml"], "differ; give one of them",
         lambda ws: _write(ws / "h19.yaml", "preset: h19\n")),
    Case("forget-over-window", "train", "sliding window smaller than its forget step",
         T + ["--curriculum", "sliding", "--set", "curriculum.window=3", "--set", "curriculum.forget=4"], "must not exceed"),
    Case("target-below-start", "train", "target N below the first N",
         T + ["--target-n", "2", "--set", "curriculum.n_start=3"], "below curriculum.n_start"),
    Case("cuda-unavailable", "train", "--device cuda without CUDA", T + ["--device", "cuda"], "CUDA is not available"),
    # --- train: run directories --------------------------------------------------------------
    Case("out-not-empty", "train", "--out is a directory holding files", T[:-1] + ["run"], "already holds files"),
    Case("out-is-file", "train", "--out is a file", T[:-1] + ["afile"], "is a file",
         lambda ws: _write(ws / "afile", "x")),
    Case("out-under-file", "train", "--out lies under a file", T[:-1] + ["afile/run"], "which is a file",
         lambda ws: _write(ws / "afile", "x")),
    Case("resume-missing", "train", "--resume of a missing directory", ["train", "--resume", "nowhere"], "does not exist"),
    Case("resume-not-run", "train", "--resume of a directory that is not a run", ["train", "--resume", "empty"],
         "not a run directory", lambda ws: (ws / "empty").mkdir()),
    Case("resume-no-state", "train", "--resume to train further a run without a training state",
         ["train", "--resume", "run", "--max-epochs", "9"], "no training state", _no_state),
    Case("resume-fixed-flag", "train", "--resume with a flag that would change the run",
         ["train", "--resume", "run", "--hidden", "8"], "cannot be given with it"),
    Case("resume-fixed-setting", "train", "--resume with --set of a setting that would change the run",
         ["train", "--resume", "run", "--set", "optimizer.lr=0.1"], "cannot change"),
    Case("resume-corrupt-state", "train", "--resume to train further with a corrupt training state",
         ["train", "--resume", "run", "--max-epochs", "9"],
         "corrupt", lambda ws: _flip(ws / "run" / "state" / "epoch.safetensors", -3)),
    Case("resume-edited-config", "train", "--resume after config.yaml was edited (hidden size)",
         ["train", "--resume", "run"], r"run directory 'run' was edited by hand: config.yaml differs from its training "
         r"state \(model.hidden_size: \d+ in its training state, 24 in config.yaml\)", _other_hidden),
    Case("unknown-command", "(any)", "unknown command", ["trian"], "invalid choice"),
    # --- evaluate ------------------------------------------------------------------------------
    Case("ckpt-missing", "evaluate", "checkpoint missing", ["evaluate", "run/checkpoints/rnn_N9_N9.safetensors"],
         "does not exist"),
    Case("ckpt-truncated", "evaluate", "checkpoint truncated", ["evaluate", "run/checkpoints/rnn_N2_N2.safetensors"],
         "corrupt or truncated", lambda ws: _truncate(_ckpt(ws))),
    Case("ckpt-flipped-byte", "evaluate", "checkpoint with a flipped byte in a tensor",
         ["evaluate", "run/checkpoints/rnn_N2_N2.safetensors"], "SHA-256", lambda ws: _flip(_ckpt(ws), -5)),
    Case("ckpt-edited-metadata", "evaluate", "checkpoint whose metadata was edited",
         ["evaluate", "run/checkpoints/rnn_N2_N2.safetensors"], "SHA-256", _edit_metadata),
    Case("ckpt-incompatible", "evaluate", "checkpoint whose tensors do not fit its model (hidden size)",
         ["evaluate", "mismatch.safetensors"], "does not fit its configured model", _mismatched_checkpoint),
    Case("ckpt-pickle-bomb", "evaluate", "crafted pickle that would run code",
         ["evaluate", "ref/cumulative_parity_network_1/rnn_N2_N3"], "refusing to load",
         lambda ws: _pickle_bomb(ws / "ref" / "cumulative_parity_network_1" / "rnn_N2_N3", zipped=True)),
    Case("ckpt-raw-pickle", "evaluate", "crafted raw pickle with a checkpoint's name",
         ["evaluate", "run/checkpoints/rnn_N2_N2.safetensors"], "not a safetensors file",
         lambda ws: _pickle_bomb(_ckpt(ws), zipped=False)),
    Case("ckpt-foreign-safetensors", "evaluate", "safetensors file of another program", ["evaluate", "other.safetensors"],
         "not an rnn-timescales checkpoint", lambda ws: save_file({"w": torch.zeros(3)}, str(ws / "other.safetensors"))),
    Case("ckpt-not-a-checkpoint", "evaluate", "a text file", ["evaluate", "notes.txt"], "neither",
         lambda ws: _write(ws / "notes.txt", "hello")),
    Case("eval-dir-not-run", "evaluate", "a directory that is not a run", ["evaluate", "empty"], "not a run directory",
         lambda ws: (ws / "empty").mkdir()),
    Case("eval-run-without-checkpoints", "evaluate", "a run directory without checkpoints", ["evaluate", "bare"],
         "has no checkpoints", lambda ws: _write(ws / "bare" / "config.yaml", "seed: 0\n")),
    Case("eval-warmup-short", "evaluate", "--warmup shorter than N - 1", ["evaluate", "run", "--warmup", "0"],
         "shorter than N - 1"),
    Case("eval-bad-device", "evaluate", "unknown device", ["evaluate", "run", "--device", "tpu"], "--device must be"),
    Case("eval-zero-batches", "evaluate", "zero batches", ["evaluate", "run", "--batches", "0"], "positive integer"),
    # --- import-reference ----------------------------------------------------------------------
    Case("ref-misnamed-folder", "import-reference", "reference file in a misnamed folder",
         ["import-reference", "ref/mynet/rnn_N2_N2", "--out", "imported"], "cannot tell task and curriculum",
         lambda ws: _copy_ref(ws, "mynet", "rnn_N2_N2"), True),
    Case("ref-misnamed-file", "import-reference", "reference file not named rnn_N<min>_N<max>",
         ["import-reference", "ref/cumulative_parity_network_1/model.pt", "--out", "imported"], "expected a file named",
         lambda ws: _copy_ref(ws, "cumulative_parity_network_1", "rnn_N2_N2", "model.pt"), True),
    Case("ref-single-range", "import-reference", "single-head file with N_min != N_max",
         ["import-reference", "ref/single_parity_network_1/rnn_N2_N5", "--out", "imported"], "N_min == N_max",
         lambda ws: _copy_ref(ws, "single_parity_network_1", "rnn_N2_N5"), True),
    Case("ref-missing", "import-reference", "path missing", ["import-reference", "nowhere", "--out", "imported"],
         "does not exist"),
    Case("ref-no-networks", "import-reference", "folder holding no reference networks",
         ["import-reference", "empty", "--out", "imported"], "holds no reference networks",
         lambda ws: (ws / "empty").mkdir()),
    Case("ref-truncated", "import-reference", "truncated reference file (one bad file among good ones)",
         ["import-reference", "ref/cumulative_parity_network_1", "--out", "imported"], "corrupt or truncated",
         lambda ws: (_copy_ref(ws, "cumulative_parity_network_1", "rnn_N2_N2"),
                     _truncate(_copy_ref(ws, "cumulative_parity_network_1", "rnn_N2_N5"))), True),
    Case("ref-flipped-byte", "import-reference", "reference file with a flipped byte",
         ["import-reference", "ref/cumulative_parity_network_1", "--out", "imported"], "CRC-32",
         lambda ws: _flip(_copy_ref(ws, "cumulative_parity_network_1", "rnn_N2_N5"), 100_000), True),
    Case("ref-pickle-bomb", "import-reference", "crafted pickle among reference files",
         ["import-reference", "ref/cumulative_parity_network_1", "--out", "imported"], "refusing to load",
         lambda ws: _pickle_bomb(ws / "ref" / "cumulative_parity_network_1" / "rnn_N2_N3", zipped=False)),
    Case("ref-target-exists", "import-reference", "run directory already exists",
         ["import-reference", "ref/cumulative_parity_network_1", "--out", "imported"], "already exists",
         lambda ws: (_copy_ref(ws, "cumulative_parity_network_1", "rnn_N2_N2"),
                     (ws / "imported" / "cumulative_parity_network_1").mkdir(parents=True)), True),
    Case("ref-out-is-file", "import-reference", "--out is a file",
         ["import-reference", "ref/cumulative_parity_network_1", "--out", "afile"], "is a file",
         lambda ws: (_copy_ref(ws, "cumulative_parity_network_1", "rnn_N2_N2"), _write(ws / "afile", "x")), True),
    # --- analyze -------------------------------------------------------------------------------
    Case("analyze-missing", "analyze", "path missing", ["analyze", "nowhere"], "does not exist"),
    Case("analyze-bad-method", "analyze", "unknown model-selection method", ["analyze", "run", "--method", "aic"],
         "--method must be one of"),
    Case("analyze-fit-lag", "analyze", "--fit-lag above --max-lag", ["analyze", "run", "--fit-lag", "50", "--max-lag", "40"],
         "--fit-lag must be between"),
    Case("analyze-no-such-n", "analyze", "no checkpoint with the requested N", ["analyze", "run", "--n", "9"],
         "no checkpoint with N"),
    Case("analyze-corrupt", "analyze", "corrupt checkpoint", ["analyze", "run", "--n", "2", "--steps", "300",
         "--trials", "1", "--max-lag", "40", "--fit-lag", "20"], "SHA-256", lambda ws: _flip(_ckpt(ws), -5)),
    Case("analyze-out-is-file", "analyze", "--out is a file", ["analyze", "run", "--out", "afile"], "is a file",
         lambda ws: _write(ws / "afile", "x")),
    Case("analyze-out-not-analysis", "analyze", "--out holds files that are not an analysis",
         ["analyze", "run", "--out", "notes"], "not an analysis", lambda ws: _write(ws / "notes" / "todo.txt", "x")),
    # --- timescales ----------------------------------------------------------------------------
    Case("timescales-missing", "timescales", "data file missing", ["timescales", "nowhere.npy", "--axes", "trials,time"],
         "does not exist"),
    Case("timescales-unreadable", "timescales", "corrupt .npy", ["timescales", "bad.npy", "--axes", "trials,time"],
         "cannot read", lambda ws: _write(ws / "bad.npy", b"\x93NUMPY garbage")),
    Case("timescales-format", "timescales", "unknown file type", ["timescales", "data.txt", "--axes", "trials,time"],
         "expected one of .npy", lambda ws: _write(ws / "data.txt", "1 2 3")),
    Case("timescales-axes-unknown", "timescales", "misspelt axis name", ["timescales", "d.npy", "--axes", "trials,tme"],
         "--axes names", lambda ws: _npy(ws / "d.npy", (20, 300))),
    Case("timescales-axes-count", "timescales", "--axes names more axes than the data has",
         ["timescales", "d.npy", "--axes", "time,trials,units"], "the data has 2 axes", lambda ws: _npy(ws / "d.npy", (20, 300))),
    Case("timescales-no-time", "timescales", "--axes without time", ["timescales", "d.npy", "--axes", "trials,units"],
         "must include time", lambda ws: _npy(ws / "d.npy", (20, 300))),
    Case("timescales-nan", "timescales", "NaN in the data", ["timescales", "d.npy", "--axes", "trials,time"],
         "NaN", lambda ws: _npy(ws / "d.npy", (20, 300), nan=True)),
    Case("timescales-complex", "timescales", "complex numbers", ["timescales", "d.npy", "--axes", "trials,time"],
         "complex numbers", lambda ws: __import__("numpy").save(ws / "d.npy", __import__("numpy").ones((20, 300)) * 1j)),
    Case("timescales-text-npy", "timescales", "a text file named .npy", ["timescales", "d.npy", "--axes", "trials,time"],
         "is a text file", lambda ws: _write(ws / "d.npy", "1,2,3\n4,5,6\n")),
    Case("timescales-npz-shapes", "timescales", ".npz of arrays of different shapes, no --key",
         ["timescales", "d.npz", "--axes", "trials,time"], "different shapes",
         lambda ws: __import__("numpy").savez(ws / "d.npz", a=__import__("numpy").zeros((20, 300)), b=__import__("numpy").zeros(3))),
    Case("timescales-short", "timescales", "trials too short for the lags",
         ["timescales", "d.npy", "--axes", "trials,time", "--max-lag", "200"], "too short",
         lambda ws: _npy(ws / "d.npy", (20, 300))),
    Case("timescales-npz-key", "timescales", ".npz without the array --key names",
         ["timescales", "d.npz", "--axes", "trials,time", "--key", "c"], "has no array 'c'",
         lambda ws: __import__("numpy").savez(ws / "d.npz", a=__import__("numpy").zeros((20, 300)), b=__import__("numpy").zeros(3))),
    Case("timescales-csv-text", "timescales", "CSV with words among the numbers",
         ["timescales", "d.csv", "--axes", "time,trials"], "not numbers",
         lambda ws: _write(ws / "d.csv", "a,b\n1,2\n3,x\n")),
    Case("timescales-negative-counts", "timescales", "--kind counts with negative values",
         ["timescales", "d.npy", "--axes", "trials,time", "--kind", "counts"], "non-negative",
         lambda ws: _npy(ws / "d.npy", (20, 300))),
    Case("timescales-negative-integer-counts", "timescales", "--kind counts with negative integers",
         ["timescales", "d.npy", "--axes", "trials,time", "--kind", "counts"], r"values are negative \(smallest -2\)",
         lambda ws: __import__("numpy").save(ws / "d.npy", __import__("numpy").random.default_rng(0).integers(-2, 5, (20, 300)))),
    Case("timescales-unknown-fit", "timescales", "unknown --fit", ["timescales", "d.npy", "--axes", "trials,time", "--fit", "wls"],
         "invalid choice", lambda ws: _npy(ws / "d.npy", (20, 300))),
    Case("timescales-threads", "timescales", "--threads 0", ["timescales", "d.npy", "--axes", "trials,time", "--threads", "0"],
         "expected a positive integer", lambda ws: _npy(ws / "d.npy", (20, 300))),
    Case("timescales-constant", "timescales", "a unit that never changes",
         ["timescales", "d.npy", "--axes", "trials,time", "--interval", "none"], "constant",
         lambda ws: __import__("numpy").save(ws / "d.npy", __import__("numpy").ones((20, 300)))),
    Case("timescales-out-is-file", "timescales", "--out is a file",
         ["timescales", "d.npy", "--axes", "trials,time", "--out", "afile"], "is a file",
         lambda ws: (_npy(ws / "d.npy", (20, 300)), _write(ws / "afile", "x"))),
    # --- slow-points ---------------------------------------------------------------------------
    Case("slow-points-missing", "slow-points", "path missing", ["slow-points", "nowhere"], "does not exist"),
    Case("slow-points-unknown-setting", "slow-points", "misspelt finder hyperparameter",
         ["slow-points", "run", "--set", "tolq=1e-9"], "did you mean 'tol_q'"),
    Case("slow-points-bad-value", "slow-points", "finder hyperparameter out of range",
         ["slow-points", "run", "--set", "lr_init=-1"], "lr_init must be a positive number"),
    Case("slow-points-wrong-type", "slow-points", "finder hyperparameter of the wrong type",
         ["slow-points", "run", "--set", "max_iters=many"], "max_iters must be a non-negative integer"),
    Case("slow-points-bad-set-syntax", "slow-points", "--set without '='", ["slow-points", "run", "--set", "tol_q"],
         "must look like NAME=VALUE"),
    Case("slow-points-negative-noise", "slow-points", "negative noise", ["slow-points", "run", "--noise", "-1"],
         "non-negative number"),
    Case("slow-points-bad-device", "slow-points", "unknown device", ["slow-points", "run", "--device", "tpu"],
         "--device must be"),
    Case("slow-points-corrupt", "slow-points", "corrupt checkpoint", ["slow-points", "run"], "SHA-256",
         lambda ws: _flip(_ckpt(ws), -5)),
    Case("slow-points-tau-net-missing", "slow-points", "--tau-net without an analysis there",
         ["slow-points", "run", "--tau-net", "empty"], "holds no summary.csv", lambda ws: (ws / "empty").mkdir()),
    Case("slow-points-out-is-file", "slow-points", "--out is a file", ["slow-points", "run", "--out", "afile"],
         "is a file", lambda ws: _write(ws / "afile", "x")),
    Case("slow-points-out-not-slow-points", "slow-points", "--out holds files that are not a slow-point analysis",
         ["slow-points", "run", "--out", "notes"], "not a slow-point analysis",
         lambda ws: _write(ws / "notes" / "todo.txt", "x")),
    Case("slow-points-recall", "slow-points", "a delayed-recall network", ["slow-points", "recall"],
         "its per-class slow points come from `rnn-timescales recall-memory`", _recall_run),
    # --- recall-memory and speed-regularization ---------------------------------------------------
    Case("recall-memory-not-recall", "recall-memory", "a network of another task", ["recall-memory", "run"],
         "needs a delayed-recall network"),
    Case("recall-memory-track-two", "recall-memory", "--track with two networks",
         ["recall-memory", "recall", "recall", "--labels", "a", "b", "--track"], "give exactly one", _recall_run),
    Case("recall-memory-bad-clip", "recall-memory", "finder setting out of range",
         ["recall-memory", "recall", "--set", "clip=-1"], "clip must be a positive number"),
    Case("recall-memory-same-names", "recall-memory", "two networks with one name",
         ["recall-memory", "recall", "recall"], "share the name", _recall_run),
    Case("recall-memory-out-not-analysis", "recall-memory", "--out holds other files",
         ["recall-memory", "recall", "--out", "notes"], "not an analysis of recall memory",
         lambda ws: (_recall_run(ws), _write(ws / "notes" / "todo.txt", "x"))),
    Case("speed-reg-not-recall", "speed-regularization", "a network of another task",
         ["speed-regularization", "run"], "needs a delayed-recall network"),
    Case("speed-reg-negative-lambda", "speed-regularization", "lambda not positive",
         ["speed-regularization", "recall", "--lambda", "-1"], "expected a positive number"),
    Case("speed-reg-steps-not-multiple", "speed-regularization", "--steps not a multiple of --epoch-steps",
         ["speed-regularization", "recall", "--steps", "150"], "positive multiple of the epoch length", _recall_run),
    Case("speed-reg-bad-set", "speed-regularization", "a run setting out of range",
         ["speed-regularization", "recall", "--set", "training.batch_size=0"], "training.batch_size", _recall_run),
    Case("speed-reg-out-not-empty", "speed-regularization", "--out holds files",
         ["speed-regularization", "recall", "--out", "notes"], "is not empty",
         lambda ws: (_recall_run(ws), _write(ws / "notes" / "todo.txt", "x"))),
    Case("speed-reg-not-recall-task", "train", "speed regularisation on another task",
         T + ["--set", "training.speed_regularization.weight=0.1"], "needs the delayed-recall task"),
]


# --- robustness ----------------------------------------------------------------------------------
R = ["robustness", "run", "--no-progress"]


def _unfinished_sweep(ws: Path) -> None:
    """A sweep directory holding one copy of the run, its training interrupted."""
    shutil.copytree(ws / "run", ws / "sweep" / "r1")
    summary = ws / "sweep" / "r1" / "summary.json"
    summary.write_text(json.dumps({**json.loads(summary.read_text()), "stop_reason": "interrupted"}))

CASES += [
    Case("robustness-missing", "robustness", "path missing", ["robustness", "nowhere", "--kind", "forgetting"],
         "does not exist"),
    Case("robustness-not-a-network", "robustness", "a directory that is neither a run nor reference checkpoints",
         ["robustness", "empty", "--kind", "forgetting"], "holds no reference networks", lambda ws: (ws / "empty").mkdir()),
    Case("robustness-sweep-unfinished", "robustness", "a sweep directory none of whose runs has finished",
         ["robustness", "sweep", "--kind", "forgetting"], "has finished yet", _unfinished_sweep),
    Case("robustness-no-kind", "robustness", "no --kind", R, "--kind"),
    Case("robustness-unknown-kind", "robustness", "unknown kind", R + ["--kind", "perturb"], "invalid choice"),
    Case("robustness-no-such-n", "robustness", "no checkpoint with the requested N", R + ["--kind", "perturb-w", "--n", "9"],
         "no checkpoint for N = 9"),
    Case("robustness-no-such-head", "robustness", "--head for an N the checkpoint has no head for",
         R + ["--kind", "perturb-w", "--head", "5"], "none answers N = 5"),
    Case("robustness-bad-head", "robustness", "--head neither newest, all nor N values",
         R + ["--kind", "perturb-w", "--head", "newst"], "expected newest, all or N values"),
    Case("robustness-warmup-short", "robustness", "--warmup shorter than N - 1",
         R + ["--kind", "perturb-w", "--warmup", "0"], "shorter than N - 1"),
    Case("robustness-negative-epsilon", "robustness", "negative perturbation strength",
         R + ["--kind", "perturb-w", "--w-epsilons", "0", "-1"], "non-negative number"),
    Case("robustness-unknown-mode", "robustness", "unknown perturbation mode",
         R + ["--kind", "perturb-tau", "--tau-mode", "normalised"], "invalid choice"),
    Case("robustness-no-tau-net", "robustness", "--ablate tau-net without an analysis",
         R + ["--kind", "ablation", "--ablate", "tau-net"], "run analyze first"),
    Case("robustness-too-many-neurons", "robustness", "more neurons to ablate than the network has",
         R + ["--kind", "ablation", "--ablate-count", "50"], "cannot pick 50 neurons"),
    Case("robustness-out-under-file", "robustness", "--out is a file",
         R + ["--kind", "forgetting", "--out", "afile"], "which is a file", lambda ws: _write(ws / "afile", "x")),
    # --- gated models and compare-models -------------------------------------------------------
    Case("gated-leaky-setting", "train", "a leaky-RNN setting with a gated model",
         T + ["--model", "lstm", "--set", "model.train_tau=false"], "belongs to the leaky RNN"),
    Case("gated-lstm-bf16", "train", "bf16 with the LSTM", T + ["--model", "lstm", "--precision", "bf16"],
         "not available for the lstm"),
    Case("gated-initial-state", "train", "unknown initial state of a gated model",
         T + ["--model", "gru", "--set", "model.initial_state=ones"], "model.initial_state"),
    Case("compare-unknown-model", "compare-models", "unknown model", ["compare-models", "--models", "lstm", "grue",
         "--out", "cmp"], "did you mean 'gru'"),
    Case("compare-not-n-task", "compare-models", "a task without N", ["compare-models", "--task", "flipflop",
         "--out", "cmp"], "changes the task's ns"),
    Case("compare-out-not-comparison", "compare-models", "--out holds files that are not a comparison",
         ["compare-models", "--out", "notes"], "not a comparison", lambda ws: _write(ws / "notes" / "todo.txt", "x")),
    Case("compare-other-settings", "compare-models", "--out holds a comparison made with other settings",
         ["compare-models", "--models", "gru", "--hidden", "8", "--out", "cmp"], "with other settings",
         lambda ws: _write(ws / "cmp" / "runs" / "gru_single" / "config.yaml",
                           build_config("gated", overrides=["model.type=gru", "model.hidden_size=16",
                                                             "curriculum.kind=single"]).to_yaml())),
    Case("compare-zero-workers", "compare-models", "zero workers", ["compare-models", "--workers", "0"],
         "positive integer"),
    Case("bad-time-scale", "train", "continuous-time repetition k below 1",
         T + ["--set", "task.time_scale=[0,7]"], "task.time_scale must be an integer k >= 1"),
    Case("robustness-transfer-task", "robustness", "transfer to a task that is not parity or dms",
         R + ["--kind", "transfer", "--transfer-task", "flipflop"], "transfer is between parity and dms"),
    Case("robustness-retrain-zero-epsilon", "robustness", "retraining from a perturbation of strength 0",
         R + ["--kind", "retrain", "--retrain-w", "0"], "expected a positive number"),
    Case("robustness-retrain-ablate-unranked", "robustness", "retraining after ablating the long-tau group with --ablate random",
         R + ["--kind", "retrain", "--retrain-ablate", "long", "--ablate", "random"], "rank neurons by tau or tau_net"),
    Case("robustness-train-bad-setting", "robustness", "an invalid setting for the training runs",
         R + ["--kind", "continuation", "--set", "optimizer.lr=-1"], "optimizer.lr: Input should be greater than 0"),
    Case("robustness-train-bad-preset", "robustness", "unknown preset for the training runs",
         R + ["--kind", "retrain", "--preset", "papr"], "invalid choice"),
    Case("robustness-runs-other-settings", "robustness", "a run directory of the analysis holding another run",
         R + ["--kind", "retrain"], "holds a run with other settings",
         lambda ws: _write(ws / "run" / "robustness" / "runs" / "retrain_run_N2_none" / "config.yaml",
                           build_config("paper", overrides=["model.hidden_size=8"]).to_yaml())),
    Case("list-unknown", "list", "something to list that is not registered", ["list", "metrics"],
         "choose from studies, measures, tasks, models, curricula"),
]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """A run that solved N = 2 (threshold 0.5), with its training state."""
    run = tmp_path_factory.mktemp("trained") / "run"
    config = build_config("paper", overrides=tiny_overrides(hidden=16, batch=16, steps=5)
                          + ["curriculum.threshold=0.5", "training.max_epochs=1", "seed=3"])
    result = train(config, run, progress=False)
    assert result.solved == [[2]]
    return run


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, trained_run, tmp_path, monkeypatch, capsys):
    if case.needs_reference:
        require_reference_checkpoints()
    if case.id == "cuda-unavailable" and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    ws = tmp_path / "ws"
    shutil.copytree(trained_run, ws / "run")
    assert_case_refused(case, ws, monkeypatch, capsys)


def test_every_case_is_in_the_docs_table():
    missing = missing_from_docs(CASES, DOCS)
    assert not missing, f"add these cases to {DOCS}: {missing}"
    assert len(CASES) >= 20 and {c.command for c in CASES} >= {"train", "evaluate", "analyze", "import-reference",
                                                                "compare-models"}
