"""Protocol variants on trained encoders: could another reading of Z-diff or MIG give the
study's numbers?

The study we reproduce (Mir 2024, Table 1: docs/results/study_table.csv) reports Z-diff
0.32-0.41 and MIG values our disentanglement_lib protocol does not reach on our encoders.
:func:`score_variants` scores one encoder under every named variant of Z-diff
(:data:`~kbetavae.metrics.zdiff.ZDIFF_VARIANTS`) and MIG
(:data:`~kbetavae.metrics.mig.MIG_VARIANTS`); :func:`score_runs` scores published runs'
kept encoders, and the scores file (:data:`SCORES_CSV`) holds them;
:mod:`kbetavae.study.variant_tables` sets them against the study's numbers.

Protocol of the comparison: every variant scores the same encoder on the draws
:func:`kbetavae.metrics.evaluate` makes with the same seed and protocol (MIG on the
``points`` sample, every Z-diff variant from a fresh ``zdiff`` stream), so the default
variants' rows are the run's ``metrics.json`` numbers and variants differ by their change
alone.

Scoring takes minutes an encoder at the full protocol (a seed's runs share the rendering
of their images), so
``kbetavae variants`` writes the scores after each one and, run again, keeps the models
its scores file holds for the same archive (a digest of ``encoder.npz``), seed and sample
size: a stopped run resumes.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
from collections.abc import Callable, Sequence
from typing import Any

from kbetavae import io as kio
from kbetavae.errors import DamagedFile, InputError
from kbetavae.metrics.inputs import EvaluationInputs
from kbetavae.metrics.mig import MIG_VARIANTS, mig_from_mutual_info
from kbetavae.metrics.protocol import FULL_PROTOCOL, Protocol
from kbetavae.metrics.representation import (
    ENCODE_BATCH_SIZE,
    CodeTable,
    GroundTruth,
    as_encode_fn,
    each_encoder,
)
from kbetavae.metrics.zdiff import ZDIFF_VARIANTS, zdiff
from kbetavae.study.formatting import format_fixed
from kbetavae.trained.archive import archive_digest

SCORES_CSV = "protocol_variant_scores.csv"
SCORE_COLUMNS = ("model", "beta", "seed", "archive", "eval_points", "variant", "metric", "score")


@dataclasses.dataclass(frozen=True)
class VariantScore:
    """One row: a variant's name, its metric (``"mig"`` or ``"zdiff"``) and the score."""

    variant: str
    metric: str
    score: float


@dataclasses.dataclass(frozen=True)
class ScoredModel:
    """One model's rows of :func:`score_variants`, its name and β (None if unknown); the
    draws' seed, the digest of the archive scored and the protocol's points, which say
    whether scores kept from an earlier run still hold."""

    name: str
    beta: float | None
    scores: Sequence[VariantScore]
    seed: int | None = None
    archive: str = ""
    eval_points: int | None = None

    def key(self) -> tuple:
        return (self.name, self.seed, self.archive, self.eval_points)

    def complete(self) -> bool:
        """Whether it has every variant defined now (a variant added since is scored)."""
        have = {(row.variant, row.metric) for row in self.scores}
        return have >= {(v, "mig") for v in MIG_VARIANTS} | {(v, "zdiff") for v in ZDIFF_VARIANTS}


def score_variants(
    encode: Callable[[Any], Any],
    ground_truth: GroundTruth,
    seed: int = 0,
    *,
    protocol: Protocol = FULL_PROTOCOL,
    batch_size: int = ENCODE_BATCH_SIZE,
) -> list[VariantScore]:
    """Every MIG and Z-diff variant of one encoder (numpy images -> ``(mu, logvar)``),
    MIG's first; each image is encoded once for all of them (a code table).

    Example:
        >>> score_variants(load_encoder(run).encode, open_source("replica"))  # doctest: +SKIP
    """
    table = CodeTable(ground_truth, encode, batch_size=batch_size)
    return score_table(table, ground_truth, seed, protocol, batch_size)


def score_table(
    table: CodeTable, ground_truth: GroundTruth, seed: int, protocol: Protocol, batch_size: int
) -> list[VariantScore]:
    """:func:`score_variants` of the encoder behind ``table`` (alone or one of a group)."""
    inputs = EvaluationInputs(ground_truth, table, protocol, seed, batch_size)
    mi, entropies = inputs.mutual_info, inputs.factor_entropies
    rows = [
        VariantScore(name, "mig", mig_from_mutual_info(mi, entropies, name).score)
        for name in MIG_VARIANTS
    ]
    for name in ZDIFF_VARIANTS:
        result = zdiff(ground_truth, table, inputs.rng("zdiff"), protocol, variant=name)
        rows.append(VariantScore(name, "zdiff", result.score))
    return rows


def score_runs(
    run_dirs: Sequence[str],
    *,
    protocol: Protocol = FULL_PROTOCOL,
    seed: int | None = None,
    scored: Sequence[ScoredModel] = (),
    on_model: Callable[[list[ScoredModel], str], None] | None = None,
    batch_size: int = ENCODE_BATCH_SIZE,
    code_cache: str | None = None,
) -> list[ScoredModel]:
    """:func:`score_variants` of each published run's encoder archive (``encoder.npz``) on
    the data of its config.json, seeded by its own seed (or ``seed``), as
    ``kbetavae evaluate`` scores a run; in the order of ``run_dirs``.

    Runs drawn alike (one seed, one dataset: a seed's βs) are scored together, each image
    rendered once and handed to every encoder (:meth:`CodeTable.group`, as
    ``evaluate_many``); the scores are those of each run alone. A model of ``scored``
    (:func:`read_scores`) with the run's name, seed, archive digest and points, and every
    variant, is kept, not scored again. ``on_model(models, line)`` hears, after each run,
    the models known so far (kept or scored) and a line saying which run was kept or
    scored, so a caller can write them before the next run. With ``code_cache`` (a
    directory) the archives' codes are read from it (those ``kbetavae publish
    --from-archive`` kept there, or this function on an earlier try) and kept in it
    (:mod:`kbetavae.trained.code_cache`).
    """
    from kbetavae.trained.archive import read_encoder
    from kbetavae.trained.code_cache import archive_code_cache
    from kbetavae.training import rundir

    configs = []
    for run_dir in run_dirs:
        config = rundir.read_config(run_dir)
        if config is None:
            raise InputError(f"{run_dir} has no config.json: not a run directory")
        configs.append(config)
    known = {model.key(): model for model in scored if model.complete()}
    found: dict[int, ScoredModel] = {}
    groups: dict[tuple, list[tuple[int, tuple]]] = {}
    for index, (run_dir, config) in enumerate(zip(run_dirs, configs, strict=True)):
        name = os.path.basename(os.path.normpath(run_dir))
        draws = config.seed if seed is None else seed
        key = (name, draws, archive_digest(rundir.archive_path(run_dir)), protocol.num_points)
        if key in known:
            found[index] = known[key]
        else:
            data = (config.source, config.data, config.painting)
            groups.setdefault((data, draws), []).append((index, key))

    def heard(line: str) -> None:
        if on_model is not None:
            on_model([found[k] for k in sorted(found)], line)

    for index in sorted(found):
        heard(f"{found[index].name}: scored already, kept")
    opened: dict[tuple, GroundTruth] = {}
    for (data, draws), members in groups.items():
        if data not in opened:
            opened[data] = configs[members[0][0]].open_data()
        ground_truth = opened[data]
        encoders = [as_encode_fn(read_encoder(run_dirs[index])) for index, _ in members]
        store = None
        if code_cache is not None:
            dirs = [run_dirs[index] for index, _ in members]
            store = archive_code_cache(code_cache, dirs, encoders, batch_size)
        tables = CodeTable.group(
            ground_truth, each_encoder(encoders), len(encoders), batch_size=batch_size, store=store
        )
        for (index, key), table in zip(members, tables, strict=True):
            scores = score_table(table, ground_truth, draws, protocol, batch_size)
            table.flush()
            found[index] = ScoredModel(key[0], configs[index].beta, scores, *key[1:])
            heard(f"{key[0]}: scored")
    return [found[k] for k in sorted(found)]


def read_scores(directory: str) -> list[ScoredModel]:
    """The models of ``directory``'s :data:`SCORES_CSV` (none if it has none); DamagedFile
    if it cannot be read."""
    path = os.path.join(directory, SCORES_CSV)
    if not kio.exists(path):
        return []
    rows = list(csv.DictReader(io.StringIO(kio.read_text(path))))
    models: dict[tuple, ScoredModel] = {}
    try:
        for row in rows:
            seed = int(row["seed"]) if row["seed"] else None
            points = int(row["eval_points"]) if row["eval_points"] else None
            key = (row["model"], seed, row["archive"], points)
            if key not in models:
                beta = float(row["beta"]) if row["beta"] else None
                models[key] = ScoredModel(key[0], beta, [], *key[1:])
            score = VariantScore(row["variant"], row["metric"], float(row["score"]))
            models[key].scores.append(score)
    except (KeyError, TypeError, ValueError) as error:
        raise DamagedFile(path, f"unreadable row ({error})", "delete it to score again") from None
    return list(models.values())


def write_scores(models: Sequence[ScoredModel], directory: str) -> str:
    """Write every model's rows to ``directory``/:data:`SCORES_CSV` (atomically); its path."""
    scores = [
        {
            "model": m.name,
            "beta": "" if m.beta is None else f"{m.beta:g}",
            "seed": "" if m.seed is None else m.seed,
            "archive": m.archive,
            "eval_points": "" if m.eval_points is None else m.eval_points,
            **vars(s),
        }
        for m in models
        for s in m.scores
    ]
    kio.makedirs(directory)
    path = os.path.join(directory, SCORES_CSV)
    kio.write_text_atomic(path, csv_text(scores, SCORE_COLUMNS))
    return path


def csv_text(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """``rows`` as CSV text with ``columns``, floats to 6 decimals."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _cell(row[c]) for c in columns})
    return buffer.getvalue()


def _cell(value: Any) -> str:
    """Scores to 6 decimals (the metrics' noise is far larger); anything else as text."""
    return format_fixed(value, 6) if isinstance(value, float) else str(value)
