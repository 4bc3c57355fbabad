"""Mutual Information Gap (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs").

For each factor k, the latents are ranked by their mutual information with it; the gap
between the best and the second-best latent, divided by H(factor k), says how much of the
factor one latent captures *alone*. MIG is the mean gap over factors: 1 when every factor
is fully captured by a single latent and by no other, 0 when no latent stands out (or all
latents are constant). The protocol is disentanglement_lib's (Locatello et al. 2019): the
encoder mean on 10,000 points, each latent binned into 20 equal-width bins over its own
range, MI in nats.

Protocol variants: :data:`MIG_VARIANTS` names other readings of the normalisation that a
script may have computed (the study we reproduce reports MIG values ours does not reach:
docs/results/study_table.csv); the default, ``"disentanglement_lib"``, is the one above.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from kbetavae.errors import InputError
from kbetavae.metrics.checks import check_codes, check_factors
from kbetavae.metrics.discretize import NUM_BINS
from kbetavae.metrics.mutual_info import code_factor_mutual_info, factor_entropies
from kbetavae.metrics.protocol import DEFAULT_VARIANT, choose_variant
from kbetavae.metrics.results import MetricResult


@dataclasses.dataclass(frozen=True)
class MIGVariant:
    """One reading of MIG's normalisation and ``doc``, what it is and why a script might
    compute it: each factor's gap is divided by H(factor), or by the top latent's MI."""

    name: str
    doc: str = dataclasses.field(repr=False)
    by_top_latent: bool = False


# name -> variant; the first is the default. Known answers in tests/metrics/test_mig.py.
MIG_VARIANTS = {
    variant.name: variant
    for variant in (
        MIGVariant(
            DEFAULT_VARIANT,
            "The gap is divided by H(factor k), the factor's entropy (Chen et al. 2018, as "
            "in disentanglement_lib): the share of the factor one latent alone captures.",
        ),
        MIGVariant(
            "top-mi",
            "The gap is divided by m1, the MI of the factor's top latent, instead of H: "
            "(m1 - m2) / m1, what someone writes reading 'normalised gap' as relative to "
            "the best latent, or dividing the sorted MI column by its first entry. It lies "
            "in [0, 1] too but ignores how much of the factor the code holds: as m1 <= H it "
            "is at least MIG factor by factor, 1 wherever one latent alone informs a factor "
            "however little, and for a factor no latent informs it is a ratio of estimator "
            "bias (0 when m1 = 0).",
            by_top_latent=True,
        ),
    )
}


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


def mig_from_mutual_info(
    mutual_info: np.ndarray, entropies: np.ndarray, variant: str = DEFAULT_VARIANT
) -> MIGResult:
    """MIG from an MI matrix (z, K) and the factor entropies (K,), both in nats;
    ``variant`` names the gap's normaliser (:data:`MIG_VARIANTS`). ``matrix`` is MI / H
    whichever it is."""
    chosen = choose_variant(MIG_VARIANTS, variant, "MIG")
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
    if chosen.by_top_latent:
        top = ranked[0]
        gaps = np.divide(ranked[0] - ranked[1], top, out=np.zeros_like(top), where=top > 0)
    else:
        gaps = (ranked[0] - ranked[1]) / h
    return MIGResult(
        score=float(np.mean(gaps)),
        gaps=gaps,
        matrix=mi / h,
        top_latents=np.argmax(mi, axis=0),
        mutual_info=mi,
        entropies=h,
    )


def mig(
    codes: np.ndarray,
    factors: np.ndarray,
    num_bins: int = NUM_BINS,
    variant: str = DEFAULT_VARIANT,
) -> MIGResult:
    """Mutual Information Gap of codes (N, z) against integer factors (N, K); ``variant``
    as :func:`mig_from_mutual_info` takes it.

    Example:
        >>> f = np.random.default_rng(0).integers(0, 4, size=(1000, 2))
        >>> round(mig(f + 0.0, f).score, 3)  # each latent is one factor
        1.0
    """
    codes = check_codes(codes, min_latents=2)
    factors = check_factors(factors, codes.shape[0])
    return mig_from_mutual_info(
        code_factor_mutual_info(codes, factors, num_bins), factor_entropies(factors), variant
    )
