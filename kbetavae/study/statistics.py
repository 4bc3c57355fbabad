"""Statistics over seeds: per β, n, mean, sd and a 95 % bootstrap interval; comparisons.

With n seeds per β a column gets the mean, the sample sd and a 95 % percentile-bootstrap
interval of the mean; with one seed, the value alone, labelled "one seed" and drawn
without bars. :func:`compare` says whether two βs differ: ordering claims in reports rest
on it, never on two means alone. It does not test whether the bootstrap intervals overlap,
since with three seeds those hold the mean only about three times in four (see
:func:`estimate`); it uses Welch's t-test, whose error rate holds at any n for normal
values, and orders nothing with fewer than three seeds per β. :func:`compare_pairs` tests
every pair of βs and adjusts for their number (Holm 1979).

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
from scipy import stats as scipy_stats

BOOTSTRAP_RESAMPLES = 10_000
CONFIDENCE = 0.95
# A difference is called one below this p-value (two-sided, Welch's t-test).
SIGNIFICANCE = 1 - CONFIDENCE
# Fewer seeds than this order nothing: one seed has no spread, and two give an sd of one
# degree of freedom, so Welch's test could only find differences many sds wide.
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

    def text(self, digits: int = 4, sd: bool = True) -> str:
        """``0.1234`` (one seed) or ``0.1234 ± 0.0100 [0.1100, 0.1300]`` (without the sd
        if ``sd`` is False)."""

        if self.n == 1:
            return format_fixed(self.mean, digits)
        spread = f" ± {format_fixed(self.sd, digits)}" if sd else ""
        interval = f"[{format_fixed(self.low, digits)}, {format_fixed(self.high, digits)}]"
        return f"{format_fixed(self.mean, digits)}{spread} {interval}"


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
    """Two βs on one column. ``p`` is Welch's two-sided t-test p-value (``p_adjusted`` the
    same after Holm's adjustment when the pair is one of several tested together); ``differ``
    is True when the (adjusted) p is below ``SIGNIFICANCE``, False when not, and None, like
    ``p``, when either β has fewer than ``MIN_SEEDS_TO_ORDER`` seeds."""

    column: str
    a: float
    b: float
    estimate_a: Estimate
    estimate_b: Estimate
    p: float | None
    p_adjusted: float | None = None

    @property
    def differ(self) -> bool | None:
        p = self.p if self.p_adjusted is None else self.p_adjusted
        return None if p is None else p < SIGNIFICANCE

    @property
    def higher(self) -> float:
        """The β with the higher mean."""
        return self.a if self.estimate_a.mean > self.estimate_b.mean else self.b

    def text(self) -> str:
        if self.differ is None:
            fewest = min(self.estimate_a.n, self.estimate_b.n)
            reason = "one seed: no spread" if fewest == 1 else f"only {fewest} seeds"
            verdict = f"cannot be ordered ({reason})"
        else:
            shown = f"Welch p = {self.p:.3f}"
            if self.p_adjusted is not None:
                shown += f", Holm-adjusted {self.p_adjusted:.3f}"
            if self.differ:
                verdict = f"differ ({shown}; β = {self.higher:g} higher)"
            else:
                verdict = f"do not differ beyond the seeds' spread ({shown})"
        return f"{self.column}: β = {self.a:g} and β = {self.b:g} {verdict}"


def compare(rows: Sequence[dict], column: str, a: float, b: float) -> Comparison:
    """Whether βs ``a`` and ``b`` differ in ``column`` over their finished seeds (Welch's
    t-test, two-sided; see :class:`Comparison`)."""
    values = _finished_values(rows, column)
    missing = [beta for beta in (a, b) if not values.get(beta)]
    if missing:
        raise KeyError(f"no finished run of β = {missing[0]:g} has {column}")
    xa, xb = values[a], values[b]
    p = None
    if min(len(xa), len(xb)) >= MIN_SEEDS_TO_ORDER:
        p = welch_p(xa, xb)
    return Comparison(column, a, b, estimate(xa), estimate(xb), p)


def compare_pairs(rows: Sequence[dict], column: str) -> list[Comparison]:
    """Every pair of βs (ascending) compared on ``column``, with Holm-adjusted p-values over
    the pairs that could be tested: testing 21 pairs at 5 % each would call about one
    difference in a study where none exists."""
    betas = sorted(_finished_values(rows, column))
    pairs = [compare(rows, column, a, b) for i, a in enumerate(betas) for b in betas[i + 1 :]]
    tested = [k for k, c in enumerate(pairs) if c.p is not None]
    adjusted = holm([pairs[k].p for k in tested])
    for k, p in zip(tested, adjusted, strict=True):
        pairs[k] = dataclasses.replace(pairs[k], p_adjusted=p)
    return pairs


def format_fixed(value: float, digits: int) -> str:
    """``value`` with ``digits`` decimals as the tables print it, never "-0.00": float noise
    around zero (a collapsed run's KL of −2e-9 nats) would read as a negative number."""
    return f"{round(value, digits) + 0.0:.{digits}f}"


def format_p(p: float) -> str:
    """A p-value as the reports print it: three decimals, "< 0.001" below that."""
    return "< 0.001" if p < 0.0005 else f"{p:.3f}"


def welch_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of Welch's t-test (unequal variances) of mean(a) = mean(b); 1.0
    when both samples are constant and equal, 0.0 when constant and unequal."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if np.ptp(a) == 0 and np.ptp(b) == 0:  # t is 0/0 or ±inf: scipy returns nan
        return 1.0 if a[0] == b[0] else 0.0
    return float(scipy_stats.ttest_ind(a, b, equal_var=False).pvalue)


def rank_sum_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of the Mann–Whitney U (Wilcoxon rank-sum) test that ``a`` and
    ``b`` come from one distribution; exact for small samples without ties. For groups of
    runs that are not βs (e.g. by what their traversals show), where no normality holds."""
    return float(scipy_stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)


def rank_correlation(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Spearman's ρ of ``x`` and ``y`` and its two-sided p-value (no trend, ρ = 0): whether
    a quantity rises or falls with β, without assuming the shape of the curve."""
    result = scipy_stats.spearmanr(x, y)
    return float(result.statistic), float(result.pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (Holm 1979), in the given order: the k-th smallest
    of m is multiplied by m − k + 1, made non-decreasing, and capped at 1. A family of tests
    with adjusted p below α has family-wise error rate at most α."""
    order = np.argsort(p_values, kind="stable")
    m = len(order)
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted.tolist()


def _finished_values(rows: Sequence[dict], column: str) -> dict[float, list[float]]:
    """β → the finite values of ``column`` over its finished seeds (βs without any left out)."""
    values: dict[float, list[float]] = {}
    for row in rows:
        value = _number(row.get(column)) if row.get("status") == "done" else None
        if value is not None and math.isfinite(value):
            values.setdefault(row["beta"], []).append(value)
    return values


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
