"""Modularity (Ridgeway & Zemel 2018, "Learning Deep Disentangled Embeddings With the
F-Statistic Loss").

A latent is modular when it carries information about one factor only. For latent i with
MI m_ik to factor k, the deviation from an ideal one-factor latent is
``delta_i = (sum_k m_ik^2 - max_k m_ik^2) / (max_k m_ik^2 * (K - 1))`` and its modularity is
``1 - delta_i``: 1 when all its information is about a single factor, lower as it spreads.
A latent with zero MI (e.g. a collapsed one) scores 0 and stays in the mean, as in
disentanglement_lib, so unused latents pull the score down. The score is the mean over
latents. MI is the MIG protocol's (20 bins per latent, nats). Independent random codes
score about 0.66 on dSprites: their MI is pure estimator bias, which grows with the number
of factor classes, so the 40 orientations dominate every latent.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from kbetavae.errors import InputError
from kbetavae.metrics.checks import check_codes, check_factors
from kbetavae.metrics.discretize import NUM_BINS
from kbetavae.metrics.mutual_info import code_factor_mutual_info
from kbetavae.metrics.results import MetricResult


@dataclasses.dataclass(frozen=True)
class ModularityResult(MetricResult):
    """Modularity ``score``; ``per_latent`` (z,) scores; ``top_factors`` (z,) the factor
    each latent is most informative about (-1 for a zero-MI latent); ``matrix`` (z, K) the
    MI in nats it was computed from."""

    per_latent: np.ndarray
    top_factors: np.ndarray
    matrix: np.ndarray


def modularity_from_mutual_info(mutual_info: np.ndarray) -> ModularityResult:
    """Modularity from an MI matrix (z, K) in nats."""
    mi = np.asarray(mutual_info, dtype=np.float64)
    if mi.ndim != 2 or mi.shape[1] < 2:
        raise InputError(f"modularity needs an MI matrix (z, K) with K >= 2, got {mi.shape}")
    squared = np.square(mi)
    peak = squared.max(axis=1)
    informative = peak > 0
    delta = np.divide(
        squared.sum(axis=1) - peak,
        peak * (mi.shape[1] - 1),
        out=np.zeros_like(peak),
        where=informative,
    )
    per_latent = np.where(informative, 1.0 - delta, 0.0)
    return ModularityResult(
        score=float(np.mean(per_latent)),
        per_latent=per_latent,
        top_factors=np.where(informative, np.argmax(mi, axis=1), -1),
        matrix=mi,
    )


def modularity(
    codes: np.ndarray, factors: np.ndarray, num_bins: int = NUM_BINS
) -> ModularityResult:
    """Modularity of codes (N, z) against integer factors (N, K).

    Example:
        >>> f = np.random.default_rng(0).integers(0, 4, size=(1000, 2))
        >>> modularity(np.c_[f, np.zeros(1000)] + 0.0, f).per_latent.tolist()
        [1.0, 1.0, 0.0]
    """
    codes = check_codes(codes)
    factors = check_factors(factors, codes.shape[0])
    return modularity_from_mutual_info(code_factor_mutual_info(codes, factors, num_bins))
