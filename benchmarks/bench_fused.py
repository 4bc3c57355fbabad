"""Fused training benchmark: K members in one step vs the same K models one after another.

Goal (issue 10): the fused group trains ≥ 1.6× the images per second of sequential
single models (K = 7, the study's βs of one seed, batch 32, float32).

Both sides use Keras ``fit`` on the same in-memory replica images, ``steps_per_execution``
8 as ``train`` does: sequential = K BetaVAE models fitted one after another on ``STEPS``
batches each; fused = one FusedVAE of K members fitted on the same ``STEPS`` batches.
Images/s counts every member's images (K × STEPS × 32 for both). Each side is traced and
warmed up on one execution first; the timed repeats alternate (sequential, fused, …) so
the shared CPU's drift hits both; the ratio compares medians.

Fused groups vs ``kbetavae sweep --jobs N`` (processes of cores/N threads each) is not
measured here: on 2 cores it is settled by the issue's numbers (two 1-thread processes
1.27× one 2-thread process, a fused group ~1.9×), and where jobs could win — more cores
than one fused step keeps busy — this machine has none to offer. On such a machine, time
the same tiny sweep with ``--jobs 1`` and with ``--jobs N`` (fresh ``--name`` each).

Environment: ``KBETAVAE_BENCH_STEPS`` (default 32), ``KBETAVAE_BENCH_REPEATS`` (3),
``KBETAVAE_BENCH_MEMBERS`` (7).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time

BATCH = 32
STEPS_PER_EXECUTION = 8


def _cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    names = [line.split(":", 1)[1].strip() for line in out.splitlines() if "Model name" in line]
    return names[0] if names else "unknown"


def _members(betas, seed: int = 0):
    import keras

    from kbetavae.model.vae import BetaVAE

    members = []
    for beta in betas:
        keras.utils.set_random_seed(seed)
        member = BetaVAE(beta=beta, seed=seed)
        member.compile(keras.optimizers.Adam(1e-3), steps_per_execution=STEPS_PER_EXECUTION)
        members.append(member)
    return members


def _fused(betas):
    from kbetavae.model.fused import FusedVAE

    fused = FusedVAE(_members(betas))
    fused.compile(steps_per_execution=STEPS_PER_EXECUTION)
    return fused


def _fit_seconds(model, images) -> float:
    start = time.perf_counter()
    model.fit(images, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    return time.perf_counter() - start


def run() -> dict:
    import numpy as np

    from kbetavae.data import open_source
    from kbetavae.data.ground_truth import load_images
    from kbetavae.study.plan import STUDY_BETAS

    steps = int(os.environ.get("KBETAVAE_BENCH_STEPS", 32))
    repeats = int(os.environ.get("KBETAVAE_BENCH_REPEATS", 3))
    k = int(os.environ.get("KBETAVAE_BENCH_MEMBERS", len(STUDY_BETAS)))
    betas = [STUDY_BETAS[i % len(STUDY_BETAS)] * (1 + i // len(STUDY_BETAS)) for i in range(k)]
    source = open_source("replica")
    indices = np.random.default_rng(0).choice(source.num_images, steps * BATCH, replace=False)
    images = load_images(source, np.sort(indices)).astype("float32")
    warm = images[: STEPS_PER_EXECUTION * BATCH]

    singles, fused = _members(betas), _fused(betas)
    for model in [*singles, fused]:
        _fit_seconds(model, warm)  # trace and warm up
    sequential_rates, fused_rates = [], []
    for _ in range(repeats):
        seconds = sum(_fit_seconds(model, images) for model in singles)
        sequential_rates.append(k * len(images) / seconds)
        fused_rates.append(k * len(images) / _fit_seconds(fused, images))
    result = {
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "members": k,
        "batch_size": BATCH,
        "steps": steps,
        "repeats": repeats,
        "sequential_images_per_s": [round(r, 1) for r in sequential_rates],
        "fused_images_per_s": [round(r, 1) for r in fused_rates],
        "sequential_median": round(statistics.median(sequential_rates), 1),
        "fused_median": round(statistics.median(fused_rates), 1),
    }
    result["ratio"] = round(result["fused_median"] / result["sequential_median"], 3)
    print(
        f"{result['cpu']}, {k} members, batch {BATCH}: sequential "
        f"{result['sequential_median']} img/s, fused {result['fused_median']} img/s, "
        f"ratio {result['ratio']} (goal >= 1.6)",
        flush=True,
    )
    return result
