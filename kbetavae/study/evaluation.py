"""The study's evaluation of trained models: what each run's ``metrics.json`` holds.

The metrics under the plan's protocol on points drawn from the whole grid (seeded by the
run's seed), and the held-out ELBO on grid images outside the run's training subset. The
sweep (a fused group's members at once), a single trial (``kbetavae train --evaluate``)
and ``kbetavae evaluate`` all end in :func:`evaluate_encoders`, so their records are the
same numbers and merge into one table. A published run without its model is evaluated
from its encoder archive (:func:`evaluate_archives`), by ``kbetavae evaluate`` and by
``kbetavae publish --from-archive`` alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from kbetavae.errors import InputError
from kbetavae.metrics.protocol import DEFAULT_CLASSIFIER, FULL_POINTS, Protocol
from kbetavae.metrics.representation import ENCODE_BATCH_SIZE
from kbetavae.study.plan import SweepPlan
from kbetavae.trained.load import graph_decoder, graph_encoder
from kbetavae.training import rundir

# What a metrics.json records of its run that an encoder archive cannot compute again.
_UNRECOMPUTABLE = {"heldout": "needs the decoder"}
_ACROSS_SEEDS = "computed over a setting's seeds"


def train_indices(data, config) -> np.ndarray:
    """The grid indices run ``config`` trained on (the held-out ELBO draws outside them)."""
    from kbetavae.data.pipeline import subset_indices

    return subset_indices(data, config.subset, config.seed, config.validation)[0]


def recorded_choice(
    run_dir: str | None,
    metrics: Sequence[str] | None = None,
    eval_points: int | None = None,
    zdiff_classifier: str | None = None,
) -> tuple[list[str], Protocol, bool]:
    """What to compute for a model: each of the metrics, sample size and Z-diff classifier
    given, else what ``run_dir``'s metrics.json records (its sweep's choice), else the
    defaults (MIG, Z-diff, Modularity; the full protocol). The names, the protocol, and
    whether the record chose any of them. InputError if the record is damaged or states
    an incomplete protocol that a given ``eval_points`` would replace."""
    from kbetavae.metrics import registry

    record = (rundir.read_metrics(run_dir) if run_dir is not None else None) or {}
    stated = record.get("protocol") or {}
    names = list(metrics) if metrics is not None else list(record.get("metrics") or ())
    from_record = bool(names) and metrics is None
    names = names or list(registry.default_names())
    classifier = zdiff_classifier or stated.get("zdiff_classifier") or DEFAULT_CLASSIFIER
    if eval_points is not None or not stated:
        return names, Protocol.scaled(eval_points or FULL_POINTS, classifier), from_record
    heldout = (record.get("heldout") or {}).get("num_images")
    try:
        protocol = Protocol.from_record({**stated, "zdiff_classifier": classifier}, heldout)
    except InputError as error:
        path = rundir.metrics_path(run_dir)
        raise InputError(f"{path}: {error}; give `eval_points`") from None
    return names, protocol, True


def evaluate_encoders(
    encoders: Sequence[tuple],
    data,
    metrics: Sequence[str],
    protocol: Protocol,
    seed: int,
    trained_on: np.ndarray | None = None,
    *,
    progress=None,
    batch_size: int = ENCODE_BATCH_SIZE,
    code_table: str = "lazy",
    on_record: Callable[[int, dict], None] | None = None,
    code_store=None,
) -> list[dict]:
    """The ``metrics.json`` records of K ``(encode, decode)`` pairs on shared draws.

    ``kbetavae.metrics.evaluate_many`` computes the metrics; with ``trained_on`` (the
    training subset's indices) each record gets the held-out ELBO (``protocol``'s
    ``heldout_images``, seeded by ``seed``) under ``"heldout"``, unless its ``decode`` is
    None. ``progress`` as :func:`kbetavae.metrics.evaluate` takes it; ``on_record(k,
    record)`` hears each record as soon as it is complete (``evaluate_many``'s
    ``on_report``); ``code_store`` keeps the codes between processes (``evaluate_many``'s).
    """
    from kbetavae.metrics import evaluate_many
    from kbetavae.metrics.heldout import heldout_elbo

    def complete(k: int, record: dict) -> None:
        encode, decode = encoders[k]
        # Formulations agree to float rounding only: say which one gave these codes.
        formulation = getattr(encode, "formulation", None)
        if formulation is not None:
            record["timing"]["encoder_formulation"] = formulation.name
        if trained_on is not None and decode is not None:
            heldout = heldout_elbo(encode, decode, data, trained_on, protocol.heldout_images, seed)
            record["heldout"] = heldout.to_dict()
        if on_record is not None:
            on_record(k, record)

    return evaluate_many(
        [encode for encode, _ in encoders],
        data,
        metrics,
        seed,
        protocol=protocol,
        progress=progress,
        batch_size=batch_size,
        code_table=code_table,
        on_report=complete,
        code_store=code_store,
    )


def evaluate_models(
    models: Sequence,
    data,
    plan: SweepPlan,
    config,
    progress=None,
    on_record: Callable[[int, dict], None] | None = None,
) -> list[dict]:
    """The sweep's records of models trained alike but for β (one fused group: one seed,
    one subset, ``config`` any member's), evaluated together on the same draws;
    ``on_record`` as :func:`evaluate_encoders` takes it."""
    encoders = [(graph_encoder(model), graph_decoder(model)) for model in models]
    return evaluate_encoders(
        encoders,
        data,
        plan.metrics,
        plan.protocol,
        config.seed,
        train_indices(data, config),
        progress=progress,
        on_record=on_record,
    )


def evaluate_model(model, data, plan: SweepPlan, config, progress=None) -> dict:
    """The sweep's record of one model (:func:`evaluate_models` of one)."""
    return evaluate_models([model], data, plan, config, progress)[0]


def evaluate_archives(
    run_dirs: Sequence[str],
    data,
    metrics: Sequence[str],
    protocol: Protocol,
    seed: int,
    *,
    batch_size: int = ENCODE_BATCH_SIZE,
    code_table: str = "lazy",
    progress=None,
    on_result: Callable[[int, dict, str], None] | None = None,
    code_cache: str | None = None,
) -> list[tuple[dict, str]]:
    """The records of published runs from their encoder archives, each with one line saying
    which entries it could not recompute and whether they were kept.

    Every metric in ``metrics`` is computed from each archive's encoder (float16 weights,
    :mod:`kbetavae.trained.archive`) on one shared draw of images (``seed``'s, as
    :func:`evaluate_encoders`: a run's record is the same alone or with others, and the
    draw is rendered once); the entries
    an encoder cannot give (the held-out ELBO needs the decoder; UDR compares a setting's
    seeds) are copied from each run's metrics.json where it has them, so evaluating drops
    nothing. ``encoder`` says where the codes came from. ``on_result(k, record, line)``
    hears run ``k``'s result as soon as it is complete, so a caller can write it before
    the next run's metrics are computed. With ``code_cache`` (a directory) the archives'
    codes are kept there as they are encoded and read back when evaluated again
    (:mod:`kbetavae.trained.code_cache`).
    """
    from kbetavae.trained.archive import read_encoder
    from kbetavae.trained.code_cache import archive_code_cache

    notes: dict[int, str] = {}

    def complete(k: int, record: dict) -> None:
        record["encoder"] = {"archive": rundir.ARCHIVE_FILE, "weights": "float16"}
        notes[k] = keep_unrecomputable(record, rundir.read_metrics(run_dirs[k]))
        if on_result is not None:
            on_result(k, record, notes[k])

    encoders = [read_encoder(run_dir) for run_dir in run_dirs]
    store = None
    if code_cache is not None:
        store = archive_code_cache(code_cache, run_dirs, encoders, batch_size)
    records = evaluate_encoders(
        [(encoder, None) for encoder in encoders],
        data,
        metrics,
        protocol,
        seed,
        progress=progress,
        batch_size=batch_size,
        code_table=code_table,
        on_record=complete,
        code_store=store,
    )
    return [(record, notes[k]) for k, record in enumerate(records)]


def keep_unrecomputable(record: dict, previous: dict | None) -> str:
    """Copy into ``record`` (an archive's evaluation) the entries of ``previous`` (the
    run's metrics.json) an encoder cannot compute; one line naming them (the held-out ELBO
    always, UDR's where ``previous`` has them) and saying which were kept."""
    from kbetavae.metrics import registry

    previous = previous or {}
    reasons = dict(_UNRECOMPUTABLE)
    reasons.update({name: _ACROSS_SEEDS for name in registry.names(kind="models")})
    missing = {
        name: why
        for name, why in reasons.items()
        if name not in record and (name in previous or name in _UNRECOMPUTABLE)
    }
    kept = [name for name in missing if name in previous]
    for name in kept:
        record[name] = previous[name]
    listed = ", ".join(f"{name} ({why})" for name, why in missing.items())
    if kept and len(kept) == len(missing):
        fate = f"kept from {rundir.METRICS_FILE}"
    elif kept:
        fate = f"kept from {rundir.METRICS_FILE}: {', '.join(kept)}; the rest left out"
    else:
        fate = f"{rundir.METRICS_FILE} has none to keep, so left out"
    return f"cannot recompute from the encoder archive: {listed}; {fate}"
