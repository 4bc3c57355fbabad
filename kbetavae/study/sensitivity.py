"""How the report's threshold-dependent claims move with their thresholds, as tables.

Two thresholds carry claims. The *activity threshold* (a latent is active when its mean KL
exceeds :data:`~kbetavae.metrics.inputs.ACTIVE_KL_NATS`, 0.01 nats) decides the active
latents counted per run, the collapsed runs (none active) and Modularity over the active
latents, whose β = 10 > 0.5 ordering is the report's one ordered pair. The *axis-alignment*
thresholds (a long move of at least 15 px within 10° of an image axis) decide which runs
count as axis-aligned, whose MIG the axes table sets against the others'.

Each table recomputes its claim at every threshold of a stated range from the committed run
files (``metrics.json``: ``kl_per_latent`` and Modularity's ``per_latent``;
``traversal_motion.csv``), so a claim that holds at one threshold only shows it. Registered
as marked tables by :mod:`kbetavae.study.published`: ``activity``, ``activity_counts`` and
``axes_sensitivity``. The traversal motion is measured once, so the axes table keeps the
activity threshold at 0.01 nats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from kbetavae.metrics.inputs import ACTIVE_KL_NATS
from kbetavae.study.comparisons import MIN_SEEDS_TO_ORDER, compare_pairs
from kbetavae.study.formatting import format_p, format_range, table_head
from kbetavae.study.results import MetricsReader, metric_records, read_results, sweep_run_dirs
from kbetavae.study.run_tables import axis_alignment
from kbetavae.study.statistics import rank_sum_p, welch_p
from kbetavae.training import rundir

# The activity thresholds shown (nats); the report's is ACTIVE_KL_NATS.
ACTIVITY_THRESHOLDS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0)
# The axis-alignment thresholds shown: long-move extents (px) and angle tolerances (°).
LONG_MOVES_PX = (10.0, 12.0, 15.0, 20.0, 25.0)
AXIS_TOLERANCES_DEG = (5.0, 10.0, 15.0)
# The pair of βs whose ordering the activity table follows: the report's one ordered pair.
CLAIMED_PAIR = (0.5, 10.0)


def activity_rows(
    results_dir: str,
    threshold: float,
    read: MetricsReader = rundir.read_metrics,
) -> list[dict]:
    """One row per finished run as ``results.csv`` has it, with ``active_latents`` and
    ``modularity_active`` recomputed at ``threshold`` nats from its ``metrics.json``
    (or the record ``read`` gives; ``modularity_active`` None where no latent is active)."""
    done = [r for r in read_results(results_dir) if r.get("status") == "done"]
    records = metric_records(sweep_run_dirs(results_dir), done, read)
    out = []
    for row in done:
        record = dict(records.get(row["beta"], [])).get(row["seed"])
        if record is None or "kl_per_latent" not in record:
            continue
        active = np.asarray(record["kl_per_latent"], dtype=float) > threshold
        per_latent = (record.get("modularity") or {}).get("per_latent")
        modularity = None
        if per_latent is not None and active.any():
            modularity = float(np.mean(np.asarray(per_latent, dtype=float)[active]))
        out.append({**row, "active_latents": int(active.sum()), "modularity_active": modularity})
    return out


def activity_markdown(
    results_dir: str,
    thresholds: Sequence[float] = ACTIVITY_THRESHOLDS,
    pair: tuple[float, float] = CLAIMED_PAIR,
) -> str:
    """Per activity threshold: Modularity over the active latents of ``pair``'s βs, their
    difference's tests (Welch's and paired, each Holm-adjusted over the metric's pairs, as
    the order tables), which pairs of βs either test orders, and the collapsed runs."""
    a, b = pair
    head = [
        "threshold (nats)",
        f"Modularity (active), β = {a:g}",
        f"β = {b:g}",
        f"Δ {b:g} − {a:g} [Welch t]",
        "Welch p, Holm",
        "paired p, Holm",
        "pairs ordered: Welch / paired",
        "runs with no active latent",
    ]
    lines = table_head(head)
    for threshold in thresholds:
        rows = activity_rows(results_dir, threshold)
        if not rows:
            return "(no finished run records its per-latent KL)\n"
        pairs = compare_pairs(rows, "modularity_active")
        claimed = next((c for c in pairs if (c.a, c.b) == pair), None)
        cells = [f"{threshold:g}" + (" (report's)" if threshold == ACTIVE_KL_NATS else "")]
        if claimed is None:
            cells += ["—"] * 5
        else:
            cells += [claimed.estimate_a.text(3, sd=False), claimed.estimate_b.text(3, sd=False)]
            cells.append("—" if claimed.welch is None else claimed.welch.text())
            cells.append(_p_pair(claimed.p, claimed.p_adjusted))
            paired = claimed.paired
            cells.append(_p_pair(None if paired is None else paired.p, claimed.paired_p_adjusted))
        cells.append(f"{_ordered(pairs, paired=False)} / {_ordered(pairs, paired=True)}")
        collapsed = [r for r in rows if r["active_latents"] == 0]
        cells.append(", ".join(f"β = {r['beta']:g} seed {r['seed']}" for r in collapsed) or "none")
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Active: mean KL above the threshold; the report uses {ACTIVE_KL_NATS:g} nats. "
        f"Tests as in the order tables (Holm over the 21 pairs of βs, each test apart; "
        f"none below {MIN_SEEDS_TO_ORDER} seeds); Modularity (active) is undefined for a run "
        "with no active latent, which then drops out of its β.",
    ]
    return "\n".join(lines) + "\n"


def activity_counts_markdown(
    results_dir: str, thresholds: Sequence[float] = ACTIVITY_THRESHOLDS
) -> str:
    """Per activity threshold and β: the fewest and most active latents over the seeds."""
    table = {t: activity_rows(results_dir, t) for t in thresholds}
    betas = sorted({r["beta"] for rows in table.values() for r in rows})
    if not betas:
        return "(no finished run records its per-latent KL)\n"
    lines = [
        "| threshold (nats) | " + " | ".join(f"β = {b:g}" for b in betas) + " |",
        "|" + "---|" * (len(betas) + 1),
    ]
    for threshold, rows in table.items():
        cells = []
        for beta in betas:
            counts = [r["active_latents"] for r in rows if r["beta"] == beta]
            low, high = min(counts), max(counts)
            cells.append(f"{low}" if low == high else f"{low}–{high}")
        lines.append(f"| {threshold:g} | " + " | ".join(cells) + " |")
    lines += ["", "Active latents per run, fewest–most over the seeds of each β."]
    return "\n".join(lines) + "\n"


def axes_sensitivity_markdown(
    results_dir: str,
    long_moves: Sequence[float] = LONG_MOVES_PX,
    tolerances: Sequence[float] = AXIS_TOLERANCES_DEG,
) -> str:
    """Per (long-move extent, angle tolerance): the runs with a long move along each image
    axis, their MIG against the other runs' (ranges, whether they separate, Welch's and
    the Mann–Whitney p; runs of one seed share data, so neither p is a test of
    independent samples)."""
    head = [
        "long move (px)",
        "within (°)",
        "aligned runs",
        "their MIG",
        "others' MIG",
        "separate",
        "Welch p",
        "Mann–Whitney p",
    ]
    lines = table_head(head)
    for long_px in long_moves:
        for tolerance in tolerances:
            both, others = [], []
            for row, _, axes in axis_alignment(results_dir, long_px, tolerance):
                if row.get("mig") is not None and math.isfinite(row["mig"]):
                    (both if len(axes) == 2 else others).append(row["mig"])
            cells = [f"{long_px:g}", f"{tolerance:g}", f"{len(both)} of {len(both) + len(others)}"]
            cells += [format_range(both), format_range(others)]
            if len(both) >= 2 and len(others) >= 2:
                cells.append("yes" if min(both) > max(others) else "no")
                cells += [format_p(welch_p(both, others)), format_p(rank_sum_p(both, others))]
            else:
                cells += ["—", "—", "—"]
            lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Aligned: a long move (at least the extent) within the tolerance of each image axis, "
        f"among the latents active at {ACTIVE_KL_NATS:g} nats; the report uses 15 px and 10°. "
        "Separate: every aligned run's MIG above every other run's.",
    ]
    return "\n".join(lines) + "\n"


def _p_pair(p: float | None, adjusted: float | None) -> str:
    return "—" if p is None else f"{format_p(p)}, {format_p(adjusted)}"


def _ordered(pairs, paired: bool) -> str:
    called = [c for c in pairs if (c.paired_differ if paired else c.differ)]
    if not called:
        return "none"
    parts = []
    for c in called:
        delta = (c.paired if paired else c.welch).delta
        high, low = (c.b, c.a) if delta > 0 else (c.a, c.b)
        parts.append(f"{high:g} > {low:g}")
    return ", ".join(parts)
