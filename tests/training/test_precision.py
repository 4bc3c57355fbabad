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


ZEN4 = "processor\t: 0\nflags\t\t: avx2 avx512f avx512_bf16 sha_ni\n"


@pytest.mark.parametrize(
    ("flags", "accelerator", "resolved"),
    [
        (AVX2_EPYC, False, "float32"),
        (ZEN4, False, "mixed_bfloat16"),
        (SAPPHIRE_RAPIDS, False, "mixed_bfloat16"),
        (AVX2_EPYC, True, "mixed_bfloat16"),
    ],
)
def test_auto_resolves_to_bf16_only_where_it_is_native(tmp_path, flags, accelerator, resolved):
    path = _cpuinfo(tmp_path, flags)
    assert precision.resolve_precision("auto", path, accelerator=accelerator) == resolved
    assert precision.resolve_precision("float32", path, accelerator=accelerator) == "float32"


def test_a_config_records_auto_resolved(monkeypatch, no_accelerator):
    from kbetavae.training.config import TrainConfig

    for flags, resolved in (({"avx2", "avx512_bf16"}, "mixed_bfloat16"), ({"avx2"}, "float32")):
        monkeypatch.setattr(precision, "cpu_flags", lambda cpuinfo="", f=flags: f)
        config = TrainConfig(precision="auto")
        assert config.precision == resolved
        assert config.to_dict()["precision"] == resolved  # what config.json records
        assert TrainConfig.from_dict(config.to_dict()) == config
