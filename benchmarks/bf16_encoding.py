"""bf16 encoding against float32 on trained models: speed, and how far the metrics move.

Issue 21 allows bf16 encoding where the CPU has native bf16 if the metrics of its codes
stay within 0.005 of float32's on fixed models. This evaluates each given run's model with
the ``tf-conv-1024`` and ``tf-conv-1024-bf16`` formulations (kbetavae.model.inference)
together on the same draws under the full protocol (``evaluate_many``: only the codes
differ), and times both encoders on 4,096 grid images, in turn, ``ROUNDS`` times.

    python -m benchmarks.bf16_encoding RUN_DIR [RUN_DIR ...] > bf16_encoding.json
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import numpy as np

from kbetavae.provenance import machine

METRICS = ("mig", "zdiff", "modularity", "sap", "factorvae")
ROUNDS = 5


def compare(run_dir: str, seed: int) -> dict:
    """Both formulations' metrics of one run's model (seed: the run's evaluation seed)."""
    from kbetavae.data import open_source
    from kbetavae.metrics import evaluate_many
    from kbetavae.metrics.protocol import FULL_PROTOCOL
    from kbetavae.model.inference import FastEncoder
    from kbetavae.trained.load import load_model

    fp32 = FastEncoder(load_model(run_dir), formulation="tf-conv-1024")
    bf16 = fp32.with_formulation("tf-conv-1024-bf16")
    data = open_source("replica")
    a, b = evaluate_many([fp32, bf16], data, list(METRICS), seed, protocol=FULL_PROTOCOL)
    images = data.images_at(np.random.default_rng(0).choice(data.num_images, 4096, replace=False))
    fp32(images), bf16(images)  # trace once
    times: dict[str, list[float]] = {"float32": [], "bfloat16": []}
    for _ in range(ROUNDS):
        for name, encode in (("float32", fp32), ("bfloat16", bf16)):
            start = time.perf_counter()
            encode(images)
            times[name].append(time.perf_counter() - start)
    codes = fp32(images)[0], bf16(images)[0]
    return {
        "run": run_dir,
        "scores": {m: {"float32": a[m]["score"], "bfloat16": b[m]["score"]} for m in METRICS},
        "max_abs_difference": max(abs(a[m]["score"] - b[m]["score"]) for m in METRICS),
        "active_latents": [a["active_latents"], b["active_latents"]],
        "code_error_over_scale": float(np.abs(codes[1] - codes[0]).max() / np.abs(codes[0]).max()),
        "images_per_s": {k: round(4096 / statistics.median(v)) for k, v in times.items()},
    }


def main(run_dirs: list[str]) -> dict:
    runs = [compare(d, int(d.rstrip("/").rsplit("seed=", 1)[1])) for d in run_dirs]
    return {
        **machine(),
        "runs": runs,
        "max_abs_difference": max(r["max_abs_difference"] for r in runs),
        "speedup_median": statistics.median(
            r["images_per_s"]["bfloat16"] / r["images_per_s"]["float32"] for r in runs
        ),
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), indent=1))
