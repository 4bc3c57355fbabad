"""Mutual Information Gap (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs").

For each factor k, the latents are ranked by their mutual information with it; the gap
between the best and the second-best latent, divided by H(factor k), says how much of the
factor one latent captures *alone*. MIG is the mean gap over factors: 1 when every factor
is fully captured by a single latent and by no other, 0 when no latent stands out (or all
latents are constant). The protocol is disentanglement_lib's (Locatello et al. 2019): the
encoder mean on 10,000 points, each latent binned into 20 equal-width bins over its own
range, MI in nats.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from kbetavae.errors import InputError
from kbetavae.metrics.checks import check_codes, check_factors
from kbetavae.metrics.discretize import NUM_BINS
from kbetavae.metrics.mutual_info import code_factor_mutual_info, factor_entropies
from kbetavae.metrics.results import MetricResult


@dataclasses.dataclass(frozen=True)
class MIGResult(MetricResult):
    """MIG ``score``; ``gaps`` (K,) per factor; ``matrix`` (z, K) = MI / H(factor);
    ``top_latents`` (K,) the best latent per factor; ``mutual_info`` (z, K) in nats and
    ``entropies`` (K,) in nats."""

    gaps: np.ndarray
    matrix: np.ndarray
    top_latents: np.ndarray
    mutual_info: np.ndarray
    entropies: np.ndarray


def mig_from_mutual_info(mutual_info: np.ndarray, entropies: np.ndarray) -> MIGResult:
    """MIG from an MI matrix (z, K) and the factor entropies (K,), both in nats."""
    mi = np.asarray(mutual_info, dtype=np.float64)
    h = np.asarray(entropies, dtype=np.float64)
    if mi.ndim != 2 or h.shape != (mi.shape[1],):
        raise InputError(f"mutual_info (z, K) and entropies (K,) disagree: {mi.shape}, {h.shape}")
    if mi.shape[0] < 2:
        raise InputError(f"MIG needs at least 2 latents, got {mi.shape[0]}")
    if np.any(h <= 0):
        k = int(np.flatnonzero(h <= 0)[0])
        raise InputError(
            f"factor {k} takes a single value in the sample, so its entropy is 0 and MIG is "
            "undefined; sample more points"
        )
    ranked = np.sort(mi, axis=0)[::-1]
    gaps = (ranked[0] - ranked[1]) / h
    return MIGResult(
        score=float(np.mean(gaps)),
        gaps=gaps,
        matrix=mi / h,
        top_latents=np.argmax(mi, axis=0),
        mutual_info=mi,
        entropies=h,
    )


def mig(codes: np.ndarray, factors: np.ndarray, num_bins: int = NUM_BINS) -> MIGResult:
    """Mutual Information Gap of codes (N, z) against integer factors (N, K).

    Example:
        >>> f = np.random.default_rng(0).integers(0, 4, size=(1000, 2))
        >>> round(mig(f + 0.0, f).score, 3)  # each latent is one factor
        1.0
    """
    codes = check_codes(codes, min_latents=2)
    factors = check_factors(factors, codes.shape[0])
    return mig_from_mutual_info(
        code_factor_mutual_info(codes, factors, num_bins), factor_entropies(factors)
    )
