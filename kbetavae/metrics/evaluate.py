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

from kbetavae.errors import InputError
from kbetavae.metrics import registry
from kbetavae.metrics.inputs import EvaluationInputs
from kbetavae.metrics.progress import EncodeCounter, Progress, expected_encodes
from kbetavae.metrics.protocol import FULL_PROTOCOL, Protocol
from kbetavae.metrics.representation import (
    ENCODE_BATCH_SIZE,
    CodeStore,
    CodeTable,
    GroundTruth,
    as_encode_fn,
    each_encoder,
)
from kbetavae.metrics.results import jsonable
from kbetavae.validation import check_int

CODE_TABLE_MODES = ("lazy", "grid", "none")


def evaluate(
    model_or_encode_fn: Any,
    ground_truth: GroundTruth,
    metrics: Sequence[str] | None = None,
    seed: int = 0,
    *,
    protocol: Protocol = FULL_PROTOCOL,
    batch_size: int = ENCODE_BATCH_SIZE,
    code_table: str = "lazy",
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
        protocol: the sample sizes and Z-diff's classifier
            (:class:`~kbetavae.metrics.protocol.Protocol`; default the full protocol).
        batch_size: images per encoder call.
        code_table: ``"lazy"``, ``"grid"`` or ``"none"`` (see the module docstring).
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
    return evaluate_many(
        [model_or_encode_fn],
        ground_truth,
        metrics,
        seed,
        protocol=protocol,
        batch_size=batch_size,
        code_table=code_table,
        progress=progress,
    )[0]


def evaluate_many(
    models_or_encode_fns: Sequence[Any],
    ground_truth: GroundTruth,
    metrics: Sequence[str] | None = None,
    seed: int = 0,
    *,
    protocol: Protocol = FULL_PROTOCOL,
    batch_size: int = ENCODE_BATCH_SIZE,
    code_table: str = "lazy",
    progress: Progress | None = None,
    on_report: Callable[[int, dict[str, Any]], None] | None = None,
    code_store: CodeStore | None = None,
) -> list[dict[str, Any]]:
    """:func:`evaluate` for K encoders on the same draws, each image rendered and encoded
    once for the whole group.

    The draws depend on ``seed`` alone, never on the model, so the K evaluations ask for
    the same images; K code tables filled together (:meth:`CodeTable.group`) serve them
    (``code_table="none"``: each encoder is called on every draw, as disentanglement_lib
    does).
    Report ``k`` equals ``evaluate(models_or_encode_fns[k], ...)`` with the same arguments
    except for ``timing``, whose seconds are 1/K shares of the group's.

    Args:
        models_or_encode_fns: K models or encode functions, as ``evaluate`` takes.
        progress: as ``evaluate``'s, counting the images the group encodes.
        on_report: called as ``on_report(k, report)`` as soon as member ``k``'s report is
            ready, so a caller can keep it before the next member's metrics (minutes each
            at the full protocol) are computed. Its ``total_seconds`` is then the group's
            seconds so far over the k + 1 members reported; the returned report is the
            same dict with the final 1/K share.
        code_store: where the group's code tables keep their codes between processes
            (:meth:`CodeTable.group`): a stopped evaluation run again starts from the codes
            kept, and each report's ``timing`` says how many (``codes_loaded``).
        The other arguments are ``evaluate``'s.

    Example:
        >>> reports = evaluate_many([fast_encoder(m) for m in models], data)  # doctest: +SKIP
    """
    started = time.perf_counter()
    names = registry.check_names(registry.default_names() if metrics is None else metrics)
    if code_table not in CODE_TABLE_MODES:
        raise InputError(f"code_table must be one of {CODE_TABLE_MODES}, got {code_table!r}")
    if not isinstance(protocol, Protocol):
        raise InputError(f"protocol must be a Protocol, got {type(protocol).__name__}")
    if code_store is not None and code_table == "none":
        raise InputError('a code_store keeps a code table\'s codes: code_table="none" has none')
    batch_size = check_int("batch_size", batch_size, minimum=1)
    members = list(models_or_encode_fns)
    if not members:
        raise InputError("evaluate_many needs at least one model or encode function")
    counter = None
    if progress is not None:
        draws = _draws(names, protocol) * (len(members) if code_table == "none" else 1)
        expected = expected_encodes(draws, ground_truth.num_images, code_table)
        counter = EncodeCounter(expected, progress)
    if code_table == "none":
        encoders = [as_encode_fn(member) for member in members]
        encoders = [counter.wrap(fn) for fn in encoders] if counter else encoders
    else:
        # Each image is rendered once and handed to every member's encoder in turn.
        encode_many = each_encoder([as_encode_fn(member) for member in members])
        encode_many = counter.wrap(encode_many) if counter else encode_many
        encoders = CodeTable.group(
            ground_truth, encode_many, len(members), batch_size=batch_size, store=code_store
        )
        if code_table == "grid":
            encoders[0].fill()
    reports = []
    for k, encoder in enumerate(encoders):
        report = jsonable(_evaluate_with(encoder, ground_truth, names, seed, protocol, batch_size))
        if code_store is not None:
            encoder.flush()
            report["timing"]["codes_loaded"] = encoder.codes_loaded
        reports.append(report)
        if on_report is not None:
            report["timing"]["total_seconds"] = (time.perf_counter() - started) / (k + 1)
            on_report(k, report)
    if counter is not None:
        counter.finish()
    share = (time.perf_counter() - started) / len(members)
    for report in reports:
        report["timing"]["total_seconds"] = share
    return reports


def _draws(names: Sequence[str], protocol: Protocol) -> int:
    """Images an evaluation draws: the shared samples (the test sample counted even if no
    metric uses it) and each metric's own."""
    draws = protocol.num_points + protocol.num_test_points
    return draws + sum(registry.spec(name).images_drawn(protocol) for name in names)


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
    report["protocol"] = protocol.record()
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
