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


# The CPU instructions that make bf16 matrix products fast, as Linux names them in /proc/cpuinfo:
# AVX512-BF16 and AMX-BF16 on x86-64, the BF16 extension on arm64. oneDNN reports bf16 "supported"
# on any AVX-512 CPU, where it only emulates it (3-4x slower than fp32), so its flag alone decides
# nothing.
BF16_INSTRUCTIONS = ("avx512_bf16", "amx_bf16", "bf16")


def cpu_bf16_instructions(cpuinfo: str | None = None) -> tuple[str, ...]:
    """The bf16 matrix instructions this CPU has (a subset of :data:`BF16_INSTRUCTIONS`, in that
    order), read from the ``flags`` (x86-64) or ``Features`` (arm64) line of ``/proc/cpuinfo``, or
    of ``cpuinfo`` when given (its text); empty where the file cannot be read (not Linux)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as f:
                cpuinfo = f.read()
        except OSError:
            return ()
    line = next((ln for ln in cpuinfo.splitlines() if ln.split(":", 1)[0].strip() in ("flags", "Features")), "")
    flags = set(line.split(":", 1)[1].split()) if ":" in line else set()
    return tuple(name for name in BF16_INSTRUCTIONS if name in flags)


@lru_cache(maxsize=None)
def native_bf16(device_type: str) -> bool:
    """Whether bf16 matrix products run on dedicated hardware on this device type: CUDA GPUs that
    support bf16; CPUs with one of :data:`BF16_INSTRUCTIONS` (and a oneDNN that uses it)."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type == "cpu":
        if not cpu_bf16_instructions():
            return False
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def choose_precision(precision: str, device: str | torch.device = "cpu", *,
                     bf16_supported: bool = True) -> tuple[str, str]:
    """The precision of matrix products and why, as a run records it: ``auto`` -> ``bf16`` where
    the model supports it (``bf16_supported``) and :func:`native_bf16` says ``device`` has bf16
    matrix units, else ``fp32`` (never bf16 where it would be emulated); ``fp32`` and ``bf16`` are
    returned as they are (a model that cannot run bf16 refuses it when the configuration is
    validated). The reason is one line, e.g. ``"auto: fp32, this CPU has no bf16 matrix
    instructions (avx512_bf16, amx_bf16): bf16 would be emulated"``."""
    if precision != "auto":
        return precision, f"{precision}: set in the configuration"
    device_type = device.type if isinstance(device, torch.device) else str(device)
    if not bf16_supported:
        return "fp32", "auto: fp32, the model has no bf16 path"
    if native_bf16(device_type):
        where = ("the GPU supports bf16" if device_type == "cuda"
                 else f"this CPU has bf16 matrix instructions ({', '.join(cpu_bf16_instructions())})")
        return "bf16", f"auto: bf16, {where}"
    where = ("the GPU has no bf16 support" if device_type == "cuda"
             else "this CPU has no bf16 matrix instructions (avx512_bf16, amx_bf16): bf16 would be emulated")
    return "fp32", f"auto: fp32, {where}"


def resolve_precision(precision: str, device: str | torch.device = "cpu", *, bf16_supported: bool = True) -> str:
    """The precision of matrix products, :func:`choose_precision` without its reason."""
    return choose_precision(precision, device, bf16_supported=bf16_supported)[0]


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
