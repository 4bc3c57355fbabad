"""Statistics over seeds: per β, n, mean, sd and a 95 % bootstrap interval; comparisons.

With n seeds per β a column gets the mean, the sample sd and a 95 % percentile-bootstrap
interval of the mean; with one seed, the value alone, labelled "one seed" and drawn
without bars. :func:`compare` says whether two βs differ beyond their intervals: ordering
claims in reports rest on it, never on two means alone, and it orders nothing with fewer
than three seeds per β (see :func:`estimate` for why).

Example:
    >>> rows = [{"beta": 1.0, "status": "done", "mig": v} for v in (0.1, 0.2, 0.3)]
    >>> summarise(rows, ["mig"])[0]["mig"].n
    3
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

BOOTSTRAP_RESAMPLES = 10_000
CONFIDENCE = 0.95
# Fewer seeds than this order nothing: two seeds' interval is their range (``estimate``).
MIN_SEEDS_TO_ORDER = 3


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A column's values over the seeds of one β: n, mean, sd and a 95 % interval.

    With one seed, ``sd`` and the interval are None: one value has no spread.
    """

    n: int
    mean: float
    sd: float | None
    low: float | None
    high: float | None

    def text(self, digits: int = 4) -> str:
        """``0.1234`` (one seed) or ``0.1234 ± 0.0100 [0.1100, 0.1300]``."""
        f = f"{{:.{digits}f}}"
        if self.n == 1:
            return f.format(self.mean)
        return (
            f"{f.format(self.mean)} ± {f.format(self.sd)} "
            f"[{f.format(self.low)}, {f.format(self.high)}]"
        )


def estimate(values: Sequence[float], seed: int = 0) -> Estimate | None:
    """The :class:`Estimate` of ``values`` (non-finite ones dropped; None if none is left).

    The interval is the percentile bootstrap of the mean (10,000 resamples, seeded, so a
    table is reproducible). With few seeds it is too narrow, not too wide: with two it is
    the range of the two values, which holds the true mean (of a symmetric spread) only
    half the time; with three, normal values, it holds it about three times in four, as
    it spreads ±1.96 plug-in standard errors where Student's t with 2 degrees of freedom
    needs ±4.3 sample ones. Read it as how far the seeds disagree, not as a 95 % guarantee.
    """
    finite = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if finite.size == 0:
        return None
    mean = float(finite.mean())
    if finite.size == 1:
        return Estimate(1, mean, None, None, None)
    rng = np.random.default_rng(seed)
    resamples = rng.choice(finite, size=(BOOTSTRAP_RESAMPLES, finite.size), replace=True)
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.quantile(resamples.mean(axis=1), [alpha, 1 - alpha])
    return Estimate(int(finite.size), mean, float(finite.std(ddof=1)), float(low), float(high))


def summarise(rows: Sequence[dict], columns: Sequence[str]) -> list[dict[str, Any]]:
    """Per β: ``{"beta", "runs", "done", column: Estimate, ...}`` over the seeds that
    finished (a column no finished seed has is left out)."""
    out = []
    for beta in sorted({row["beta"] for row in rows}):
        group = [r for r in rows if r["beta"] == beta]
        done = [r for r in group if r.get("status") == "done"]
        summary: dict[str, Any] = {"beta": beta, "runs": len(group), "done": len(done)}
        for column in columns:
            value = estimate([_number(r.get(column)) for r in done])
            if value is not None:
                summary[column] = value
        out.append(summary)
    return out


def seed_count_label(rows: Sequence[dict]) -> str:
    """What a figure or table of these rows shows: ``one seed`` or ``mean and 95 % bootstrap
    interval over n seeds`` (n as a range if βs differ)."""
    counts = sorted({s["done"] for s in summarise(rows, []) if s["done"]})
    if not counts or counts == [1]:
        return "one seed"
    n = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
    return f"mean and 95 % bootstrap interval over {n} seeds"


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Two βs on one column: ``differ`` is True when their 95 % intervals do not overlap,
    False when they do, None when either β has fewer than ``MIN_SEEDS_TO_ORDER`` seeds."""

    column: str
    a: float
    b: float
    estimate_a: Estimate
    estimate_b: Estimate
    differ: bool | None

    def text(self) -> str:
        if self.differ is None:
            fewest = min(self.estimate_a.n, self.estimate_b.n)
            reason = "one seed: no interval" if fewest == 1 else f"only {fewest} seeds"
            verdict = f"cannot be ordered ({reason})"
        elif self.differ:
            higher = self.a if self.estimate_a.mean > self.estimate_b.mean else self.b
            verdict = f"differ (intervals do not overlap; β = {higher:g} higher)"
        else:
            verdict = "do not differ beyond their intervals"
        return f"{self.column}: β = {self.a:g} and β = {self.b:g} {verdict}"


def compare(rows: Sequence[dict], column: str, a: float, b: float) -> Comparison:
    """Whether βs ``a`` and ``b`` differ in ``column`` beyond their 95 % intervals."""
    stats = {s["beta"]: s for s in summarise(rows, [column])}
    missing = [beta for beta in (a, b) if column not in stats.get(beta, {})]
    if missing:
        raise KeyError(f"no finished run of β = {missing[0]:g} has {column}")
    ea, eb = stats[a][column], stats[b][column]
    differ = None
    if min(ea.n, eb.n) >= MIN_SEEDS_TO_ORDER:
        differ = ea.high < eb.low or eb.high < ea.low
    return Comparison(column, a, b, ea, eb, differ)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
