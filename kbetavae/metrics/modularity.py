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

Inactive latents score like random codes, not like zeros: a latent the KL term switched off
still has an encoder mean with tiny jitter, and each latent is binned over its own range, so
the jitter fills all 20 bins and its MI is the same bias (at β = 10, seven such latents scored
0.73-0.96). ``active_score`` is therefore also reported: the mean over the active latents
only (the caller decides which are active; :func:`kbetavae.metrics.evaluate` uses mean KL >
0.01 nats). It is NaN (``None`` in JSON) when no latent is active: there is nothing to score.
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
    """Modularity ``score`` over all latents; ``active_score`` over the ``active`` (z,)
    latents only (NaN if none is); ``per_latent`` (z,) scores; ``top_factors`` (z,) the
    factor each latent is most informative about (-1 for a zero-MI latent); ``matrix``
    (z, K) the MI in nats it was computed from."""

    per_latent: np.ndarray
    top_factors: np.ndarray
    matrix: np.ndarray
    active_score: float = float("nan")
    active: np.ndarray | None = None


def modularity_from_mutual_info(
    mutual_info: np.ndarray, active: np.ndarray | None = None
) -> ModularityResult:
    """Modularity from an MI matrix (z, K) in nats; ``active`` (z,) bool marks the latents
    ``active_score`` averages over (default: all)."""
    mi = np.asarray(mutual_info, dtype=np.float64)
    if mi.ndim != 2 or mi.shape[1] < 2:
        raise InputError(f"modularity needs an MI matrix (z, K) with K >= 2, got {mi.shape}")
    active = _check_active(active, mi.shape[0])
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
        active_score=float(np.mean(per_latent[active])) if active.any() else float("nan"),
        active=active,
    )


def _check_active(active: np.ndarray | None, num_latents: int) -> np.ndarray:
    if active is None:
        return np.ones(num_latents, dtype=bool)
    mask = np.asarray(active)
    if mask.shape != (num_latents,) or mask.dtype != np.bool_:
        raise InputError(
            f"active must be a bool mask of shape ({num_latents},), got {mask.dtype} {mask.shape}"
        )
    return mask


def modularity(
    codes: np.ndarray,
    factors: np.ndarray,
    num_bins: int = NUM_BINS,
    active: np.ndarray | None = None,
) -> ModularityResult:
    """Modularity of codes (N, z) against integer factors (N, K); ``active_score`` over the
    latents ``active`` (z,) marks.

    Example:
        >>> f = np.random.default_rng(0).integers(0, 4, size=(1000, 2))
        >>> modularity(np.c_[f, np.zeros(1000)] + 0.0, f).per_latent.tolist()
        [1.0, 1.0, 0.0]
    """
    codes = check_codes(codes)
    factors = check_factors(factors, codes.shape[0])
    return modularity_from_mutual_info(code_factor_mutual_info(codes, factors, num_bins), active)
