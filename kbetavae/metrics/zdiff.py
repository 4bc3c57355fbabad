"""The beta-VAE disentanglement score, "Z-diff" (Higgins et al. 2017, "beta-VAE: Learning
Basic Visual Concepts with a Constrained Variational Framework").

One point: pick a factor k at random, draw two batches of 64 factor vectors that agree on
factor k only, encode both, and take the mean over the batch of |mu1 - mu2| per latent.
In a disentangled code the latent of factor k barely moves, so a linear classifier can
read k off that feature vector. The score is the classifier's accuracy on held-out
points: 1 when k is always recovered, 1/K (0.2 for dSprites) at chance. Protocol of
disentanglement_lib (Locatello et al. 2019): batch 64, 10,000 training and 5,000
evaluation points, scikit-learn's ``LogisticRegression`` with its defaults, features not
normalised.

"Its defaults" changed under the protocol: in disentanglement_lib's time (scikit-learn <
0.22) they were the liblinear solver fitting one binary classifier per factor (one-vs-rest,
intercept penalised); since 0.22 they are lbfgs fitting one multinomial model, and
``multi_class`` (deprecated in 1.5) is gone by 1.9. On the same features of a reviewer's
model the two gave 0.872 (liblinear one-vs-rest) and 0.855 (lbfgs), so the classifier is a
parameter: ``"lbfgs"`` (today's default, ours) or ``"liblinear_ovr"``
(``OneVsRestClassifier`` around a liblinear ``LogisticRegression``, the old default), and
the result names it with the scikit-learn version.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import sklearn
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from threadpoolctl import threadpool_limits

from kbetavae.metrics.protocol import CLASSIFIERS, DEFAULT_CLASSIFIER, FULL_PROTOCOL, Protocol
from kbetavae.metrics.representation import (
    ENCODE_BATCH_SIZE,
    GroundTruth,
    Representation,
    factor_encoder,
)
from kbetavae.metrics.results import MetricResult
from kbetavae.metrics.votes import vote_batches
from kbetavae.validation import RngLike, as_rng, check_int

__all__ = ["DEFAULT_CLASSIFIER", "ZDiffResult", "zdiff", "zdiff_points"]


@dataclasses.dataclass(frozen=True)
class ZDiffResult(MetricResult):
    """Z-diff ``score`` (evaluation accuracy); ``train_accuracy``; ``matrix`` (z, K) the
    mean feature |mu1 - mu2| of latent i over all points that fixed factor k (0 for a factor
    never drawn); ``points_per_factor`` (K,); ``converged`` False if the solver hit its
    iteration limit (kept: the reference uses the defaults too); ``chance`` = 1/K;
    ``classifier``: its name, solver, multi-class scheme and the scikit-learn version;
    ``iterations`` the most solver iterations any of its fits used and ``max_iter`` their
    limit (``converged`` is ``iterations < max_iter``; both 0 when one factor alone was
    drawn and nothing was fitted)."""

    train_accuracy: float
    matrix: np.ndarray
    points_per_factor: np.ndarray
    converged: bool
    chance: float
    classifier: dict = dataclasses.field(default_factory=dict)
    iterations: int = 0
    max_iter: int = 0


def zdiff_points(
    ground_truth: GroundTruth,
    representation: Representation,
    num_points: int,
    rng: np.random.Generator,
    batch_size: int = 64,
    encode_batch_size: int = ENCODE_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """Z-diff features (num_points, z) and their labels, the fixed factor (num_points,)."""
    batch_size = check_int("batch_size", batch_size, minimum=1)
    encode = factor_encoder(ground_truth, representation, encode_batch_size)
    features, labels = [], []
    for fixed, first in vote_batches(ground_truth, num_points, batch_size, rng):
        n = len(fixed)
        second = ground_truth.sample_factors(n * batch_size, rng).reshape(n, batch_size, -1)
        rows = np.arange(n)
        second[rows, :, fixed] = first[rows, :, fixed]
        codes = encode(np.concatenate([first, second]).reshape(2 * n * batch_size, -1))
        codes = codes.reshape(2, n, batch_size, -1)
        features.append(np.mean(np.abs(codes[0] - codes[1]), axis=1))
        labels.append(fixed)
    return np.concatenate(features), np.concatenate(labels)


def classifier_record(name: str) -> dict[str, str]:
    """What ``metrics.json`` says of classifier ``name``."""
    return {"name": name, **CLASSIFIERS[name], "sklearn_version": sklearn.__version__}


def _make_classifier(name: str):
    if name == "liblinear_ovr":
        # Current scikit-learn has no multi_class: liblinear refuses K > 2 classes unless
        # wrapped, and the wrapper predicts the argmax of the K binary decision functions,
        # as the old built-in one-vs-rest did.
        return OneVsRestClassifier(LogisticRegression(solver="liblinear"))
    return LogisticRegression(solver="lbfgs")


def _iterations(model) -> tuple[int, int]:
    """The most iterations any fit of ``model`` used (one per binary for one-vs-rest) and
    the limit they ran under."""
    binaries = getattr(model, "estimators_", [model])
    return max(int(np.max(m.n_iter_)) for m in binaries), max(m.max_iter for m in binaries)


def _fit_classifier(
    features: np.ndarray, labels: np.ndarray, name: str
) -> tuple[object, tuple[int, int]]:
    """The fitted classifier and its (iterations, max_iter)."""
    if np.unique(labels).size == 1:
        # Too few points to see two factors (LogisticRegression refuses): predict the one seen.
        return DummyClassifier(strategy="most_frequent").fit(features, labels), (0, 0)
    model = _make_classifier(name)
    # One BLAS/OpenMP thread: on this 2-core CPU the default pools (OpenBLAS and OpenMP,
    # two threads each) contend and the fit runs ~8x slower; the coefficients are equal.
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(features, labels)
    return model, _iterations(model)


def zdiff(
    ground_truth: GroundTruth,
    representation: Representation,
    rng: RngLike,
    protocol: Protocol = FULL_PROTOCOL,
    *,
    encode_batch_size: int = ENCODE_BATCH_SIZE,
) -> ZDiffResult:
    """The beta-VAE score of a representation (images -> codes, or a :class:`CodeTable`).

    ``protocol`` gives the votes (``num_train``, ``num_eval``, ``pair_batch_size``) and the
    classifier: ``"lbfgs"`` (multinomial, scikit-learn's default since 0.22) or
    ``"liblinear_ovr"`` (one-vs-rest liblinear, disentanglement_lib's era). A collapsed
    encoder gives all-zero features; the classifier then predicts the most frequent
    training label and scores about 1/K.
    """
    classifier = protocol.zdiff_classifier
    rng = as_rng(rng)
    sizes = (protocol.pair_batch_size, encode_batch_size)
    train_x, train_y = zdiff_points(ground_truth, representation, protocol.num_train, rng, *sizes)
    eval_x, eval_y = zdiff_points(ground_truth, representation, protocol.num_eval, rng, *sizes)
    model, (iterations, max_iter) = _fit_classifier(train_x, train_y, classifier)
    num_factors = len(ground_truth.factor_sizes)
    all_x, all_y = np.concatenate([train_x, eval_x]), np.concatenate([train_y, eval_y])
    counts = np.bincount(all_y, minlength=num_factors)
    sums = np.zeros((num_factors, all_x.shape[1]))
    np.add.at(sums, all_y, all_x)
    matrix = np.divide(sums, counts[:, None], out=np.zeros_like(sums), where=counts[:, None] > 0)
    return ZDiffResult(
        score=float(np.mean(model.predict(eval_x) == eval_y)),
        train_accuracy=float(np.mean(model.predict(train_x) == train_y)),
        matrix=matrix.T,
        points_per_factor=counts,
        converged=iterations < max_iter or max_iter == 0,
        chance=1.0 / num_factors,
        classifier=classifier_record(classifier),
        iterations=iterations,
        max_iter=max_iter,
    )
