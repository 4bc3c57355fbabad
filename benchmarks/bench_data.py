"""Data benchmarks: whole-grid render, 64-image random batches, pipeline throughput.

Targets (data issue): whole replica <= 60 s; a random batch of 64 <= 5 ms; the pipeline
>= 20x the training step's ~700 images/s.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from kbetavae.data import factors as grid
from kbetavae.data import open_source
from kbetavae.data.replica import render

TRAINING_STEP_IMAGES_PER_S = 700  # batch 32, fp32 on the 2-core CPU (model issue)


def _whole_grid_seconds() -> float:
    start = time.perf_counter()
    for first in range(0, grid.NUM_IMAGES, 16384):
        render(grid.factors_of(np.arange(first, min(first + 16384, grid.NUM_IMAGES))))
    return time.perf_counter() - start


def _batch64_ms(repeats: int = 300) -> float:
    rng = np.random.default_rng(0)
    times = []
    for _ in range(repeats):
        factors = grid.factors_of(rng.integers(0, grid.NUM_IMAGES, 64))
        start = time.perf_counter()
        render(factors)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _pipeline_images_per_s(epochs: int = 3) -> float:
    from kbetavae.data import training_dataset

    ds = training_dataset(open_source("replica"), subset=50_000, batch_size=32, seed=0)
    rates = []
    for _ in range(epochs):
        start, n = time.perf_counter(), 0
        for batch in ds:
            n += int(batch.shape[0])
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def run() -> dict:
    whole = _whole_grid_seconds()
    batch = _batch64_ms()
    pipeline = _pipeline_images_per_s()
    return {
        "whole_grid_render_s": round(whole, 2),
        "whole_grid_target_s": 60,
        "batch64_render_median_ms": round(batch, 3),
        "batch64_target_ms": 5,
        "pipeline_images_per_s_median": round(pipeline),
        "pipeline_vs_training_step": round(pipeline / TRAINING_STEP_IMAGES_PER_S, 1),
        "pipeline_target_ratio": 20,
    }
