"""Evaluate one encoder on the whole dSprites grid: every requested metric, in one dict.

Points are drawn from the whole factor grid (never the training subset). Each sample has
its own random stream derived from ``seed``, so a metric's number does not depend on which
other metrics were asked for, and the same seed gives the same numbers bit for bit.

Speed: the encoder mean is deterministic, so by default (``code_table="lazy"``) every
image is encoded at most once and metrics look codes up in a :class:`CodeTable`. The full
default protocol draws 1.93M images but only 683,650 distinct ones; ``"grid"`` encodes all
737,280 first, ``"none"`` re-encodes every draw as disentanglement_lib does. All three give
the same numbers (checked with a real BetaVAE: an image's code does not depend on the batch
it is encoded in). Measured on the 2-core CPU with an untrained default BetaVAE on the
replica, encoder and rendering included: lazy 99 s, grid 113 s; the encoder runs at
~6,600-6,900 images/s, so encoding dominates and the lazy table wins by the 7% it skips (and by
far more with the reduced sample sizes of tests and quick sweeps).

Active latents: a latent is active when its mean KL(q(z_i|x) || N(0, 1)) over the sample
exceeds 0.01 nats. That needs log-variances; for an encoder that returns mu only, the
count uses 0.5 * Var(mu_i) instead, a lower bound of the mean KL (the sigma terms of the KL
are >= 0 and E[mu^2] >= Var(mu)), so it may undercount (``active_latents_method``).
"""

from __future__ import annotations

import functools
import time
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kbetavae.errors import InputError
from kbetavae.metrics import registry
from kbetavae.metrics.checks import check_codes, check_positive
from kbetavae.metrics.mutual_info import code_factor_mutual_info, factor_entropies
from kbetavae.metrics.representation import (
    ENCODE_BATCH_SIZE,
    CodeTable,
    GroundTruth,
    _encode_index,
    as_encode_fn,
)
from kbetavae.metrics.results import jsonable
from kbetavae.metrics.zdiff import DEFAULT_CLASSIFIER, check_classifier

CODE_TABLE_MODES = ("lazy", "grid", "none")
ACTIVE_KL_NATS = 0.01
# One random stream per sample, in a fixed order (append, never reorder: seeds stay valid).
# Streams of metrics registered later get an index derived from their name.
_STREAMS = ("points", "test_points", "zdiff", "factorvae")


def kl_per_latent(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """Mean KL(N(mu, exp(logvar)) || N(0, 1)) per latent over the points, in nats (z,)."""
    return 0.5 * np.mean(np.square(mu) + np.exp(logvar) - logvar - 1.0, axis=0)


class EvaluationInputs:
    """What metrics share in one evaluation, drawn and encoded once, on first use.

    ``codes``/``factors``: the ``num_points`` sample (MIG, Modularity, SAP/DCI training);
    ``mutual_info``/``factor_entropies`` of it; ``test_codes``/``test_factors``: the
    ``num_test_points`` sample; ``encoder`` (a :class:`CodeTable` or an encode function)
    and ``ground_truth`` for metrics that draw their own images; ``rng(stream)`` the seeded
    stream of a sample; ``protocol`` the sample sizes.
    """

    def __init__(self, ground_truth, encoder, protocol: dict, seed: int, batch_size: int):
        self.ground_truth = ground_truth
        self.encoder = encoder
        self.protocol = protocol
        self.seed = seed
        self.batch_size = batch_size
        self.images_drawn = 0

    @property
    def pair_sizes(self) -> dict[str, int]:
        """Z-diff's and FactorVAE's vote sizes."""
        p = self.protocol
        return {
            "batch_size": p["pair_batch_size"],
            "num_train": p["num_train"],
            "num_eval": p["num_eval"],
        }

    def rng(self, stream: str) -> np.random.Generator:
        """The generator of ``stream``: the same for the same seed, whatever else runs."""
        index = _STREAMS.index(stream) if stream in _STREAMS else 1000 + zlib.crc32(stream.encode())
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(index,)))

    @functools.cached_property
    def _points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        return self._draw(self.protocol["num_points"], "points")

    @property
    def factors(self) -> np.ndarray:
        return self._points[0]

    @property
    def codes(self) -> np.ndarray:
        return self._points[1]

    @property
    def logvars(self) -> np.ndarray | None:
        return self._points[2]

    @functools.cached_property
    def active_latents(self) -> dict[str, Any]:
        """``active_latents`` (count), ``active_latents_method`` and ``kl_per_latent`` of
        the points (see the module docstring)."""
        return _active_latents(self.codes, self.logvars)

    @property
    def active(self) -> np.ndarray:
        """(z,) bool: the latents whose mean KL over the points exceeds 0.01 nats."""
        return self.active_latents["kl_per_latent"] > ACTIVE_KL_NATS

    @functools.cached_property
    def mutual_info(self) -> np.ndarray:
        return code_factor_mutual_info(self.codes, self.factors)

    @functools.cached_property
    def factor_entropies(self) -> np.ndarray:
        return factor_entropies(self.factors)

    @functools.cached_property
    def _test_points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        return self._draw(self.protocol["num_test_points"], "test_points")

    @property
    def test_factors(self) -> np.ndarray:
        return self._test_points[0]

    @property
    def test_codes(self) -> np.ndarray:
        return self._test_points[1]

    def _draw(self, n: int, stream: str):
        factors = np.asarray(self.ground_truth.sample_factors(n, self.rng(stream)), np.int64)
        index = self.ground_truth.index(factors)
        if isinstance(self.encoder, CodeTable):
            mu, logvar = self.encoder.codes_at(index), self.encoder.logvars_at(index)
        else:
            mu, logvar = _encode_index(self.ground_truth, self.encoder, index, self.batch_size)
        self.images_drawn += n
        return factors, check_codes(mu), logvar


Progress = Callable[[int, int], None]


class _EncodeCounter:
    """Counts images through the encoder and reports ``progress(done, expected)``."""

    def __init__(self, expected: int, progress: Progress):
        self.expected, self.done, self.progress = expected, 0, progress

    def wrap(self, encode_fn: Callable) -> Callable:
        def encode(images: np.ndarray):
            output = encode_fn(images)
            self.done += len(images)
            self.progress(self.done, max(self.expected, self.done))
            return output

        return encode

    def finish(self) -> None:
        self.progress(self.done, self.done)


def expected_encodes(draws: int, num_images: int, code_table: str) -> int:
    """Images an evaluation will encode: every draw without a code table, the whole grid
    with ``"grid"``, and with ``"lazy"`` the expected number of distinct images among
    ``draws`` uniform draws, N(1 - (1 - 1/N)^draws) (the draws are near uniform: for the
    full protocol this gives 683,6xx for the 683,650 measured)."""
    if code_table == "none":
        return draws
    if code_table == "grid":
        return num_images
    return min(draws, round(num_images * -np.expm1(draws * np.log1p(-1.0 / num_images))))


def protocol_sizes(eval_points: int) -> dict[str, int]:
    """The :func:`evaluate` sample sizes scaled from one number: MIG/Modularity use
    ``eval_points`` points, Z-diff and FactorVAE that many training votes and half as many
    evaluation votes, SAP/DCI half as many test points (10,000 is the disentanglement_lib
    protocol)."""
    n = check_positive(eval_points, "eval_points", minimum=2)
    half = max(n // 2, 1)
    return {
        "num_points": n,
        "num_test_points": half,
        "num_train": n,
        "num_eval": half,
        "num_variance_points": n,
    }


def _active_latents(mu: np.ndarray, logvar: np.ndarray | None) -> dict[str, Any]:
    if logvar is not None:
        kl = kl_per_latent(mu.astype(np.float64), check_codes(logvar, "logvars"))
        method = "kl"
    else:
        kl = 0.5 * np.var(mu, axis=0)
        method = "mu_variance"
    return {
        "active_latents": int(np.sum(kl > ACTIVE_KL_NATS)),
        "active_latents_method": method,
        "kl_per_latent": kl,
    }


def evaluate(
    model_or_encode_fn: Any,
    ground_truth: GroundTruth,
    metrics: Sequence[str] | None = None,
    seed: int = 0,
    *,
    num_points: int = 10_000,
    num_test_points: int = 5_000,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    pair_batch_size: int = 64,
    num_variance_points: int = 10_000,
    batch_size: int = ENCODE_BATCH_SIZE,
    code_table: str = "lazy",
    zdiff_classifier: str = DEFAULT_CLASSIFIER,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Every requested metric of an encoder, as a JSON-serialisable dict.

    Args:
        model_or_encode_fn: an object with ``.encode(images) -> (mu, logvar)`` (a
            ``kbetavae.BetaVAE``) or a callable images -> ``(mu, logvar)``, a dict with
            ``mu``/``logvar``, or ``mu``. Images are float32 (N, 64, 64, 1) in [0, 1].
        ground_truth: a ``kbetavae.data.GroundTruthData``.
        metrics: names from :mod:`kbetavae.metrics.registry`; default its default metrics
            (MIG, Z-diff and Modularity).
        seed: the seed of every random draw.
        num_points: points for MIG, Modularity and active latents, and the training points
            of SAP and DCI (protocol: 10,000).
        num_test_points: test points of SAP and DCI (5,000).
        num_train, num_eval: training and evaluation points of Z-diff and FactorVAE
            (10,000 / 5,000), each made from ``pair_batch_size`` (64) images or pairs.
        num_variance_points: FactorVAE's global-variance sample (10,000).
        batch_size: images per encoder call.
        code_table: ``"lazy"``, ``"grid"`` or ``"none"`` (see the module docstring).
        zdiff_classifier: ``"lbfgs"`` or ``"liblinear_ovr"`` (see :mod:`.zdiff`).
        progress: called as ``progress(images_encoded, expected)`` after each encoder
            batch; ``expected`` is :func:`expected_encodes` (an estimate with the lazy
            table, never below the count so far); the last call is ``(done, done)``.

    Returns:
        ``{metric: result.to_dict(), ..., "active_latents", "kl_per_latent",
        "num_latents", "protocol", "images_encoded", "timing"}``; only ``timing`` varies
        between runs with the same seed.

    Example:
        >>> evaluate(model, open_source("replica"), seed=0)["mig"]["score"]  # doctest: +SKIP
    """
    started = time.perf_counter()
    names = registry.check_names(registry.default_names() if metrics is None else metrics)
    if code_table not in CODE_TABLE_MODES:
        raise InputError(f"code_table must be one of {CODE_TABLE_MODES}, got {code_table!r}")
    protocol = {
        "num_points": check_positive(num_points, "num_points", minimum=2),
        "num_test_points": check_positive(num_test_points, "num_test_points"),
        "num_train": check_positive(num_train, "num_train"),
        "num_eval": check_positive(num_eval, "num_eval"),
        "pair_batch_size": check_positive(pair_batch_size, "pair_batch_size", minimum=2),
        "num_variance_points": check_positive(num_variance_points, "num_variance_points", 2),
        "num_bins": 20,
        "zdiff_classifier": check_classifier(zdiff_classifier),
    }
    batch_size = check_positive(batch_size, "batch_size")
    encode_fn = as_encode_fn(model_or_encode_fn)
    counter = None
    if progress is not None:
        # Draws: the shared samples (the test sample counted even if no metric uses it)
        # and each metric's own.
        draws = protocol["num_points"] + protocol["num_test_points"]
        draws += sum(registry.spec(name).images_drawn(protocol) for name in names)
        counter = _EncodeCounter(
            expected_encodes(draws, ground_truth.num_images, code_table), progress
        )
        encode_fn = counter.wrap(encode_fn)
    encoder: CodeTable | Callable = encode_fn
    if code_table != "none":
        encoder = CodeTable(ground_truth, encode_fn, batch_size=batch_size)
        if code_table == "grid":
            encoder.fill()
    inputs = EvaluationInputs(ground_truth, encoder, protocol, seed, batch_size)
    report: dict[str, Any] = {
        "seed": seed,
        "metrics": list(names),
        "factor_names": list(ground_truth.factor_names),
        "num_latents": int(inputs.codes.shape[1]),
        **inputs.active_latents,
    }
    images_drawn = 0
    for name in names:
        metric = registry.spec(name)
        report[name] = metric.compute(inputs)
        images_drawn += metric.images_drawn(protocol)
    report["protocol"] = protocol
    if counter is not None:
        counter.finish()
    report["images_drawn"] = images_drawn + inputs.images_drawn
    report["images_encoded"] = (
        encoder.num_encoded if isinstance(encoder, CodeTable) else report["images_drawn"]
    )
    report["timing"] = {
        "encode_seconds": encoder.encode_seconds if isinstance(encoder, CodeTable) else None,
        "total_seconds": time.perf_counter() - started,
    }
    return jsonable(report)


def metric_row(record: dict) -> dict[str, Any]:
    """The results-table cells of a ``metrics.json`` record: active latents, every
    registered metric's columns it holds, the held-out ELBO's terms and the evaluation
    time."""
    row: dict[str, Any] = {"active_latents": record.get("active_latents")}
    if isinstance(row["active_latents"], dict):
        row["active_latents"] = row["active_latents"].get("count")
    for name in registry.names():
        if record.get(name):
            row.update(registry.spec(name).row(record[name]))
    heldout = record.get("heldout") or {}
    row["heldout_reconstruction"] = heldout.get("reconstruction")
    row["heldout_kl"] = heldout.get("kl")
    row["eval_seconds"] = (record.get("timing") or {}).get("total_seconds")
    return row
