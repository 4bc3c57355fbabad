"""The evaluation protocol: every sample size of an evaluation and Z-diff's classifier.

The one home of the disentanglement_lib numbers (Locatello et al. 2019): 10,000 points for
MIG, Modularity and active latents (and SAP/DCI training), 5,000 test points, Z-diff and
FactorVAE trained on 10,000 votes and scored on 5,000, each made of 64 images or pairs,
FactorVAE's global variances from 10,000 points; and the held-out ELBO's 5,000 images.
``Protocol()`` is that protocol; :meth:`Protocol.scaled` shrinks it from one number, the
``--eval-points`` of ``kbetavae sweep``/``train``/``evaluate``, all through
:func:`check_eval_points` (the one minimum of a user's choice).

Named variants of Z-diff's and MIG's protocol (readings of it other scripts may have
computed) live with their metric (``ZDIFF_VARIANTS``, ``MIG_VARIANTS``), each looked up by
:func:`choose_variant`; :data:`DEFAULT_VARIANT` is this protocol.

Seeds are not part of the protocol: every draw of an evaluation is seeded by the run's seed
(``kbetavae.metrics.inputs.EvaluationInputs.rng`` derives one stream per sample from it).

Example:
    >>> Protocol.scaled(500).num_eval, Protocol.scaled(500).heldout_images
    (250, 250)
    >>> Protocol().record()["num_points"]
    10000
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from kbetavae.errors import InputError
from kbetavae.metrics.discretize import NUM_BINS
from kbetavae.validation import check_int

FULL_POINTS = 10_000
HELDOUT_IMAGES = 5_000
PAIR_BATCH_SIZE = 64
# Below this a metric's number is mostly sampling noise; reduced sweeps use 200-2,000.
MIN_EVAL_POINTS = 100
# name -> how Z-diff's classifier treats the K factors, as metrics.json records it.
CLASSIFIERS = {
    "lbfgs": {"solver": "lbfgs", "multi_class": "multinomial"},
    "liblinear_ovr": {"solver": "liblinear", "multi_class": "one-vs-rest"},
}
DEFAULT_CLASSIFIER = "lbfgs"
# The protocol above, as the variant tables of Z-diff and MIG name it (zdiff.ZDIFF_VARIANTS,
# mig.MIG_VARIANTS): the default of both, the numbers every metrics.json holds.
DEFAULT_VARIANT = "disentanglement_lib"
# A sample's smallest size the computation allows (a variance needs two points); 1 otherwise.
_MINIMUM = {"num_points": 2, "pair_batch_size": 2, "num_variance_points": 2}
# The keys of metrics.json's "protocol" entry, as every evaluation has written them
# (kbetavae collect compares runs by it); the held-out ELBO records its own num_images.
_RECORD = (
    "num_points",
    "num_test_points",
    "num_train",
    "num_eval",
    "pair_batch_size",
    "num_variance_points",
    "num_bins",
    "zdiff_classifier",
)


def check_classifier(name: str, argument: str = "zdiff_classifier") -> str:
    """``name`` if it is a Z-diff classifier, else InputError naming ``argument``."""
    if name not in CLASSIFIERS:
        raise InputError(f"{argument} must be one of {', '.join(CLASSIFIERS)}, got {name!r}")
    return name


Variant = TypeVar("Variant")


def choose_variant(variants: Mapping[str, Variant], name: str, metric: str) -> Variant:
    """The entry ``name`` of a metric's variant table, or one InputError line listing the
    known names."""
    if name not in variants:
        raise InputError(f"{metric} variant must be one of {', '.join(variants)}, got {name!r}")
    return variants[name]


def check_eval_points(eval_points) -> int:
    """``eval_points`` as an int of at least :data:`MIN_EVAL_POINTS`, or InputError: the
    one minimum of every evaluation (sweep, train --evaluate, evaluate)."""
    if isinstance(eval_points, bool) or not isinstance(eval_points, int):
        raise InputError(f"eval_points must be an integer, got {eval_points!r}")
    if eval_points < MIN_EVAL_POINTS:
        raise InputError(f"eval_points must be at least {MIN_EVAL_POINTS}, got {eval_points}")
    return eval_points


@dataclasses.dataclass(frozen=True)
class Protocol:
    """The sample sizes of one evaluation and Z-diff's classifier (default: the full
    disentanglement_lib protocol).

    Attributes:
        num_points: points of MIG, Modularity, active latents; SAP/DCI training points.
        num_test_points: SAP/DCI test points.
        num_train, num_eval: Z-diff's and FactorVAE's training and evaluation votes.
        pair_batch_size: images (Z-diff: pairs) behind each vote.
        num_variance_points: FactorVAE's global-variance sample.
        heldout_images: images of the held-out ELBO.
        zdiff_classifier: ``"lbfgs"`` or ``"liblinear_ovr"`` (see :mod:`.zdiff`).
        num_bins: MIG's and Modularity's bins per latent.
    """

    num_points: int = FULL_POINTS
    num_test_points: int = FULL_POINTS // 2
    num_train: int = FULL_POINTS
    num_eval: int = FULL_POINTS // 2
    pair_batch_size: int = PAIR_BATCH_SIZE
    num_variance_points: int = FULL_POINTS
    heldout_images: int = HELDOUT_IMAGES
    zdiff_classifier: str = DEFAULT_CLASSIFIER
    num_bins: int = NUM_BINS

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            if field.name != "zdiff_classifier":
                value = getattr(self, field.name)
                check_int(field.name, value, minimum=_MINIMUM.get(field.name, 1))
                object.__setattr__(self, field.name, int(value))
        check_classifier(self.zdiff_classifier)

    @classmethod
    def scaled(cls, eval_points: int, zdiff_classifier: str = DEFAULT_CLASSIFIER) -> Protocol:
        """The protocol at ``eval_points`` (at least :data:`MIN_EVAL_POINTS`): that many
        points, training votes and variance points; half as many test points, evaluation
        votes and held-out images (at most 5,000). ``scaled(10_000)`` is ``Protocol()``."""
        n = check_eval_points(eval_points)
        half = n // 2
        return cls(
            num_points=n,
            num_test_points=half,
            num_train=n,
            num_eval=half,
            num_variance_points=n,
            heldout_images=_heldout_images(n),
            zdiff_classifier=zdiff_classifier,
        )

    @classmethod
    def from_record(cls, record: Mapping[str, Any], heldout_images: int | None = None) -> Protocol:
        """The protocol a metrics.json's ``protocol`` entry (:meth:`record`) states; the
        held-out images, which it does not state, are ``heldout_images`` or, as
        :meth:`scaled` sets them, half the points (at most 5,000). InputError if a key is
        missing."""
        missing = [name for name in _RECORD if name not in record]
        if missing:
            raise InputError(f"the recorded protocol lacks {', '.join(missing)}")
        fields = {name: record[name] for name in _RECORD}
        if heldout_images is None:
            heldout_images = _heldout_images(int(fields["num_points"]))
        return cls(**fields, heldout_images=heldout_images)

    def replace(self, **changes: Any) -> Protocol:
        return dataclasses.replace(self, **changes)

    def record(self) -> dict[str, Any]:
        """metrics.json's ``protocol`` entry."""
        return {name: getattr(self, name) for name in _RECORD}


def _heldout_images(num_points: int) -> int:
    """The held-out ELBO's images at ``num_points``: half of them, at most 5,000."""
    return min(HELDOUT_IMAGES, num_points // 2)


# The full protocol: the default of every evaluation and metric function.
FULL_PROTOCOL = Protocol()
