"""Where and how torch runs: the device, the precision of matrix products and the number of threads,
each resolved here and nowhere else.

``auto`` is resolved once, by the code that starts the work (the trainer records what it resolved
in the run's ``config.yaml``; an analysis resolves ``--device`` before it loads a network).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator, Literal

import torch

from rnn_timescales.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")
Precision = Literal["fp32", "bf16"]  # of the matrix products, once resolved
PRECISIONS = ("fp32", "bf16", "auto")
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def resolve_device(name: str | torch.device) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` fails clearly where there is none.

    Raises :class:`~rnn_timescales.errors.ConfigError` (one line) for a name outside
    :data:`DEVICES` or for ``cuda`` on a machine without it."""
    if isinstance(name, torch.device):
        return name
    if name not in DEVICES:
        raise ConfigError(f"device {name!r} is not one of {', '.join(DEVICES)}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was requested but CUDA is not available here; use --device cpu or auto")
    return torch.device(name)


@lru_cache(maxsize=None)
def native_bf16(device_type: str) -> bool:
    """Whether bf16 matrix products run on dedicated hardware on this device type (CUDA GPUs that
    support bf16; CPUs with AVX512-BF16 or AMX, as oneDNN reports)."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def resolve_precision(precision: str, device: str | torch.device = "cpu", *, bf16_supported: bool = True) -> str:
    """The precision of matrix products: ``auto`` -> ``bf16`` where the model supports it
    (``bf16_supported``) and :func:`native_bf16` says ``device`` has bf16 matrix units, else
    ``fp32``; ``fp32`` and ``bf16`` are returned as they are (a model that cannot run bf16
    refuses it when the configuration is validated)."""
    if precision == "auto":
        device_type = device.type if isinstance(device, torch.device) else str(device)
        return "bf16" if bf16_supported and native_bf16(device_type) else "fp32"
    return precision


def limit_threads(threads: int) -> None:
    """Use ``threads`` threads for torch and the libraries under it in this process, so that
    workers running side by side do not fight over cores (the environment variables reach
    processes started from here)."""
    for var in _THREAD_VARIABLES:
        os.environ[var] = str(threads)
    torch.set_num_threads(threads)


@contextmanager
def torch_threads(threads: int = 1) -> Iterator[None]:
    """Run torch with ``threads`` intra-op threads inside the block, then restore the number before.

    One thread is what the analyses use: they multiply at most a few hundred states by one
    (H, H) matrix per step, or solve small eigenproblems, where a second intra-op thread mostly
    waits (on the shared 2-core machine two threads were 3-10x slower, ``benchmarks/robustness.py``)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def describe_machine() -> str:
    """One line naming this machine's CPU and core count (e.g. 'AMD EPYC 9R14 (2 cores, x86_64)'),
    for the provenance of results; the CPU's model name where Linux says it, else the architecture."""
    import platform

    name = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), name)
    except OSError:
        pass
    return f"{name or 'unknown CPU'} ({os.cpu_count()} cores, {platform.machine()})"
