"""A small whole sweep, now vs e31e903 installed side by side: wall-time ratio.

Goal (issue 10): the 7-β sweep of 1 epoch on 3,200 images with ``--eval-points 500``
takes at most half the wall time it took at e31e903. Both sides run the real CLI
(``python -m cli.main sweep``) in a fresh process with ``PYTHONPATH`` set to their tree
(this one, or ``KBETAVAE_BENCH_BASE``, default /work/base-e31e903: ``git worktree add
/work/base-e31e903 e31e903``), into their own temporary directories, alternating
(e31e903, now, e31e903, ...) so drift in the machine's load hits both; the ratio compares
medians. Everything a sweep does is in the time: start-up, training, evaluation, export,
figures (and, now, the held-out ELBO and report.html, which e31e903 did not make).

Environment: ``KBETAVAE_BENCH_SWEEP_ROUNDS`` (default 1).

Measured at 261a242 (issue 21: one compiled encoder graph, group evaluation), 2 rounds
interleaved, `lscpu` "AMD EPYC" (2 cores), load average 8-27 (median 15.8) from other
jobs: e31e903 1002.9 / 662.5 s, now 924.9 / 530.5 s, ratio of medians 0.874 (goal 0.5:
missed; at --eval-points 500 each model still encodes ~90,000 distinct images).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kbetavae.provenance import machine

ROOT = Path(__file__).resolve().parents[1]
ARGS = [
    "--betas",
    "0.5,1,2.5,5,7.5,10,50",
    "--epochs",
    "1",
    "--subset",
    "3200",
    "--eval-points",
    "500",
    "--name",
    "bench",
]


def _sweep_seconds(tree: str) -> float:
    with tempfile.TemporaryDirectory() as directory:
        env = {**os.environ, "PYTHONPATH": tree, "TF_CPP_MIN_LOG_LEVEL": "3"}
        command = [sys.executable, "-m", "cli.main", "sweep", *ARGS]
        command += ["--out", f"{directory}/runs", "--saved-models", f"{directory}/saved"]
        start = time.perf_counter()
        subprocess.run(command, env=env, cwd=directory, check=True, capture_output=True)
        return time.perf_counter() - start


def run() -> dict:
    base = os.environ.get("KBETAVAE_BENCH_BASE", "/work/base-e31e903")
    if not Path(base, "kbetavae").is_dir():
        return {"skipped": f"no e31e903 tree at {base}"}
    rounds = int(os.environ.get("KBETAVAE_BENCH_SWEEP_ROUNDS", 1))
    seconds: dict[str, list[float]] = {"e31e903": [], "now": []}
    for _ in range(rounds):
        seconds["e31e903"].append(_sweep_seconds(base))
        seconds["now"].append(_sweep_seconds(str(ROOT)))
    result = {
        **machine(),
        "sweep": " ".join(ARGS),
        "rounds": rounds,
        "e31e903_seconds": [round(s, 1) for s in seconds["e31e903"]],
        "now_seconds": [round(s, 1) for s in seconds["now"]],
        "ratio": round(
            statistics.median(seconds["now"]) / statistics.median(seconds["e31e903"]), 3
        ),
        "target_ratio": 0.5,
    }
    print(
        f"{result['cpu']}: 7-β sweep now {result['now_seconds']} s, e31e903 "
        f"{result['e31e903_seconds']} s, ratio {result['ratio']} (goal <= 0.5)",
        flush=True,
    )
    return result
