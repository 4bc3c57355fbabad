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
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kbetavae import io as kio
from kbetavae.errors import InputError
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
SCORE_COLUMNS = ("model", "beta", "variant", "metric", "score")
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
    """One model's rows of :func:`score_variants`, its name and β (None if unknown)."""

    name: str
    beta: float | None
    scores: Sequence[VariantScore]


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


def score_runs(
    run_dirs: Sequence[str], *, protocol: Protocol = FULL_PROTOCOL, seed: int | None = None
) -> list[ScoredModel]:
    """:func:`score_variants` of each published run's encoder archive (``encoder.npz``) on
    the data of its config.json, seeded by its own seed (or ``seed``), as
    ``kbetavae evaluate`` scores a run."""
    from kbetavae.trained.archive import read_encoder
    from kbetavae.training import rundir

    opened: dict[tuple, GroundTruth] = {}
    models = []
    for run_dir in run_dirs:
        config = rundir.read_config(run_dir)
        if config is None:
            raise InputError(f"{run_dir} has no config.json: not a run directory")
        key = (config.source, config.data, config.painting)
        if key not in opened:
            opened[key] = config.open_data()
        draws = config.seed if seed is None else seed
        scores = score_variants(read_encoder(run_dir), opened[key], draws, protocol=protocol)
        models.append(ScoredModel(os.path.basename(os.path.normpath(run_dir)), config.beta, scores))
    return models


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
        {"model": m.name, "beta": "" if m.beta is None else f"{m.beta:g}", **vars(s)}
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


if __name__ == "__main__":
    import sys

    if len(sys.argv) < 3:
        sys.exit("usage: python -m kbetavae.study.protocol_variants OUT_DIR RUN_DIR...")
    print("\n".join(write_variant_tables(score_runs(sys.argv[2:]), sys.argv[1])))
