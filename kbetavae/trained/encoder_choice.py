"""The encoder formulation this machine runs fastest: timed once, then remembered.

Evaluation is nearly all encoding, and which formulation of the encoder
(:data:`kbetavae.model.inference.FORMULATIONS`) is fastest depends on the CPU: on the AVX2
EPYC the XLA tap sum at 64 images a batch was 1.23× Keras' own graph, on the Zen 4 EPYC
with AVX512-BF16 it was 0.79× (issue 21; ``docs/benchmarks``). So the first evaluation on a
machine times every formulation on the model's architecture (a few seconds: each compiled
once, then ``ROUNDS`` calls of ``IMAGES`` images in turn, the median of each) and keeps the
winner in a small JSON file named by what the speed depends on: the CPU model, the flags
that pick its kernels, the core count, the process's threads, TensorFlow's version and the
architecture.

Every later process on the machine reads that file instead of timing again, so an image's
code is the same from one process to the next: formulations agree only to float rounding
(1e-6 of the codes), which can move a point across a MIG bin edge. Two processes timing at
once both write a candidate file and link it to the one name; the first link wins and the
other adopts its choice.

- ``KBETAVAE_ENCODER=<name>`` forces a formulation (the name each ``metrics.json`` records
  under ``timing``), e.g. to reproduce another machine's codes to the bit.
- ``KBETAVAE_CACHE_DIR`` is where the files live (default ``$XDG_CACHE_HOME/kbetavae``, else
  ``~/.cache/kbetavae``). If it cannot be written the timed choice serves this process only.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kbetavae.errors import InputError
from kbetavae.model.inference import FORMULATIONS, FastEncoder, formulation

FORCE_ENV = "KBETAVAE_ENCODER"
CACHE_ENV = "KBETAVAE_CACHE_DIR"
ROUNDS = 3
IMAGES = 2048
# The flags that decide which oneDNN/XLA kernels run (and so the winner).
KERNEL_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile")

Timer = Callable[[FastEncoder], float]


def cache_dir() -> Path:
    """Where chosen formulations are kept (``KBETAVAE_CACHE_DIR``, else the XDG cache)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kbetavae"


def machine_key(encoder: FastEncoder) -> dict:
    """What the fastest formulation depends on, for ``encoder``'s architecture here."""
    import tensorflow as tf

    return {
        **_host(),
        # `sweep --jobs N` gives each process cores / N threads: its own fastest.
        "threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "architecture": repr(encoder.architecture),
    }


@functools.cache
def _host() -> dict:
    """The CPU, its kernel flags and TensorFlow's version: read once a process, not once a
    model."""
    import tensorflow as tf

    from kbetavae.provenance import machine
    from kbetavae.training.precision import cpu_flags

    flags = cpu_flags()
    return {
        **machine(),
        "flags": [flag for flag in KERNEL_FLAGS if flag in flags],
        "tensorflow": tf.__version__,
    }


def fastest(encoder: FastEncoder, timer: Timer | None = None) -> FastEncoder:
    """``encoder`` in the formulation this machine runs fastest (forced by
    ``KBETAVAE_ENCODER``, else remembered, else timed now: :func:`time_formulations`)."""
    forced = os.environ.get(FORCE_ENV)
    if forced:
        try:
            return encoder.with_formulation(forced)
        except InputError as exc:
            raise InputError(f"{FORCE_ENV}: {exc}") from None
    key = machine_key(encoder)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir() / f"encoder-{digest}.json"
    name = _remembered(path)
    if name is None:
        seconds = time_formulations(encoder, timer)
        best = min(seconds, key=seconds.get)
        name = _remember(path, {"formulation": best, "seconds": seconds, "key": key})
    return encoder.with_formulation(name)


def time_formulations(encoder: FastEncoder, timer: Timer | None = None) -> dict[str, float]:
    """Median seconds of each formulation of ``encoder``: each timed once to trace and
    compile (discarded), then ``ROUNDS`` times in turn, so a burst of load from other
    processes hits all of them alike. ``timer`` times one call (default: ``IMAGES``
    random binary images)."""
    timer = timer or _call_timer(encoder.image_shape)
    encoders = {n: encoder.with_formulation(n) for n, f in FORMULATIONS.items() if f.automatic}
    for each in encoders.values():
        timer(each)
    times: dict[str, list[float]] = {name: [] for name in encoders}
    for _ in range(ROUNDS):
        for name, each in encoders.items():
            times[name].append(timer(each))
    return {name: statistics.median(seconds) for name, seconds in times.items()}


def _call_timer(image_shape: tuple[int, ...]) -> Timer:
    rng = np.random.default_rng(0)
    batch = (rng.random((IMAGES, *image_shape)) < 0.1).astype(np.uint8)

    def timer(encoder: FastEncoder) -> float:
        start = time.perf_counter()
        encoder(batch)
        return time.perf_counter() - start

    return timer


def _remembered(path: Path) -> str | None:
    """The formulation a file names, or None if there is none readable (then time again)."""
    try:
        name = json.loads(path.read_text(encoding="utf-8"))["formulation"]
        formulation(name)
    except (OSError, ValueError, KeyError, TypeError, InputError):
        return None
    return name


def _remember(path: Path, record: dict) -> str:
    """Keep ``record`` at ``path`` unless another process got there first; the choice that
    holds (this one, or the one already there)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".encoder-", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(record, out, indent=2)
        try:
            if path.exists() and _remembered(path) is None:
                os.replace(temporary, path)  # an unreadable file: ours takes its place
            else:
                os.link(temporary, path)  # fails if another process linked first
        except FileExistsError:
            pass
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    except OSError:
        return record["formulation"]  # an unwritable cache: this process's choice only
    return _remembered(path) or record["formulation"]
