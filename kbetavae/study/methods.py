"""Which method, at which weight, and how sure: a study grid's answers from its results rows.

- :func:`best_settings`: per objective, the setting with the highest mean of a column, with
  its 95 % t interval over seeds (:func:`kbetavae.study.statistics.estimate`).
- :func:`compare_methods`: those best settings against each other, Welch and paired at
  matched seeds, Holm-adjusted over the pairs (:func:`kbetavae.study.comparisons.compare_pairs`).
- :func:`agreement`: Spearman ρ of a label-free score (UDR) and a supervised metric over all
  finished runs, with a percentile-bootstrap interval over runs.
- :func:`picks`: per objective, the run a column picks (highest value) and its other scores:
  "the model UDR picks" beside "the model MIG picks".

Example:
    >>> rows = [{"setting": f"beta={b:g}", "objective": "beta", "weight": b, "beta": b,
    ...          "seed": s, "status": "done", "mig": b / 10 + s / 100}
    ...         for b in (1.0, 4.0) for s in range(3)]
    >>> best_settings(rows, "mig")[0].setting
    'beta=4'
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata

from kbetavae.study.comparisons import Comparison, compare_pairs
from kbetavae.study.formatting import (
    format_fixed,
    format_interval,
    format_p,
    format_signed,
    table_head,
)
from kbetavae.study.grid import keyed_by_beta, objective_of, setting_of
from kbetavae.study.statistics import (
    BOOTSTRAP_RESAMPLES,
    CONFIDENCE,
    Estimate,
    as_number,
    rank_correlation,
    summarise,
)

# keyed_by_beta and objective_of are the grid's, re-exported for the figures (viz reads the
# study through its results layer).
__all__ = [
    "Agreement",
    "Best",
    "Pick",
    "agreement",
    "best_settings",
    "compare_methods",
    "keyed_by_beta",
    "methods_markdown",
    "objective_of",
    "pick_table",
    "picks",
]


@dataclasses.dataclass(frozen=True)
class Best:
    """An objective's best setting on a column: its name, weight and estimate over seeds."""

    objective: str
    setting: str
    weight: float
    estimate: Estimate


def best_settings(rows: Sequence[dict], column: str) -> list[Best]:
    """Per objective (in the table's order), its setting with the highest mean ``column``."""
    best: dict[str, Best] = {}
    for summary in summarise(rows, [column]):
        value = summary.get(column)
        if value is None:
            continue
        current = best.get(summary["objective"])
        if current is None or value.mean > current.estimate.mean:
            best[summary["objective"]] = Best(
                summary["objective"], summary["setting"], summary["weight"], value
            )
    return list(best.values())


def compare_methods(rows: Sequence[dict], column: str) -> list[Comparison]:
    """Every pair of objectives' best settings on ``column`` (Welch; paired over the seeds
    both ran), Holm-adjusted over the pairs."""
    names = [b.setting for b in best_settings(rows, column)]
    return compare_pairs(rows, column, key=setting_of, names=names)


@dataclasses.dataclass(frozen=True)
class Agreement:
    """Spearman ρ of two columns over ``n`` runs, its p-value and bootstrap interval."""

    x: str
    y: str
    n: int
    rho: float
    p: float
    low: float | None
    high: float | None


def agreement(rows: Sequence[dict], x: str, y: str, seed: int = 0) -> Agreement | None:
    """Spearman ρ of ``x`` and ``y`` over the finished runs that have both (None below 3
    runs); the interval resamples runs with replacement (10,000 times, seeded)."""
    pairs = [(as_number(r.get(x)), as_number(r.get(y))) for r in rows if r.get("status") == "done"]
    pairs = [(a, b) for a, b in pairs if _finite(a) and _finite(b)]
    if len(pairs) < 3:
        return None
    xs, ys = np.array(pairs).T
    rho, p = rank_correlation(xs, ys)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(xs), size=(BOOTSTRAP_RESAMPLES, len(xs)))
    boot = _spearman_rows(xs[draws], ys[draws])
    boot = boot[np.isfinite(boot)]  # a resample of one repeated run has no ρ
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.quantile(boot, [alpha, 1 - alpha]).tolist() if boot.size else (None, None)
    return Agreement(x, y, len(xs), rho, p, low, high)


@dataclasses.dataclass(frozen=True)
class Pick:
    """The run ``column`` picks among an objective's finished runs, and its row."""

    objective: str
    column: str
    row: dict


def picks(rows: Sequence[dict], column: str) -> list[Pick]:
    """Per objective (in the table's order), its finished run with the highest ``column``."""
    chosen: dict[str, dict] = {}
    for summary in summarise(rows, []):
        chosen.setdefault(summary["objective"], None)
    for row in rows:
        value = as_number(row.get(column))
        if row.get("status") != "done" or not _finite(value):
            continue
        current = chosen.get(objective_of(row))
        if current is None or value > current[column]:
            chosen[objective_of(row)] = row
    return [Pick(o, column, r) for o, r in chosen.items() if r is not None]


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman ρ of each row pair of (B, n) arrays (average ranks for ties, as scipy);
    NaN where a row is constant."""
    rx, ry = rankdata(x, axis=1), rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    denominator = np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(axis=1) / denominator


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


# -- results.md's section of a grid ------------------------------------------------------------


def methods_markdown(rows: Sequence[dict], supervised: Sequence[str], udr: Sequence[str]) -> str:
    """The grid's answers as markdown: per supervised column the best setting of each
    objective and the methods compared at matched seeds; each UDR column against each
    supervised one; the run UDR picks beside the one each supervised column picks."""
    lines = ["## Methods", ""]
    for column in supervised:
        best = best_settings(rows, column)
        if not best:
            continue
        lines += [f"### Best setting per method: {column}", "", *table_head(_BEST_COLUMNS)]
        lines += [
            f"| {b.objective} | {b.setting} | {b.estimate.n} | {b.estimate.text()} |" for b in best
        ]
        lines += ["", *comparison_table(compare_methods(rows, column)), ""]
    for score in udr:
        found = [a for a in (agreement(rows, score, c) for c in supervised) if a is not None]
        if found:
            lines += [f"### {score} against the supervised metrics", "", *table_head(_AGREE)]
            lines += [
                f"| {a.y} | {a.n} | {format_signed(a.rho, 3)} | "
                + (format_interval(a.low, a.high, 3, signed=True) if a.low is not None else "—")
                + f" | {a.p:.3f} |"
                for a in found
            ]
            lines.append("")
        lines += _pick_lines(rows, score, supervised)
    return "\n".join(lines) + "\n"


_BEST_COLUMNS = ("method", "setting", "n", "mean ± sd [95 % t interval]")
_COMPARED = (
    "pair (a – b)",
    "Welch: b − a [95 % interval], p, Holm",
    "paired over matched seeds: b − a [95 % interval], p, Holm",
)


def comparison_table(comparisons: Sequence[Comparison]) -> list[str]:
    """The compared pairs as markdown table lines: each pair's difference with its Welch
    and its paired interval and (Holm-adjusted) p, in bold where that test orders it."""
    if not comparisons:
        return []

    def cell(difference, adjusted, differ, why_not: str) -> str:
        if difference is None:
            return f"— ({why_not})"
        adjusted = difference.p if adjusted is None else adjusted  # one pair: nothing to adjust
        shown = f"{difference.text()}, p {format_p(difference.p)}, Holm {format_p(adjusted)}"
        return f"**{shown}**" if differ else shown

    lines = table_head(_COMPARED)
    for c in comparisons:
        welch = cell(c.welch, c.p_adjusted, c.differ, c.untested())
        paired = cell(c.paired, c.paired_p_adjusted, c.paired_differ, c.untested(paired=True))
        lines.append(f"| {c.a} – {c.b} | {welch} | {paired} |")
    return lines


_AGREE = ("metric", "runs", "Spearman ρ", "95 % bootstrap interval", "p")


def pick_table(
    rows: Sequence[dict], score: str, supervised: Sequence[str]
) -> list[tuple[str, dict[str, dict | None]]]:
    """Per method that ``score`` picks a run of: (objective, {column: the row it picks}) for
    ``score`` and each supervised column (None where a column picks none)."""
    by_column = {score: picks(rows, score), **{c: picks(rows, c) for c in supervised}}
    table = []
    for pick in by_column[score]:
        chosen = {}
        for column, found in by_column.items():
            match = next((p for p in found if p.objective == pick.objective), None)
            chosen[column] = None if match is None else match.row
        table.append((pick.objective, chosen))
    return table


def _pick_lines(rows: Sequence[dict], score: str, supervised: Sequence[str]) -> list[str]:
    """Per method: the run ``score`` picks and the run each supervised column picks."""
    table = pick_table(rows, score, supervised)
    if not table:
        return []
    head = ("method", *(f"{column} picks" for column in (score, *supervised)))
    lines = [f"### The model {score} picks, per method", "", *table_head(head)]
    for objective, chosen in table:
        cells = [_run_text(row, supervised) if row else "—" for row in chosen.values()]
        lines.append(f"| {objective} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _run_text(row: dict, supervised: Sequence[str]) -> str:
    scores = ", ".join(
        f"{c} {format_fixed(row[c], 3)}" for c in supervised if _finite(as_number(row.get(c)))
    )
    return f"{setting_of(row)} seed {row['seed']} ({scores})"
