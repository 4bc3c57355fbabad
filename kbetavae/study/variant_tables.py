"""The protocol variants' scores set against the study's numbers: does any reading of Z-diff
or MIG put our encoders where the study's Table 1 is (Mir 2024, docs/results/study_table.csv)?

Two views of the scores file of :mod:`kbetavae.study.protocol_variants`:
:func:`by_beta_markdown`, per variant and β, our mean over seeds with its 95 % Student-t
interval and whether the study's value lies inside it (the question asked of each β of
the study); and :func:`variant_summary`, per variant, how many single scores fall in the
study's range (the min-max of its finite values at the models' βs, all its βs when it
reports none of them).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kbetavae import io as kio
from kbetavae.errors import InputError
from kbetavae.study.formatting import format_fixed, format_range, table_head
from kbetavae.study.protocol_variants import ScoredModel, csv_text
from kbetavae.study.statistics import estimate
from kbetavae.study.study_table import STUDY_TABLE_PATH, read_study_table

_ROOT = Path(__file__).resolve().parents[2]

SUMMARY_CSV = "protocol_variants.csv"
SUMMARY_MD = "protocol_variants.md"
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
TITLES = {"mig": "MIG", "zdiff": "Z-diff"}


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


def summary_markdown(
    rows: Sequence[dict[str, Any]], study_table: str = STUDY_TABLE_PATH, shown: str | None = None
) -> str:
    """The summary as a markdown table, one line per (variant, metric), and a line saying
    what its columns are and which study table gave the range (``shown``, else its path
    from the repository's root)."""
    head = ["variant", "metric", "models", "ours", "study", "inside", "below", "above", "verdict"]
    lines = table_head(head)
    for row in rows:
        cells = [
            row["variant"],
            TITLES.get(row["metric"], row["metric"]),
            str(row["models"]),
            format_range(sorted({row["low"], row["high"]}), 4),
            format_range(sorted({row["study_low"], row["study_high"]}), 4),
            *(str(row[c]) for c in ("inside", "below", "above")),
            row["verdict"],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    if shown is None:
        path = Path(study_table).resolve()
        shown = str(path.relative_to(_ROOT) if path.is_relative_to(_ROOT) else path)
    lines.append(
        "ours: min–max over the models; study: min–max of the study's Table 1 at their βs "
        f"({shown}); inside/below/above: how many of our scores lie in that range."
    )
    return "\n".join(lines) + "\n"


def by_beta_markdown(models: Sequence[ScoredModel], study: dict[float, dict[str, float]]) -> str:
    """Per (variant, metric) and β: our mean [95 % t interval] over the models of that β
    (one model: its score), in bold where the study's value lies inside the interval; the
    study's values in the first rows; the last column lists the βs where it lies inside."""
    betas = sorted({m.beta for m in models if m.beta is not None})
    if not betas:
        raise InputError("the protocol-variant table by β needs models with a β")
    keys = list(dict.fromkeys((s.variant, s.metric) for m in models for s in m.scores))
    lines = table_head(["variant", "metric", *(f"β = {b:g}" for b in betas), "study inside at β"])
    for metric in dict.fromkeys(metric for _, metric in keys):
        values = [study.get(b, {}).get(metric) for b in betas]
        cells = ["—" if v is None or math.isnan(v) else format_fixed(v, 3) for v in values]
        lines.append(
            f"| study (Table 1) | {TITLES.get(metric, metric)} | " + " | ".join(cells) + " | |"
        )
    for variant, metric in keys:
        cells, inside = [], []
        for beta in betas:
            scores = [
                s.score
                for m in models
                if m.beta == beta
                for s in m.scores
                if (s.variant, s.metric) == (variant, metric)
            ]
            ours = estimate(scores)
            theirs = study.get(beta, {}).get(metric)
            if ours is None:
                cells.append("—")
                continue
            low, high = (ours.mean, ours.mean) if ours.n == 1 else (ours.low, ours.high)
            text = ours.text(digits=3, sd=False)
            if theirs is not None and not math.isnan(theirs) and low <= theirs <= high:
                inside.append(f"{beta:g}")
                text = f"**{text}**"
            cells.append(text)
        where = ", ".join(inside) or "none"
        lines.append(
            f"| {variant} | {TITLES.get(metric, metric)} | " + " | ".join(cells) + f" | {where} |"
        )
    counts = sorted({sum(m.beta == b for m in models) for b in betas})
    lines += [
        "",
        "Ours: mean [95 % Student-t interval of the mean] over each β's models "
        f"(n = {' or '.join(map(str, counts))}; one model: its score), bold where the study's "
        "value lies inside; study: its Table 1 (— where it reports none).",
    ]
    return "\n".join(lines) + "\n"


def variants_markdown(
    models: Sequence[ScoredModel],
    study: dict[float, dict[str, float]],
    summary: Sequence[dict[str, Any]],
    study_table: str,
    shown: str | None = None,
) -> str:
    """The table by β, then the summary (``variant_summary`` of the same models), as
    :data:`SUMMARY_MD` and a report's ``protocol_variants`` table show them (``shown``:
    :func:`summary_markdown`'s)."""
    summary_text = summary_markdown(summary, study_table, shown)
    return by_beta_markdown(models, study) + "\n" + summary_text


def write_variant_tables(
    models: Sequence[ScoredModel], directory: str, study_table: str = STUDY_TABLE_PATH
) -> list[str]:
    """Write the summary against the study's Table 1 read from ``study_table``
    (:data:`SUMMARY_CSV`; :data:`SUMMARY_MD` holds the table by β, then the summary) to
    ``directory``; their paths."""
    study = read_study_table(study_table)
    summary = variant_summary(models, study)
    kio.makedirs(directory)
    paths = [os.path.join(directory, name) for name in (SUMMARY_CSV, SUMMARY_MD)]
    kio.write_text_atomic(paths[0], csv_text(summary, SUMMARY_COLUMNS))
    kio.write_text_atomic(paths[1], variants_markdown(models, study, summary, study_table))
    return paths
