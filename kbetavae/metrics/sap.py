"""The Separated Attribute Predictability score (Kumar et al. 2018, "Variational Inference
of Disentangled Latent Concepts from Unlabeled Observations", Sec. 3).

For every latent-factor pair a linear classifier predicts the (discrete) factor from that
single latent; its held-out accuracy fills a latent x factor score matrix. Per factor, the
gap between the two most predictive latents says whether one latent alone carries it; SAP
is the mean gap over factors: near 1 when each factor is read off one latent only, 0 when
no latent stands out. Protocol of disentanglement_lib for discrete factors: 1-D
``LinearSVC(C=0.01, class_weight="balanced")`` per pair, 10,000 training and 5,000 test
points.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC

from kbetavae.errors import InputError
from kbetavae.metrics.checks import check_codes, check_factors
from kbetavae.metrics.results import MetricResult


@dataclasses.dataclass(frozen=True)
class SAPResult(MetricResult):
    """SAP ``score``; ``gaps`` (K,) per factor; ``matrix`` (z, K) test accuracy of latent i
    predicting factor k; ``top_latents`` (K,) the most predictive latent per factor;
    ``unconverged_fits`` how many SVMs stopped at liblinear's iteration limit (kept, as
    in the reference, which uses the defaults too)."""

    gaps: np.ndarray
    matrix: np.ndarray
    top_latents: np.ndarray
    unconverged_fits: int


def sap_matrix(
    train_codes: np.ndarray,
    train_factors: np.ndarray,
    test_codes: np.ndarray,
    test_factors: np.ndarray,
) -> tuple[np.ndarray, int]:
    """Test accuracy (z, K) of a 1-D linear SVM per latent-factor pair, and the number of
    fits that hit the iteration limit."""
    train_codes = check_codes(train_codes, "train_codes")
    test_codes = check_codes(test_codes, "test_codes")
    train_factors = check_factors(train_factors, train_codes.shape[0], "train_factors")
    test_factors = check_factors(test_factors, test_codes.shape[0], "test_factors")
    if train_codes.shape[1] != test_codes.shape[1]:
        raise InputError("train_codes and test_codes have different numbers of latents")
    matrix = np.zeros((train_codes.shape[1], train_factors.shape[1]))
    unconverged = 0
    for k in range(train_factors.shape[1]):
        if np.unique(train_factors[:, k]).size < 2:
            raise InputError(f"factor {k} takes a single value in the training points")
        for i in range(train_codes.shape[1]):
            classifier = LinearSVC(C=0.01, class_weight="balanced")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                classifier.fit(train_codes[:, i : i + 1], train_factors[:, k])
            unconverged += int(np.max(classifier.n_iter_) >= classifier.max_iter)
            predicted = classifier.predict(test_codes[:, i : i + 1])
            matrix[i, k] = np.mean(predicted == test_factors[:, k])
    return matrix, unconverged


def sap(
    train_codes: np.ndarray,
    train_factors: np.ndarray,
    test_codes: np.ndarray,
    test_factors: np.ndarray,
) -> SAPResult:
    """SAP of codes against discrete factors, from a training and a test sample."""
    check_codes(train_codes, "train_codes", min_latents=2)
    matrix, unconverged = sap_matrix(train_codes, train_factors, test_codes, test_factors)
    ranked = np.sort(matrix, axis=0)
    gaps = ranked[-1] - ranked[-2]
    return SAPResult(
        score=float(np.mean(gaps)),
        gaps=gaps,
        matrix=matrix,
        top_latents=np.argmax(matrix, axis=0),
        unconverged_fits=unconverged,
    )
