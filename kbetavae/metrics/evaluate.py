"""Evaluate one encoder on the whole dSprites grid: every requested metric, in one dict.

Points are drawn from the whole factor grid (never the training subset), from seeded
streams (:mod:`kbetavae.metrics.inputs`): the same seed gives the same numbers bit for bit.
:func:`evaluate_many` evaluates K models on the same draws, rendering and encoding each
image once for the group.

Speed: the encoder mean is deterministic, so by default (``code_table="lazy"``) every
image is encoded at most once and metrics look codes up in a :class:`CodeTable`. The full
default protocol draws 1.93M images but only 683,650 distinct ones; ``"grid"`` encodes all
737,280 first, ``"none"`` re-encodes every draw as disentanglement_lib does. All three give
the same numbers (checked with a real BetaVAE through ``tf.function``: an image's code does
not depend on the batch it is encoded in; through the XLA path of
``kbetavae.model.inference`` it does in the last bits, so there they agree to rounding).
Measured on the 2-core CPU with an untrained default BetaVAE on the replica (e31e903),
encoder and rendering included: lazy 99 s, grid 113 s; encoding dominates, and the lazy
table wins by the 7% it skips (and by far more at the reduced sample sizes of quick sweeps).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kbetavae.errors import InputError
from kbetavae.metrics import registry
from kbetavae.metrics.inputs import EvaluationInputs
from kbetavae.metrics.progress import EncodeCounter, Progress, expected_encodes
from kbetavae.metrics.representation import ENCODE_BATCH_SIZE, CodeTable, GroundTruth, as_encode_fn
from kbetavae.metrics.results import jsonable
from kbetavae.metrics.zdiff import DEFAULT_CLASSIFIER, check_classifier
from kbetavae.validation import check_int

CODE_TABLE_MODES = ("lazy", "grid", "none")


def protocol_sizes(eval_points: int) -> dict[str, int]:
    """The :func:`evaluate` sample sizes scaled from one number: MIG/Modularity use
    ``eval_points`` points, Z-diff and FactorVAE that many training votes and half as many
    evaluation votes, SAP/DCI half as many test points (10,000 is the disentanglement_lib
    protocol)."""
    n = check_int("eval_points", eval_points, minimum=2)
    half = max(n // 2, 1)
    return {
        "num_points": n,
        "num_test_points": half,
        "num_train": n,
        "num_eval": half,
        "num_variance_points": n,
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
        zdiff_classifier=zdiff_classifier,
    )
    encode_fn = as_encode_fn(model_or_encode_fn)
    counter = None
    if progress is not None:
        counter = EncodeCounter(
            expected_encodes(_draws(names, protocol), ground_truth.num_images, code_table),
            progress,
        )
        encode_fn = counter.wrap(encode_fn)
    encoder: CodeTable | Callable = encode_fn
    if code_table != "none":
        encoder = CodeTable(ground_truth, encode_fn, batch_size=batch_size)
        if code_table == "grid":
            encoder.fill()
    report = _evaluate_with(encoder, ground_truth, names, seed, protocol, batch_size)
    if counter is not None:
        counter.finish()
    report["timing"]["total_seconds"] = time.perf_counter() - started
    return jsonable(report)


def evaluate_many(
    models_or_encode_fns: Sequence[Any],
    ground_truth: GroundTruth,
    metrics: Sequence[str] | None = None,
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
    zdiff_classifier: str = DEFAULT_CLASSIFIER,
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
        zdiff_classifier=zdiff_classifier,
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


def _draws(names: Sequence[str], protocol: dict) -> int:
    """Images an evaluation draws: the shared samples (the test sample counted even if no
    metric uses it) and each metric's own."""
    draws = protocol["num_points"] + protocol["num_test_points"]
    return draws + sum(registry.spec(name).images_drawn(protocol) for name in names)


def _checked_settings(
    metrics: Sequence[str] | None,
    code_table: str,
    modes: tuple[str, ...],
    *,
    batch_size: int,
    zdiff_classifier: str,
    **sizes,
) -> tuple[tuple[str, ...], dict[str, Any], int]:
    """(metric names, protocol, batch size) validated, or InputError naming the argument."""
    names = registry.check_names(registry.default_names() if metrics is None else metrics)
    if code_table not in modes:
        raise InputError(f"code_table must be one of {modes}, got {code_table!r}")
    minimum = {"num_points": 2, "pair_batch_size": 2, "num_variance_points": 2}
    protocol: dict[str, Any] = {
        name: check_int(name, value, minimum=minimum.get(name, 1)) for name, value in sizes.items()
    }
    protocol["num_bins"] = 20
    protocol["zdiff_classifier"] = check_classifier(zdiff_classifier)
    return names, protocol, check_int("batch_size", batch_size, minimum=1)


def _evaluate_with(encoder, ground_truth, names, seed, protocol, batch_size) -> dict[str, Any]:
    """The report of one encoder (a code table or an encode function); not yet jsonable."""
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
    report["images_drawn"] = images_drawn + inputs.images_drawn
    report["images_encoded"] = (
        encoder.num_encoded if isinstance(encoder, CodeTable) else report["images_drawn"]
    )
    report["timing"] = {
        "encode_seconds": encoder.encode_seconds if isinstance(encoder, CodeTable) else None,
    }
    return report


def metric_row(record: dict) -> dict[str, Any]:
    """The results-table cells of a ``metrics.json`` record: active latents, every
    registered metric's columns it holds, the held-out ELBO's terms and the evaluation
    time."""
    row: dict[str, Any] = {"active_latents": record.get("active_latents")}
    if isinstance(row["active_latents"], dict):
        row["active_latents"] = row["active_latents"].get("count")
    for name in registry.names(kind=None):
        if record.get(name):
            row.update(registry.spec(name).row(record[name]))
    heldout = record.get("heldout") or {}
    row["heldout_reconstruction"] = heldout.get("reconstruction")
    row["heldout_kl"] = heldout.get("kl")
    row["eval_seconds"] = (record.get("timing") or {}).get("total_seconds")
    return row
