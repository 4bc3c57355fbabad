"""Protocol variants on trained encoders: could another reading of Z-diff or MIG give the
study's numbers?

The study we reproduce (Mir 2024, Table 1: docs/results/study_table.csv) reports Z-diff
0.32-0.41 and MIG values our disentanglement_lib protocol does not reach on our encoders.
:func:`score_variants` scores one encoder under every named variant of Z-diff
(:data:`~kbetavae.metrics.zdiff.ZDIFF_VARIANTS`) and MIG
(:data:`~kbetavae.metrics.mig.MIG_VARIANTS`); :func:`write_variant_tables` says, per
variant and metric, whether the scores of a set of models fall in the study's range at
their βs.

Protocol of the comparison: every variant scores the same encoder on the draws
:func:`kbetavae.metrics.evaluate` makes with the same seed and protocol (MIG on the
``points`` sample, every Z-diff variant from a fresh ``zdiff`` stream), so the default
variants' rows are the run's ``metrics.json`` numbers and variants differ by their change
alone. The study's range for a metric is the min-max of its finite values at the βs of the
models (all its βs when it reports none of them).

Scoring takes minutes an encoder at the full protocol (its own code table), so
``kbetavae variants`` writes the tables after each one and, run again, keeps the models
its scores file holds for the same archive (a digest of ``encoder.npz``), seed and sample
size: a stopped run resumes.

The module is long because its scores file is both its output and its resume state: the
scoring, reading the file back and writing the tables share that one row format.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kbetavae import io as kio
from kbetavae.errors import DamagedFile, InputError
from kbetavae.metrics.inputs import EvaluationInputs
from kbetavae.metrics.mig import MIG_VARIANTS, mig_from_mutual_info
from kbetavae.metrics.protocol import FULL_PROTOCOL, Protocol
from kbetavae.metrics.representation import ENCODE_BATCH_SIZE, CodeTable, GroundTruth
from kbetavae.metrics.zdiff import ZDIFF_VARIANTS, zdiff
from kbetavae.study.formatting import format_fixed, format_range, table_head
from kbetavae.study.published import STUDY_TABLE, read_study_table

_ROOT = Path(__file__).resolve().parents[2]
# The study's Table 1 as committed (Mir 2024, typed from its report).
STUDY_TABLE_PATH = str(_ROOT / "docs" / "results" / STUDY_TABLE)

SCORES_CSV = "protocol_variant_scores.csv"
SUMMARY_CSV = "protocol_variants.csv"
SUMMARY_MD = "protocol_variants.md"
SCORE_COLUMNS = ("model", "beta", "seed", "archive", "eval_points", "variant", "metric", "score")
SUMMARY_COLUMNS = (
    "variant",
    "metric",
    "models",
    "low",
    "high",
    "study_low",
    "study_high",
    "inside",
    "below",
    "above",
    "verdict",
)


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


def archive_digest(path: str) -> str:
    """The first 12 hex digits of the SHA-256 of an encoder archive's bytes."""
    return hashlib.sha256(kio.read_bytes(path)).hexdigest()[:12]


def score_runs(
    run_dirs: Sequence[str],
    *,
    protocol: Protocol = FULL_PROTOCOL,
    seed: int | None = None,
    scored: Sequence[ScoredModel] = (),
    on_model: Callable[[list[ScoredModel], str], None] | None = None,
) -> list[ScoredModel]:
    """:func:`score_variants` of each published run's encoder archive (``encoder.npz``) on
    the data of its config.json, seeded by its own seed (or ``seed``), as
    ``kbetavae evaluate`` scores a run; in the order of ``run_dirs``.

    A model of ``scored`` (:func:`read_scores`) with the run's name, seed, archive digest
    and points, and every variant, is kept, not scored again. ``on_model(models, line)``
    hears, after each run, the models known so far (kept or scored) and a line saying
    which run was kept or scored, so a caller can write them before the next run.
    """
    from kbetavae.trained.archive import read_encoder
    from kbetavae.training import rundir

    configs = []
    for run_dir in run_dirs:
        config = rundir.read_config(run_dir)
        if config is None:
            raise InputError(f"{run_dir} has no config.json: not a run directory")
        configs.append(config)
    known = {model.key(): model for model in scored if model.complete()}
    found: list[ScoredModel | None] = [None] * len(run_dirs)
    opened: dict[tuple, GroundTruth] = {}
    for index, (run_dir, config) in enumerate(zip(run_dirs, configs, strict=True)):
        name = os.path.basename(os.path.normpath(run_dir))
        draws = config.seed if seed is None else seed
        digest = archive_digest(rundir.archive_path(run_dir))
        key = (name, draws, digest, protocol.num_points)
        if key in known:
            found[index] = known[key]
            line = f"{name}: scored already, kept"
        else:
            data_key = (config.source, config.data, config.painting)
            if data_key not in opened:
                opened[data_key] = config.open_data()
            scores = score_variants(
                read_encoder(run_dir), opened[data_key], draws, protocol=protocol
            )
            found[index] = ScoredModel(name, config.beta, scores, *key[1:])
            line = f"{name}: scored"
        if on_model is not None:
            on_model([model for model in found if model is not None], line)
    return [model for model in found if model is not None]


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


def study_range(
    study: dict[float, dict[str, float]], metric: str, betas: Sequence[float | None]
) -> tuple[float, float]:
    """Min and max of the study's finite ``metric`` values at ``betas`` (at all its βs
    when it reports none of them); InputError if it has none."""
    reported = [b for b in betas if b in study] or list(study)
    values = [study[b][metric] for b in reported if not math.isnan(study[b].get(metric, math.nan))]
    if not values:
        raise InputError(f"the study table has no {metric} value at beta {reported}")
    return min(values), max(values)


def variant_summary(
    models: Sequence[ScoredModel], study: dict[float, dict[str, float]]
) -> list[dict[str, Any]]:
    """One row per (variant, metric), in the order of the first model's rows: our range
    over ``models``, the study's range at their βs, how many scores fall inside, below and
    above it, and the verdict: ``inside`` (all), ``partly`` or ``outside`` (none)."""
    if not models:
        raise InputError("the protocol-variant table needs at least one scored model")
    betas = [model.beta for model in models]
    rows = []
    for first in models[0].scores:
        key = (first.variant, first.metric)
        scores = [s.score for m in models for s in m.scores if (s.variant, s.metric) == key]
        low, high = study_range(study, first.metric, betas)
        inside = sum(low <= score <= high for score in scores)
        below = sum(score < low for score in scores)
        verdict = "inside" if inside == len(scores) else "outside" if not inside else "partly"
        rows.append(
            {
                "variant": first.variant,
                "metric": first.metric,
                "models": len(scores),
                "low": min(scores),
                "high": max(scores),
                "study_low": low,
                "study_high": high,
                "inside": inside,
                "below": below,
                "above": len(scores) - inside - below,
                "verdict": verdict,
            }
        )
    return rows


def summary_markdown(rows: Sequence[dict[str, Any]], study_table: str = STUDY_TABLE_PATH) -> str:
    """The summary as a markdown table, one line per (variant, metric), and a line saying
    what its columns are and which study table gave the range."""
    titles = {"mig": "MIG", "zdiff": "Z-diff"}
    head = ["variant", "metric", "models", "ours", "study", "inside", "below", "above", "verdict"]
    lines = table_head(head)
    for row in rows:
        cells = [
            row["variant"],
            titles.get(row["metric"], row["metric"]),
            str(row["models"]),
            format_range(sorted({row["low"], row["high"]}), 4),
            format_range(sorted({row["study_low"], row["study_high"]}), 4),
            *(str(row[c]) for c in ("inside", "below", "above")),
            row["verdict"],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    shown = Path(study_table).resolve()
    shown = shown.relative_to(_ROOT) if shown.is_relative_to(_ROOT) else shown
    lines.append(
        "ours: min–max over the models; study: min–max of the study's Table 1 at their βs "
        f"({shown}); inside/below/above: how many of our scores lie in that range."
    )
    return "\n".join(lines) + "\n"


def write_variant_tables(
    models: Sequence[ScoredModel], directory: str, study_table: str = STUDY_TABLE_PATH
) -> list[str]:
    """Write every model's rows (:data:`SCORES_CSV`) and the summary against the study's
    Table 1 read from ``study_table`` (:data:`SUMMARY_CSV`, :data:`SUMMARY_MD`) to
    ``directory``; their paths."""
    summary = variant_summary(models, read_study_table(study_table))
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
    paths = [os.path.join(directory, name) for name in (SCORES_CSV, SUMMARY_CSV, SUMMARY_MD)]
    kio.write_text_atomic(paths[0], _csv_text(scores, SCORE_COLUMNS))
    kio.write_text_atomic(paths[1], _csv_text(summary, SUMMARY_COLUMNS))
    kio.write_text_atomic(paths[2], summary_markdown(summary, study_table))
    return paths


def _csv_text(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _cell(row[c]) for c in columns})
    return buffer.getvalue()


def _cell(value: Any) -> str:
    """Scores to 6 decimals (the metrics' noise is far larger); anything else as text."""
    return format_fixed(value, 6) if isinstance(value, float) else str(value)
