"""The tables of a published report, generated from its ``results.csv``, never typed.

A report (``docs/results/README.md``) marks each generated table with a pair of comments
(:mod:`kbetavae.marked_tables`). :func:`update_report` regenerates every marked table from
the files beside the report —
``results.csv`` (the sweep's), ``study_table.csv`` (the study's published Table 1, one row
per β), ``traversal_motion.csv`` and the runs' ``metrics.json`` — and :func:`stale_tables`
says which differ, so a test keeps the report and its data in step. Tables per β:
``summary`` (results.md's), ``comparison`` (ours beside the study's), ``penalty``
(reconstruction, KL and β·KL, and how each moves with β), ``order`` and ``order_paired``
(which βs differ on each metric, Welch's and paired:
:func:`kbetavae.study.comparisons.compare_pairs`); run by run
(:mod:`kbetavae.study.run_tables`): ``motion``, ``axes``, ``kl`` and ``convergence``;
across thresholds (:mod:`kbetavae.study.sensitivity`): ``activity``, ``activity_counts`` and
``axes_sensitivity``; and the analysis registered before seeds 4–7
(:mod:`kbetavae.study.preregistered`): ``preregistered``; the protocol variants of the
kept encoders (``kbetavae variants ... -o <report>/protocol_variants``,
:mod:`kbetavae.study.variant_tables`): ``protocol_variants``. For a grid of methods:
``methods`` (:func:`kbetavae.study.results.grid_methods_markdown`) and ``run_times``. Run
``python -m kbetavae.study.published DIR`` after a new sweep.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Sequence

from kbetavae import io as kio
from kbetavae import marked_tables
from kbetavae.study.comparisons import MIN_SEEDS_TO_ORDER, Comparison, compare_pairs
from kbetavae.study.formatting import format_interval, format_p, table_head
from kbetavae.study.preregistered import preregistered_markdown
from kbetavae.study.results import grid_methods_markdown, read_results, summary_markdown
from kbetavae.study.run_tables import (
    axes_markdown,
    convergence_markdown,
    kl_markdown,
    motion_markdown,
    run_times_markdown,
)
from kbetavae.study.sensitivity import (
    activity_counts_markdown,
    activity_markdown,
    axes_sensitivity_markdown,
)
from kbetavae.study.statistics import SIGNIFICANCE, Difference, rank_correlation, summarise
from kbetavae.study.study_table import STUDY_TABLE, read_study_table

REPORT_FILE = "README.md"
# Where a report keeps `kbetavae variants`' scores of its runs.
VARIANTS_DIR = "protocol_variants"


def comparison_markdown(rows: Sequence[dict], study: dict[float, dict[str, float]]) -> str:
    """Ours beside the study's, per β: MIG, Z-diff, Modularity (ours as the summary shows
    them: one seed's value, or mean [95 % t interval] over seeds, then the 95 % bootstrap
    interval), and per metric where the study's value lies against each interval."""
    metrics = ("mig", "zdiff", "modularity")
    titles = {"mig": "MIG", "zdiff": "Z-diff", "modularity": "Modularity"}
    head = ["β", "n"]
    for metric in metrics:
        head += [f"{titles[metric]} (ours, t)", "bootstrap", f"{titles[metric]} (study)"]
    lines = table_head(head)
    places: dict[tuple[str, str], dict[str, list[float]]] = {}
    for summary in summarise(rows, metrics):
        beta = summary["beta"]
        cells = [f"{beta:g}" + (" (baseline)" if beta == 1.0 else ""), str(summary["done"])]
        for metric in metrics:
            ours = summary.get(metric)
            theirs = study.get(beta, {}).get(metric)
            if ours is None:
                cells += ["—", "—"]
            else:
                cells.append(ours.text(sd=False))
                cells.append(
                    "—" if ours.n == 1 else format_interval(ours.boot_low, ours.boot_high, 4)
                )
            cells.append(
                "—" if theirs is None else "nan" if math.isnan(theirs) else f"{theirs:.4f}"
            )
            if ours is None or ours.n == 1 or theirs is None or math.isnan(theirs):
                continue
            for method, (low, high) in (
                ("t", (ours.low, ours.high)),
                ("bootstrap", (ours.boot_low, ours.boot_high)),
            ):
                where = "above" if theirs > high else "below" if theirs < low else "inside"
                places.setdefault((metric, method), {}).setdefault(where, []).append(beta)
        lines.append("| " + " | ".join(cells) + " |")
    if places:
        lines.append("")
        lines.append("Where the study's value lies against our 95 % interval:")
        lines.append("")
        for (metric, method), where in places.items():
            parts = [
                f"{side} at β = {', '.join(f'{b:g}' for b in betas)}"
                for side in ("above", "inside", "below")
                if (betas := where.get(side))
            ]
            lines.append(f"- {titles[metric]}, {method} interval: " + "; ".join(parts) + ".")
    return "\n".join(lines) + "\n"


def penalty_markdown(rows: Sequence[dict]) -> str:
    """Per β: what the model keeps and what it pays — reconstruction, KL and the penalty
    β·KL (per image, nats; the last epoch's training means), the held-out ELBO terms where
    recorded, and the active latents (one seed's value, or mean [95 % interval])."""
    priced = [
        {**row, "penalty": None if row.get("kl") is None else row["beta"] * row["kl"]}
        for row in rows
    ]
    titles = {
        "reconstruction": "reconstruction",
        "kl": "KL",
        "penalty": "β·KL",
        "heldout_reconstruction": "held-out reconstruction",
        "heldout_kl": "held-out KL",
        "active_latents": "active latents",
    }
    summaries = summarise(priced, tuple(titles))
    shown = [c for c in titles if any(c in summary for summary in summaries)]
    lines = [
        "| β | n | " + " | ".join(titles[c] for c in shown) + " |",
        "|" + "---|" * (len(shown) + 2),
    ]
    for summary in summaries:
        cells = [summary[c].text(2, sd=False) if c in summary else "—" for c in shown]
        lines.append(f"| {summary['beta']:g} | {summary['done']} | " + " | ".join(cells) + " |")
    trends = _trends(priced, {c: titles[c] for c in ("reconstruction", "kl", "penalty")})
    return "\n".join(lines) + "\n" + (f"\n{trends}\n" if trends else "")


def _trends(rows: Sequence[dict], titles: dict[str, str]) -> str:
    """How each column moves with β over the finished runs: Spearman's ρ and its p; empty
    below three βs (a rank correlation over two βs says nothing about a trend)."""
    parts = []
    for column, title in titles.items():
        pairs = [
            (r["beta"], r[column])
            for r in rows
            if r.get("status") == "done" and r.get(column) is not None
        ]
        if len({beta for beta, _ in pairs}) < 3:
            continue
        rho, p = rank_correlation(*zip(*pairs, strict=True))
        parts.append(f"{title} ρ = {rho:+.2f} (p {format_p(p)})")
    if not parts:
        return ""
    runs = sum(r.get("status") == "done" for r in rows)
    return (
        f"Spearman's rank correlation with β over the {runs} finished runs: "
        + "; ".join(parts)
        + "."
    )


# Every score the runs have, in the results table's order; short titles (a wide table).
ORDER_METRICS = {
    "mig": "MIG",
    "zdiff": "Z-diff",
    "modularity": "Modularity",
    "modularity_active": "Modularity (active)",
    "sap": "SAP",
    "factorvae": "FactorVAE",
    "dci_disentanglement": "DCI D",
    "dci_completeness": "DCI C",
}


def order_markdown(rows: Sequence[dict], paired: bool = False) -> str:
    """Per pair of βs and metric, whether they differ: Welch's p over the seeds and the
    same adjusted (Holm) over the metric's pairs, and the difference (second β − first)
    with its Welch–Satterthwaite 95 % interval; a pair is called ordered ("10 > 1") only
    where the adjusted p is below 0.05, and "—" where a β has too few seeds. ``paired``:
    the same from the paired t-test over the seeds the two βs share."""
    metrics = [m for m in ORDER_METRICS if any(r.get(m) is not None for r in rows)]
    columns = {m: compare_pairs(rows, m) for m in metrics}

    def result(c: Comparison) -> tuple[Difference | None, float | None, bool | None]:
        if paired:
            return c.paired, c.paired_p_adjusted, c.paired_differ
        return c.welch, c.p_adjusted, c.differ

    if not any(result(c)[0] is not None for pairs in columns.values() for c in pairs):
        return f"(no two βs with {MIN_SEEDS_TO_ORDER} finished seeds each: nothing is ordered)\n"
    head = ["β pair"] + [ORDER_METRICS[m] for m in metrics]
    lines = table_head(head)
    for k, first in enumerate(columns[metrics[0]]):
        cells = [f"{first.a:g} – {first.b:g}"]
        for metric in metrics:
            c = columns[metric][k]
            difference, adjusted, differ = result(c)
            if difference is None:
                cells.append("—")
                continue
            higher = c.b if difference.delta > 0 else c.a
            lower = c.a if higher == c.b else c.b
            verdict = f"**{higher:g} > {lower:g}**" if differ else "not ordered"
            shown = f"p {format_p(difference.p)}, Holm {format_p(adjusted)}"
            cells.append(f"{verdict} ({shown}; Δ {difference.text()})")
        lines.append("| " + " | ".join(cells) + " |")
    called = sum(bool(result(c)[2]) for pairs in columns.values() for c in pairs)
    tested = sum(result(c)[0] is not None for pairs in columns.values() for c in pairs)
    test = "paired t-test over shared seeds" if paired else "Welch's t-test"
    lines.append("")
    lines.append(
        f"{called} of {tested} comparisons ordered ({test}; Holm-adjusted p < "
        f"{SIGNIFICANCE:.2f} within each metric). Δ: the second β's mean minus the first's, "
        f"with its 95 % {'paired' if paired else 'Welch–Satterthwaite'} t interval."
    )
    return "\n".join(lines) + "\n"


def generators(results_dir: str) -> dict[str, Callable[[], str]]:
    """The tables a report may mark, by name, each drawn from ``results_dir``'s files."""

    def rows() -> list[dict]:
        return read_results(results_dir)

    def study() -> dict[float, dict[str, float]]:
        return read_study_table(os.path.join(results_dir, STUDY_TABLE))

    return {
        "summary": lambda: summary_markdown(rows()),
        "comparison": lambda: comparison_markdown(rows(), study()),
        "penalty": lambda: penalty_markdown(rows()),
        "order": lambda: order_markdown(rows()),
        "order_paired": lambda: order_markdown(rows(), paired=True),
        "motion": lambda: motion_markdown(results_dir),
        "axes": lambda: axes_markdown(results_dir),
        "kl": lambda: kl_markdown(results_dir),
        "convergence": lambda: convergence_markdown(results_dir),
        "activity": lambda: activity_markdown(results_dir),
        "activity_counts": lambda: activity_counts_markdown(results_dir),
        "axes_sensitivity": lambda: axes_sensitivity_markdown(results_dir),
        "preregistered": lambda: preregistered_markdown(results_dir),
        "protocol_variants": lambda: _variants_markdown(results_dir),
        "methods": lambda: grid_methods_markdown(rows()),
        "run_times": lambda: run_times_markdown(results_dir),
    }


def _variants_markdown(results_dir: str) -> str:
    """The protocol variants of the report's runs against its study table: by β, then the
    summary."""
    from kbetavae.study import variant_tables
    from kbetavae.study.protocol_variants import read_scores

    models = read_scores(os.path.join(results_dir, VARIANTS_DIR))
    if not models:
        return f"No protocol-variant scores yet in {VARIANTS_DIR}/ (`kbetavae variants`).\n"
    study_table = os.path.join(results_dir, STUDY_TABLE)
    study = read_study_table(study_table)
    summary = variant_tables.variant_summary(models, study)
    # Named as the README beside it reaches it, wherever the report lies.
    return variant_tables.variants_markdown(models, study, summary, study_table, STUDY_TABLE)


def render(report: str, results_dir: str) -> str:
    """``report`` with every marked table regenerated."""
    return marked_tables.render(report, generators(results_dir))


def stale_tables(results_dir: str) -> list[str]:
    """Names of the report's marked tables that differ from what the data give."""
    report = kio.read_text(os.path.join(results_dir, REPORT_FILE))
    return marked_tables.stale(report, generators(results_dir))


def update_report(results_dir: str) -> list[str]:
    """Regenerate the marked tables of ``results_dir``/README.md; return their names."""
    path = os.path.join(results_dir, REPORT_FILE)
    report = kio.read_text(path)
    kio.write_text_atomic(path, render(report, results_dir))
    return marked_tables.names(report)


if __name__ == "__main__":
    directory = sys.argv[1] if len(sys.argv) > 1 else os.path.join("docs", "results")
    print("regenerated:", ", ".join(update_report(directory)) or "no marked tables")
