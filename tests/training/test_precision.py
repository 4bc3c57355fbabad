"""bf16 is flagged as slower on CPUs that emulate it."""

from __future__ import annotations

import pytest

from kbetavae.training import precision

AVX2_EPYC = "processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2 fma\n"
SAPPHIRE_RAPIDS = "processor\t: 0\nflags\t\t: avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"


@pytest.fixture
def no_accelerator(monkeypatch):
    monkeypatch.setattr(precision, "has_accelerator", lambda: False)


def _cpuinfo(tmp_path, text):
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    return str(path)


def test_bf16_warns_on_an_avx2_only_cpu(tmp_path, no_accelerator):
    warning = precision.precision_warning("mixed_bfloat16", _cpuinfo(tmp_path, AVX2_EPYC))
    assert warning is not None and "--precision mixed_bfloat16" in warning
    assert "\n" not in warning


def test_bf16_is_quiet_on_a_cpu_with_amx_or_avx512_bf16(tmp_path, no_accelerator):
    assert precision.bf16_is_fast(_cpuinfo(tmp_path, SAPPHIRE_RAPIDS))
    assert (
        precision.precision_warning("mixed_bfloat16", _cpuinfo(tmp_path, SAPPHIRE_RAPIDS)) is None
    )


def test_bf16_is_quiet_with_a_gpu(tmp_path, monkeypatch):
    monkeypatch.setattr(precision, "has_accelerator", lambda: True)
    assert precision.precision_warning("mixed_bfloat16", _cpuinfo(tmp_path, AVX2_EPYC)) is None


def test_float32_never_warns_and_an_unreadable_cpuinfo_has_no_flags(tmp_path):
    assert precision.precision_warning("float32", _cpuinfo(tmp_path, AVX2_EPYC)) is None
    assert precision.cpu_flags(str(tmp_path / "missing")) == set()
