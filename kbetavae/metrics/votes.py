"""The draws behind Z-diff's and FactorVAE's votes: a fixed factor per vote and its batch.

Both metrics make one vote from a batch of factor vectors that share one randomly chosen
factor. Votes are drawn :data:`POINTS_PER_DRAW` at a time, a fixed chunk size, so that
the numbers depend on the seed alone (never on a batch size chosen for speed).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from kbetavae.metrics.representation import GroundTruth
from kbetavae.validation import check_int

POINTS_PER_DRAW = 256


def vote_batches(
    ground_truth: GroundTruth,
    num_votes: int,
    batch_size: int,
    rng: np.random.Generator,
    num_labels: int | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per chunk of at most 256 votes: the factor each vote fixes (n,) and a batch of
    factor vectors per vote (n, batch_size, K) drawn from the whole grid, in that order
    from ``rng``. The caller sets the fixed factor across each batch (and may draw more
    from ``rng`` before the next chunk: a generator, so the draws interleave in order).
    ``num_labels`` (default K) is how many labels the fixed one is drawn from: Z-diff's
    ``six-factors`` variant draws from K + 1 and maps them to factors itself."""
    num_votes = check_int("num_votes", num_votes, minimum=1)
    if num_labels is None:
        num_labels = len(ground_truth.factor_sizes)
    for start in range(0, num_votes, POINTS_PER_DRAW):
        n = min(POINTS_PER_DRAW, num_votes - start)
        fixed = rng.integers(num_labels, size=n)
        batch = ground_truth.sample_factors(n * batch_size, rng).reshape(n, batch_size, -1)
        yield fixed, batch
