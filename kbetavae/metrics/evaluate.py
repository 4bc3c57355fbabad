"""Evaluate one encoder on the whole dSprites grid: every requested metric, in one dict.

Points are drawn from the whole factor grid (never the training subset). Each sample has
its own random stream derived from ``seed``, so a metric's number does not depend on which
other metrics were asked for, and the same seed gives the same numbers bit for bit.

Speed: the encoder mean is deterministic, so by default (``code_table="lazy"``) every image
is encoded at most once and metrics look codes up in a :class:`CodeTable`. The full default
protocol draws 1.93M images but only 683,650 distinct ones; ``"grid"`` encodes all 737,280
first, ``"none"`` re-encodes every draw as disentanglement_lib does. All three give the same
numbers (checked with a real BetaVAE through ``tf.function``: an image's code does not
depend on the batch it is encoded in; through the XLA path of ``kbetavae.model.inference``
it does in the last bits, so there the modes agree to float rounding). :func:`evaluate_many`
evaluates K models on the same draws, rendering and encoding each image once for the group.
Measured on the 2-core CPU with an untrained default BetaVAE on the replica (e31e903,
tf.function encoder), encoder and rendering included: lazy 99 s, grid 113 s; the encoder
runs at ~6,600-6,900 images/s, so encoding dominates and the lazy table wins by the 7% it
skips (and by far more with the reduced sample sizes of tests and quick sweeps).

Active latents: a latent is active when its mean KL(q(z_i|x) || N(0, 1)) over the sample
exceeds 0.01 nats. That needs log-variances; for an encoder that returns mu only, the
count uses 0.5 * Var(mu_i) instead, a lower bound of the mean KL (the sigma terms of the KL
are >= 0 and E[mu^2] >= Var(mu)), so it may undercount (``active_latents_method``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kbetavae.errors import InputError
from kbetavae.metrics.checks import check_codes, check_positive
from kbetavae.metrics.dci import dci
from kbetavae.metrics.factorvae import factorvae_score
from kbetavae.metrics.mig import mig_from_mutual_info
from kbetavae.metrics.modularity import modularity_from_mutual_info
from kbetavae.metrics.mutual_info import code_factor_mutual_info, factor_entropies
from kbetavae.metrics.representation import (
    ENCODE_BATCH_SIZE,
    CodeTable,
    GroundTruth,
    _encode_index,
    as_encode_fn,
)
from kbetavae.metrics.results import jsonable
from kbetavae.metrics.sap import sap
from kbetavae.metrics.zdiff import zdiff

DEFAULT_METRICS = ("mig", "zdiff", "modularity")
ALL_METRICS = ("mig", "zdiff", "modularity", "sap", "factorvae", "dci")
CODE_TABLE_MODES = ("lazy", "grid", "none")
ACTIVE_KL_NATS = 0.01
# One random stream per sample, in a fixed order (append, never reorder: seeds stay valid).
_STREAMS = ("points", "test_points", "zdiff", "factorvae")


def kl_per_latent(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """Mean KL(N(mu, exp(logvar)) || N(0, 1)) per latent over the points, in nats (z,)."""
    return 0.5 * np.mean(np.square(mu) + np.exp(logvar) - logvar - 1.0, axis=0)


def _encode_points(
    encoder: CodeTable | Callable, ground_truth: GroundTruth, factors: np.ndarray, batch_size: int
) -> tuple[np.ndarray, np.ndarray | None]:
    index = ground_truth.index(factors)
    if isinstance(encoder, CodeTable):
        return encoder.codes_at(index), encoder.logvars_at(index)
    return _encode_index(ground_truth, encoder, index, batch_size)


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
    metrics: Sequence[str] = DEFAULT_METRICS,
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
) -> dict[str, Any]:
    """Every requested metric of an encoder, as a JSON-serialisable dict.

    Args:
        model_or_encode_fn: an object with ``.encode(images) -> (mu, logvar)`` (a
            ``kbetavae.BetaVAE``) or a callable images -> ``(mu, logvar)``, a dict with
            ``mu``/``logvar``, or ``mu``. Images are float32 (N, 64, 64, 1) in [0, 1].
        ground_truth: a ``kbetavae.data.GroundTruthData``.
        metrics: names from ``ALL_METRICS``; default MIG, Z-diff and Modularity.
        seed: the seed of every random draw.
        num_points: points for MIG, Modularity and active latents, and the training points
            of SAP and DCI (protocol: 10,000).
        num_test_points: test points of SAP and DCI (5,000).
        num_train, num_eval: training and evaluation points of Z-diff and FactorVAE
            (10,000 / 5,000), each made from ``pair_batch_size`` (64) images or pairs.
        num_variance_points: FactorVAE's global-variance sample (10,000).
        batch_size: images per encoder call.
        code_table: ``"lazy"``, ``"grid"`` or ``"none"`` (see the module docstring).

    Returns:
        ``{metric: result.to_dict(), ..., "active_latents", "kl_per_latent",
        "num_latents", "protocol", "images_encoded", "timing"}``; only ``timing`` varies
        between runs with the same seed.

    Example:
        >>> evaluate(model, open_source("replica"), seed=0)["mig"]["score"]  # doctest: +SKIP
    """
    started = time.perf_counter()
    names, protocol, batch_size = _checked_settings(
        metrics,
        code_table,
        CODE_TABLE_MODES,
        num_points=num_points,
        num_test_points=num_test_points,
        num_train=num_train,
        num_eval=num_eval,
        pair_batch_size=pair_batch_size,
        num_variance_points=num_variance_points,
        batch_size=batch_size,
    )
    encode_fn = as_encode_fn(model_or_encode_fn)
    encoder: CodeTable | Callable = encode_fn
    if code_table != "none":
        encoder = CodeTable(ground_truth, encode_fn, batch_size=batch_size)
        if code_table == "grid":
            encoder.fill()
    report = _evaluate_with(encoder, ground_truth, names, seed, protocol, batch_size)
    report["timing"]["total_seconds"] = time.perf_counter() - started
    return jsonable(report)


def evaluate_many(
    models_or_encode_fns: Sequence[Any],
    ground_truth: GroundTruth,
    metrics: Sequence[str] = DEFAULT_METRICS,
    seed: int = 0,
    *,
    encode_many: Callable[[np.ndarray], Sequence[Any]] | None = None,
    num_points: int = 10_000,
    num_test_points: int = 5_000,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    pair_batch_size: int = 64,
    num_variance_points: int = 10_000,
    batch_size: int = ENCODE_BATCH_SIZE,
    code_table: str = "lazy",
) -> list[dict[str, Any]]:
    """:func:`evaluate` for K encoders on the same draws, each image rendered and encoded
    once for the whole group.

    The draws depend on ``seed`` alone, never on the model, so the K evaluations ask for
    the same images; K code tables filled together (:meth:`CodeTable.group`) serve them.
    Report ``k`` equals ``evaluate(models_or_encode_fns[k], ...)`` with the same arguments
    except for ``timing``, whose seconds are 1/K shares of the group's.

    Args:
        models_or_encode_fns: K models or encode functions, as ``evaluate`` takes.
        encode_many: optional ``images -> [output_1, ..., output_K]`` that encodes a batch
            with all K at once (``kbetavae.model.inference.ManyEncoder``: one wide first
            layer); without it each encoder is called on the shared images in turn.
        code_table: ``"lazy"`` or ``"grid"`` (a group always shares code tables).
        The other arguments are ``evaluate``'s.

    Example:
        >>> many = ManyEncoder(models)  # kbetavae.model.inference  # doctest: +SKIP
        >>> reports = evaluate_many(models, data, encode_many=many)  # doctest: +SKIP
    """
    started = time.perf_counter()
    names, protocol, batch_size = _checked_settings(
        metrics,
        code_table,
        ("lazy", "grid"),
        num_points=num_points,
        num_test_points=num_test_points,
        num_train=num_train,
        num_eval=num_eval,
        pair_batch_size=pair_batch_size,
        num_variance_points=num_variance_points,
        batch_size=batch_size,
    )
    members = list(models_or_encode_fns)
    if not members:
        raise InputError("evaluate_many needs at least one model or encode function")
    if encode_many is None:
        encode_many = _each_encoder([as_encode_fn(member) for member in members])
    tables = CodeTable.group(ground_truth, encode_many, len(members), batch_size=batch_size)
    if code_table == "grid":
        tables[0].fill()
    reports = [_evaluate_with(t, ground_truth, names, seed, protocol, batch_size) for t in tables]
    share = (time.perf_counter() - started) / len(members)
    for report in reports:
        report["timing"]["total_seconds"] = share
    return [jsonable(report) for report in reports]


def _each_encoder(encode_fns: list[Callable]) -> Callable[[np.ndarray], list[Any]]:
    def encode_each(images: np.ndarray) -> list[Any]:
        # Each encoder gets the float32 images it expects unless it casts uint8 itself.
        as_float = None
        outputs = []
        for encode_fn in encode_fns:
            if images.dtype == np.uint8 and not getattr(encode_fn, "accepts_uint8", False):
                as_float = images.astype(np.float32) if as_float is None else as_float
                outputs.append(encode_fn(as_float))
            else:
                outputs.append(encode_fn(images))
        return outputs

    encode_each.accepts_uint8 = True
    return encode_each


def _checked_settings(
    metrics: Sequence[str], code_table: str, modes: tuple[str, ...], *, batch_size: int, **sizes
) -> tuple[tuple[str, ...], dict[str, int], int]:
    """(metric names, protocol, batch size) validated, or InputError naming the argument."""
    names = tuple(metrics)
    unknown = [name for name in names if name not in ALL_METRICS]
    if unknown or not names:
        raise InputError(f"unknown metrics {unknown}; choose from {', '.join(ALL_METRICS)}")
    if code_table not in modes:
        raise InputError(f"code_table must be one of {modes}, got {code_table!r}")
    protocol = {
        "num_points": check_positive(sizes["num_points"], "num_points", minimum=2),
        "num_test_points": check_positive(sizes["num_test_points"], "num_test_points"),
        "num_train": check_positive(sizes["num_train"], "num_train"),
        "num_eval": check_positive(sizes["num_eval"], "num_eval"),
        "pair_batch_size": check_positive(sizes["pair_batch_size"], "pair_batch_size", minimum=2),
        "num_variance_points": check_positive(
            sizes["num_variance_points"], "num_variance_points", 2
        ),
        "num_bins": 20,
    }
    return names, protocol, check_positive(batch_size, "batch_size")


def _evaluate_with(
    encoder: CodeTable | Callable,
    ground_truth: GroundTruth,
    names: tuple[str, ...],
    seed: int,
    protocol: dict[str, int],
    batch_size: int,
) -> dict[str, Any]:
    """The report of one encoder (a code table or an encode function); not yet jsonable."""
    num_points, num_test_points = protocol["num_points"], protocol["num_test_points"]
    num_train, num_eval = protocol["num_train"], protocol["num_eval"]
    pair_batch_size = protocol["pair_batch_size"]
    num_variance_points = protocol["num_variance_points"]
    streams = dict(zip(_STREAMS, np.random.SeedSequence(seed).spawn(len(_STREAMS)), strict=True))

    def rng(stream: str) -> np.random.Generator:
        return np.random.default_rng(streams[stream])

    factors = np.asarray(ground_truth.sample_factors(num_points, rng("points")), dtype=np.int64)
    mu, logvar = _encode_points(encoder, ground_truth, factors, batch_size)
    codes = check_codes(mu)
    images_encoded = num_points
    report: dict[str, Any] = {
        "seed": seed,
        "metrics": list(names),
        "factor_names": list(ground_truth.factor_names),
        "num_latents": int(codes.shape[1]),
        **_active_latents(codes, logvar),
    }
    if {"mig", "modularity"} & set(names):
        mutual_info = code_factor_mutual_info(codes, factors)
        if "mig" in names:
            report["mig"] = mig_from_mutual_info(mutual_info, factor_entropies(factors))
        if "modularity" in names:
            report["modularity"] = modularity_from_mutual_info(mutual_info)
    if {"sap", "dci"} & set(names):
        test_factors = np.asarray(
            ground_truth.sample_factors(num_test_points, rng("test_points")), dtype=np.int64
        )
        test_codes = check_codes(_encode_points(encoder, ground_truth, test_factors, batch_size)[0])
        images_encoded += num_test_points
        if "sap" in names:
            report["sap"] = sap(codes, factors, test_codes, test_factors)
        if "dci" in names:
            report["dci"] = dci(codes, factors, test_codes, test_factors, seed=seed)
    pairs = {"batch_size": pair_batch_size, "num_train": num_train, "num_eval": num_eval}
    if "zdiff" in names:
        report["zdiff"] = zdiff(ground_truth, encoder, rng("zdiff"), **pairs)
        images_encoded += 2 * pair_batch_size * (num_train + num_eval)
    if "factorvae" in names:
        report["factorvae"] = factorvae_score(
            ground_truth,
            encoder,
            rng("factorvae"),
            num_variance_points=num_variance_points,
            **pairs,
        )
        images_encoded += num_variance_points + pair_batch_size * (num_train + num_eval)
    report["protocol"] = protocol
    report["images_drawn"] = images_encoded
    report["images_encoded"] = (
        encoder.num_encoded if isinstance(encoder, CodeTable) else images_encoded
    )
    report["timing"] = {
        "encode_seconds": encoder.encode_seconds if isinstance(encoder, CodeTable) else None,
    }
    return report
