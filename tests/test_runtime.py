"""How ``precision: auto`` is decided: by the CPU's bf16 instructions, never by oneDNN's flag alone."""

import pytest
import torch

from rnn_timescales import runtime
from rnn_timescales.runtime import choose_precision, cpu_bf16_instructions

ZEN4 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_bf16 avx512_vnni\n"
XEON_NO_BF16 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_vnni\n"  # issue 30's Xeon
SAPPHIRE = "flags\t\t: avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n"
GRAVITON3 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"


@pytest.mark.parametrize("text, expected", [
    (ZEN4, ("avx512_bf16",)), (XEON_NO_BF16, ()), (SAPPHIRE, ("avx512_bf16", "amx_bf16")),
    (GRAVITON3, ("bf16",)), ("", ()), ("model name\t: something\n", ()),
])
def test_bf16_instructions_are_read_from_the_cpu_flags(text, expected):
    assert cpu_bf16_instructions(text) == expected


def test_an_avx512_cpu_without_bf16_instructions_gets_fp32_even_when_onednn_says_supported(monkeypatch):
    monkeypatch.setattr(runtime, "cpu_bf16_instructions", lambda cpuinfo=None: ())
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True, raising=False)
    assert runtime.native_bf16.__wrapped__("cpu") is False
    monkeypatch.setattr(runtime, "native_bf16", runtime.native_bf16.__wrapped__)
    precision, reason = choose_precision("auto", "cpu")
    assert precision == "fp32" and "emulated" in reason


def test_a_cpu_with_bf16_instructions_gets_bf16_and_the_reason_names_them(monkeypatch):
    monkeypatch.setattr(runtime, "cpu_bf16_instructions", lambda cpuinfo=None: ("avx512_bf16", "amx_bf16"))
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True, raising=False)
    monkeypatch.setattr(runtime, "native_bf16", runtime.native_bf16.__wrapped__)
    assert choose_precision("auto", "cpu") == ("bf16", "auto: bf16, this CPU has bf16 matrix instructions (avx512_bf16, amx_bf16)")
    # a model without a bf16 path, and an explicit setting, are never overruled
    assert choose_precision("auto", "cpu", bf16_supported=False) == ("fp32", "auto: fp32, the model has no bf16 path")
    assert choose_precision("fp32", "cpu") == ("fp32", "fp32: set in the configuration")
    assert choose_precision("bf16", torch.device("cpu"))[0] == "bf16"
