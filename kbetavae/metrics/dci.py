"""Disentanglement, Completeness and Informativeness (Eastwood & Williams 2018, "A
Framework for the Quantitative Evaluation of Disentangled Representations").

A tree ensemble predicts each factor from all latents; its feature importances fill a
latent x factor importance matrix R. *Disentanglement*: each latent's importance, as a
distribution over factors, should be concentrated (1 - entropy with base K), weighted by
the latent's share of the total importance. *Completeness*: each factor's importance, as a
distribution over latents, should be concentrated (1 - entropy with base z), weighted by
the factor's share. Both are 1 for a one-to-one code and near 0 when importances spread.
*Informativeness* is the ensemble's accuracy, mean over factors (disentanglement_lib calls
it ``informativeness_test`` though it reports accuracy, not error).

Protocol of disentanglement_lib: ``GradientBoostingClassifier()`` with its defaults per
factor, 10,000 training and 5,000 test points. That is slow: one tree per class per
boosting round, 100 rounds, 113 dSprites classes, so about 11,300 trees; on this 2-core
CPU 25-55 s with 2,000 training points and several minutes with the full 10,000, which is
why DCI is not among the default metrics. Faster sklearn forests (random forests and extra
trees, with and without all features per split and leaf-size limits) were tried and
rejected: their impurity importances differ from GBT's by 0.06-0.7 in D and C on the
test fixtures, beyond the 0.02 agreement required. The factors' ensembles are independent
(each seeded alike), so they are fitted in threads, one per core: scikit-learn builds trees
without holding the GIL, and the result does not depend on the number of threads.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier

from kbetavae.errors import InputError
from kbetavae.metrics.checks import check_codes, check_factors
from kbetavae.metrics.results import MetricResult

_EPS = 1e-11  # disentanglement_lib's guard against log(0)


@dataclasses.dataclass(frozen=True)
class DCIResult(MetricResult):
    """DCI disentanglement as ``score`` (and again as ``disentanglement``); ``completeness``;
    ``informativeness`` (test accuracy, mean over factors) and ``informativeness_train``;
    ``matrix`` (z, K) the importances; ``per_latent_disentanglement`` (z,);
    ``per_factor_completeness`` (K,)."""

    disentanglement: float
    completeness: float
    informativeness: float
    informativeness_train: float
    matrix: np.ndarray
    per_latent_disentanglement: np.ndarray
    per_factor_completeness: np.ndarray


def _one_minus_entropy(weights: np.ndarray, axis: int) -> np.ndarray:
    """1 - H(p) with log base = size of ``axis``, p = weights normalised along ``axis``."""
    p = weights + _EPS
    p = p / p.sum(axis=axis, keepdims=True)
    return 1.0 - (-(p * np.log(p)).sum(axis=axis) / np.log(weights.shape[axis]))


def _weighted(per_item: np.ndarray, importance: np.ndarray, axis: int) -> float:
    # All-zero importances (nothing predicts anything) weigh items equally, as the reference.
    if importance.sum() == 0:
        importance = np.ones_like(importance)
    share = importance.sum(axis=axis) / importance.sum()
    return float(np.sum(per_item * share))


def dci_from_importance(importance: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray]:
    """(disentanglement, completeness, per-latent D (z,), per-factor C (K,)) from R (z, K)."""
    r = np.abs(np.asarray(importance, dtype=np.float64))
    if r.ndim != 2 or min(r.shape) < 2:
        raise InputError(f"DCI needs an importance matrix (z, K) with z, K >= 2, got {r.shape}")
    per_latent = _one_minus_entropy(r, axis=1)
    per_factor = _one_minus_entropy(r, axis=0)
    return _weighted(per_latent, r, 1), _weighted(per_factor, r, 0), per_latent, per_factor


def dci(
    train_codes: np.ndarray,
    train_factors: np.ndarray,
    test_codes: np.ndarray,
    test_factors: np.ndarray,
    *,
    seed: int = 0,
    workers: int | None = None,
) -> DCIResult:
    """DCI of codes against discrete factors, from a training and a test sample.

    ``seed`` fixes the trees' tie-breaking between equally good splits; ``workers``
    threads fit the factors' ensembles (default: one per core, at most one per factor).
    """
    train_codes = check_codes(train_codes, "train_codes", min_latents=2)
    test_codes = check_codes(test_codes, "test_codes")
    train_factors = check_factors(train_factors, train_codes.shape[0], "train_factors")
    test_factors = check_factors(test_factors, test_codes.shape[0], "test_factors")
    if train_codes.shape[1] != test_codes.shape[1]:
        raise InputError("train_codes and test_codes have different numbers of latents")
    num_factors = train_factors.shape[1]
    for k in range(num_factors):
        if np.unique(train_factors[:, k]).size < 2:
            raise InputError(f"factor {k} takes a single value in the training points")

    def fit(k: int) -> tuple[np.ndarray, float, float]:
        model = GradientBoostingClassifier(random_state=seed).fit(train_codes, train_factors[:, k])
        return (
            np.abs(model.feature_importances_),
            float(np.mean(model.predict(train_codes) == train_factors[:, k])),
            float(np.mean(model.predict(test_codes) == test_factors[:, k])),
        )

    workers = workers or min(num_factors, os.cpu_count() or 1)
    # A factor's ensemble costs one tree per class per round: the largest start first, so
    # the last to finish is a small one (dSprites on 2 threads: 40+6+3 against 32+32 class
    # counts, where the factors' own order gives 3+40 against 6+32+32).
    by_cost = sorted(range(num_factors), key=lambda k: -np.unique(train_factors[:, k]).size)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = dict(zip(by_cost, pool.map(fit, by_cost), strict=True))
    fitted = [done[k] for k in range(num_factors)]
    matrix = np.stack([importance for importance, _, _ in fitted], axis=1)
    train_accuracy = np.array([accuracy for _, accuracy, _ in fitted])
    test_accuracy = np.array([accuracy for _, _, accuracy in fitted])
    disentanglement, completeness, per_latent, per_factor = dci_from_importance(matrix)
    return DCIResult(
        score=disentanglement,
        disentanglement=disentanglement,
        completeness=completeness,
        informativeness=float(np.mean(test_accuracy)),
        informativeness_train=float(np.mean(train_accuracy)),
        matrix=matrix,
        per_latent_disentanglement=per_latent,
        per_factor_completeness=per_factor,
    )
