"""Per-latent equal-width histogram discretisation, as disentanglement_lib does it.

disentanglement_lib's ``_histogram_discretize`` bins each latent over its own range: the
edges are ``np.histogram(latent, num_bins)``'s, and ``np.digitize`` against all edges but
the last gives bin labels 1..num_bins (the maximum lands in the last bin). A constant
latent gets numpy's default range (value +- 0.5) and so a single bin. The study uses 20
bins. Labels are identical to the reference's, so MI computed from them is too.
"""

from __future__ import annotations

import numpy as np

from kbetavae.metrics.checks import check_codes
from kbetavae.validation import check_int

NUM_BINS = 20


def histogram_discretize(codes: np.ndarray, num_bins: int = NUM_BINS) -> np.ndarray:
    """Bin labels int64 (N, z) in 1..num_bins for continuous codes (N, z).

    Example:
        >>> histogram_discretize(np.array([[0.0], [0.5], [1.0]]), num_bins=2).ravel().tolist()
        [1, 2, 2]
    """
    codes = check_codes(codes)
    num_bins = check_int("num_bins", num_bins, minimum=1)
    labels = np.empty(codes.shape, dtype=np.int64)
    for latent in range(codes.shape[1]):
        column = codes[:, latent]
        edges = np.histogram_bin_edges(column, num_bins)
        labels[:, latent] = np.digitize(column, edges[:-1])
    return labels
