"""DCI with its factors' ensembles fitted in threads against one after another.

DCI fits one gradient-boosted ensemble per factor (kbetavae.metrics.dci), minutes a run at
the full protocol, and single-threaded. The ensembles are independent, so ``dci`` fits
them in threads; this times ``workers=1`` against one thread per core on dSprites-shaped
codes (5 factors of 3, 6, 40, 32 and 32 values; 10 latents, a fixed random linear map of
the scaled factors plus noise; 10,000 training and 5,000 test points, the protocol's),
alternating ``ROUNDS`` times, checks the two results are equal, and prints JSON.

    python -m benchmarks.dci_threads > dci_threads.json
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

import numpy as np

from kbetavae.provenance import machine

SIZES = (3, 6, 40, 32, 32)
ROUNDS = 2


def codes(num: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``num`` (codes, factors) pairs: 10 latents mixing the scaled factors, plus noise."""
    factors = rng.integers(0, SIZES, size=(num, len(SIZES)))
    mixing = np.random.default_rng(1).standard_normal((len(SIZES), 10))
    return (factors / np.array(SIZES)) @ mixing + 0.05 * rng.standard_normal((num, 10)), factors


def main() -> None:
    from kbetavae.metrics.dci import dci

    rng = np.random.default_rng(0)
    train_codes, train_factors = codes(10_000, rng)
    test_codes, test_factors = codes(5_000, rng)
    arrays = (train_codes, train_factors, test_codes, test_factors)
    threads = os.cpu_count() or 1
    seconds: dict[int, list[float]] = {1: [], threads: []}
    results = {}
    for _ in range(ROUNDS):
        for workers in seconds:
            started = time.perf_counter()
            results[workers] = dci(*arrays, workers=workers)
            seconds[workers].append(time.perf_counter() - started)
    one, many = results[1], results[threads]
    median = {workers: statistics.median(times) for workers, times in seconds.items()}
    json.dump(
        {
            "machine": machine(),
            "threads": threads,
            "seconds": seconds,
            "median_ratio_one_over_threads": median[1] / median[threads],
            "equal": bool(np.array_equal(one.matrix, many.matrix) and one.score == many.score),
            "score": one.score,
        },
        sys.stdout,
        indent=1,
    )
    print()


if __name__ == "__main__":
    main()
