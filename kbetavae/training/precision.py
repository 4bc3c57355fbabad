"""Whether bfloat16 pays on this machine: the CPU's bf16 instructions or a GPU.

``mixed_bfloat16`` only speeds training where the hardware computes in bf16: a GPU/TPU, or
an x86 CPU with AMX (``amx_bf16``) or AVX512-BF16 (``avx512_bf16``). Elsewhere oneDNN
emulates it, and a step is slower than in float32 (5× on the project's AVX2 EPYC,
benchmarks/bench_model.py). ``auto`` picks bf16 exactly where it is native and float32
elsewhere; a run records the resolved value. The default stays float32: making ``auto``
the default needs a three-seed comparison of the metrics on hardware where bf16 is fast.

Example:
    >>> precision_warning("float32") is None
    True
    >>> resolve_precision("auto", cpuinfo="/nonexistent", accelerator=False)
    'float32'
"""

from __future__ import annotations

BF16_CPU_FLAGS: tuple[str, ...] = ("amx_bf16", "avx512_bf16")


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags (the ``flags`` line of ``/proc/cpuinfo``; empty if unreadable)."""
    try:
        with open(cpuinfo, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def has_accelerator() -> bool:
    """True if TensorFlow sees a GPU or TPU."""
    import tensorflow as tf

    return any(tf.config.list_physical_devices(kind) for kind in ("GPU", "TPU"))


def bf16_is_fast(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True where bf16 runs natively: an accelerator, or a CPU with AMX or AVX512-BF16."""
    return bool(cpu_flags(cpuinfo) & set(BF16_CPU_FLAGS)) or has_accelerator()


def precision_warning(precision: str, cpuinfo: str = "/proc/cpuinfo") -> str | None:
    """One line warning that ``precision`` is slower here than float32, or None."""
    if precision != "mixed_bfloat16" or bf16_is_fast(cpuinfo):
        return None
    return (
        "warning: --precision mixed_bfloat16 is slower than float32 on this machine (no GPU, "
        f"and the CPU lacks {' / '.join(BF16_CPU_FLAGS)}: bf16 is emulated)"
    )


def resolve_precision(
    precision: str, cpuinfo: str = "/proc/cpuinfo", accelerator: bool | None = None
) -> str:
    """``precision`` with ``auto`` resolved: ``mixed_bfloat16`` where bf16 is native (a GPU or
    TPU, or a CPU with AMX or AVX512-BF16), ``float32`` elsewhere. ``accelerator`` overrides
    the device check (tests; it imports TensorFlow otherwise)."""
    if precision != "auto":
        return precision
    if accelerator is None:
        accelerator = has_accelerator()
    native = accelerator or bool(cpu_flags(cpuinfo) & set(BF16_CPU_FLAGS))
    return "mixed_bfloat16" if native else "float32"
