"""Statistics over seeds: per β, n, mean, sd and a 95 % interval; comparisons.

With n seeds per β a column gets the mean, the sample sd and a 95 % Student-t interval of
the mean (the percentile bootstrap is kept beside it: with n < 10 it is too narrow, see
:func:`estimate`); with one seed, the value alone, labelled "one seed" and drawn without
bars. :func:`compare` says whether two βs differ: ordering claims in reports rest on it,
never on two means alone or on intervals overlapping. It uses Welch's t-test, whose error
rate holds at any n for normal values, and orders nothing with fewer than three seeds per
β; it also gives the difference's Welch–Satterthwaite interval and, where the two βs share
seeds (the seeds of a sweep share subset and initialisation), the paired t-test over those
seeds. :func:`compare_pairs` tests every pair of βs and adjusts for their number (Holm
1979), separately for the Welch and the paired tests.

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
    """A column's values over the seeds of one β: n, mean, sd, the 95 % Student-t interval
    of the mean (``low``, ``high``) and the 95 % percentile-bootstrap one (``boot_low``,
    ``boot_high``).

    With one seed, ``sd`` and the intervals are None: one value has no spread.
    """

    n: int
    mean: float
    sd: float | None
    low: float | None
    high: float | None
    boot_low: float | None = None
    boot_high: float | None = None

    def text(self, digits: int = 4, sd: bool = True, bootstrap: bool = False) -> str:
        """``0.1234`` (one seed) or ``0.1234 ± 0.0100 [0.1100, 0.1300]`` (without the sd
        if ``sd`` is False; the bootstrap interval instead of the t one if ``bootstrap``)."""

        if self.n == 1:
            return format_fixed(self.mean, digits)
        spread = f" ± {format_fixed(self.sd, digits)}" if sd else ""
        low, high = (self.boot_low, self.boot_high) if bootstrap else (self.low, self.high)
        return f"{format_fixed(self.mean, digits)}{spread} {format_interval(low, high, digits)}"


def estimate(values: Sequence[float], seed: int = 0) -> Estimate | None:
    """The :class:`Estimate` of ``values`` (non-finite ones dropped; None if none is left).

    The interval is Student's t: mean ± t(0.975, n − 1) · sd / √n, exact for normal
    values at any n. The percentile bootstrap of the mean (10,000 resamples, seeded, so a
    table is reproducible) is kept as ``boot_low``/``boot_high``; with few seeds it is too
    narrow: with two it is the range of the two values, which holds the true mean (of a
    symmetric spread) only half the time; with three, normal values, about three times in
    four, as it spreads ±1.96 plug-in standard errors where Student's t with 2 degrees of
    freedom needs ±4.3 sample ones. It reads as how far the seeds disagree.

    Example (three values; t(0.975, 2) = 4.3027):
        >>> e = estimate([1.0, 2.0, 3.0])  # mean 2, sd 1, half-width 4.3027 / √3 = 2.4841
        >>> round(e.low, 4), round(e.high, 4)
        (-0.4841, 4.4841)
    """
    finite = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if finite.size == 0:
        return None
    mean = float(finite.mean())
    if finite.size == 1:
        return Estimate(1, mean, None, None, None)
    sd = float(finite.std(ddof=1))
    half = t_quantile(finite.size - 1) * sd / math.sqrt(finite.size)
    rng = np.random.default_rng(seed)
    resamples = rng.choice(finite, size=(BOOTSTRAP_RESAMPLES, finite.size), replace=True)
    alpha = (1 - CONFIDENCE) / 2
    boot_low, boot_high = np.quantile(resamples.mean(axis=1), [alpha, 1 - alpha])
    return Estimate(
        int(finite.size), mean, sd, mean - half, mean + half, float(boot_low), float(boot_high)
    )


def t_quantile(df: float) -> float:
    """The two-sided 95 % quantile of Student's t with ``df`` degrees of freedom."""
    return float(scipy_stats.t.ppf(1 - (1 - CONFIDENCE) / 2, df))


@dataclasses.dataclass(frozen=True)
class Difference:
    """A difference of means, ``mean(b) − mean(a)``, with its 95 % t interval, degrees of
    freedom and two-sided p-value (of no difference): Welch's (unpaired) or paired."""

    delta: float
    low: float
    high: float
    df: float
    p: float
    n: int

    def text(self, digits: int = 3) -> str:
        """``+0.119 [+0.085, +0.153]``: the difference and its interval, signed."""
        return f"{_signed(self.delta, digits)} {format_interval(self.low, self.high, digits, True)}"


def welch_difference(a: Sequence[float], b: Sequence[float]) -> Difference:
    """``mean(b) − mean(a)`` with Welch's t-test and the Welch–Satterthwaite interval:
    se² = s_a²/n_a + s_b²/n_b, df = se⁴ / ((s_a²/n_a)²/(n_a − 1) + (s_b²/n_b)²/(n_b − 1)).
    Both samples constant: a zero-width interval, p as :func:`welch_p` says.

    Example ([0, 1, 2] against [3, 4, 5]: se² = 2/3, df = 4, t(0.975, 4) = 2.7764):
        >>> d = welch_difference([0.0, 1.0, 2.0], [3.0, 4.0, 5.0])
        >>> round(d.low, 4), round(d.high, 4), round(d.df, 4)
        (0.733, 5.267, 4.0)
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    delta = float(b.mean() - a.mean())
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    p = welch_p(a, b)
    n = int(a.size + b.size)
    if va + vb == 0:
        return Difference(delta, delta, delta, float(a.size + b.size - 2), p, n)
    df = float((va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1)))
    half = t_quantile(df) * math.sqrt(va + vb)
    return Difference(delta, delta - half, delta + half, df, p, n)


def paired_difference(a: Sequence[float], b: Sequence[float]) -> Difference:
    """``mean(b − a)`` over paired values (the same seed at two βs) with the paired t-test:
    d = b − a, interval mean(d) ± t(0.975, n − 1) · sd(d) / √n. Constant differences: a
    zero-width interval (at the mean difference), p 1 if it is 0 and 0 otherwise.

    Example (a = [1, 2, 3], b = [2, 4, 3]: d = [1, 2, 0], mean 1, sd 1):
        >>> d = paired_difference([1.0, 2.0, 3.0], [2.0, 4.0, 3.0])
        >>> round(d.low, 4), round(d.high, 4), round(d.p, 4)
        (-1.4841, 3.4841, 0.2254)
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.size < 2:
        raise ValueError(f"paired values need two or more pairs, got {a.size} and {b.size}")
    d = b - a
    delta, n = float(d.mean()), int(d.size)
    # Equal differences up to the subtraction's rounding (a seed shift added to every β)
    # count as constant: t would be noise over noise.
    if np.ptp(d) <= 1e-12 * max(np.abs(a).max(), np.abs(b).max()):
        return Difference(delta, delta, delta, float(n - 1), 1.0 if delta == 0 else 0.0, n)
    half = t_quantile(n - 1) * float(d.std(ddof=1)) / math.sqrt(n)
    p = float(scipy_stats.ttest_rel(b, a).pvalue)
    return Difference(delta, delta - half, delta + half, float(n - 1), p, n)


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
    """What a figure or table of these rows shows: ``one seed`` or ``mean and 95 % t
    interval over n seeds`` (n as a range if βs differ)."""
    counts = sorted({s["done"] for s in summarise(rows, []) if s["done"]})
    if not counts or counts == [1]:
        return "one seed"
    n = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
    return f"mean and 95 % t interval over {n} seeds"


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Two βs on one column. ``p`` is Welch's two-sided t-test p-value (``p_adjusted`` the
    same after Holm's adjustment when the pair is one of several tested together); ``differ``
    is True when the (adjusted) p is below ``SIGNIFICANCE``, False when not, and None, like
    ``p``, when either β has fewer than ``MIN_SEEDS_TO_ORDER`` seeds. ``welch`` is the
    difference ``b − a`` with its Welch–Satterthwaite interval; ``paired`` the same over the
    seeds both βs share (None below ``MIN_SEEDS_TO_ORDER`` shared seeds), with its own
    Holm-adjusted p in ``paired_p_adjusted``."""

    column: str
    a: float
    b: float
    estimate_a: Estimate
    estimate_b: Estimate
    p: float | None
    p_adjusted: float | None = None
    welch: Difference | None = None
    paired: Difference | None = None
    paired_p_adjusted: float | None = None

    @property
    def differ(self) -> bool | None:
        p = self.p if self.p_adjusted is None else self.p_adjusted
        return None if p is None else p < SIGNIFICANCE

    @property
    def paired_differ(self) -> bool | None:
        """As :attr:`differ`, from the paired test."""
        if self.paired is None:
            return None
        p = self.paired.p if self.paired_p_adjusted is None else self.paired_p_adjusted
        return p < SIGNIFICANCE

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
    t-test, two-sided; see :class:`Comparison`), with the difference's intervals."""
    by_seed = _finished_by_seed(rows, column)
    missing = [beta for beta in (a, b) if not by_seed.get(beta)]
    if missing:
        raise KeyError(f"no finished run of β = {missing[0]:g} has {column}")
    xa, xb = list(by_seed[a].values()), list(by_seed[b].values())
    p = welch = paired = None
    if min(len(xa), len(xb)) >= MIN_SEEDS_TO_ORDER:
        welch = welch_difference(xa, xb)
        p = welch.p
    shared = sorted(set(by_seed[a]) & set(by_seed[b]))
    if len(shared) >= MIN_SEEDS_TO_ORDER:
        paired = paired_difference([by_seed[a][s] for s in shared], [by_seed[b][s] for s in shared])
    return Comparison(column, a, b, estimate(xa), estimate(xb), p, None, welch, paired)


def compare_pairs(rows: Sequence[dict], column: str) -> list[Comparison]:
    """Every pair of βs (ascending) compared on ``column``, with Holm-adjusted p-values over
    the pairs that could be tested, for Welch's and for the paired test separately: testing
    21 pairs at 5 % each would call about one difference in a study where none exists."""
    betas = sorted(_finished_by_seed(rows, column))
    pairs = [compare(rows, column, a, b) for i, a in enumerate(betas) for b in betas[i + 1 :]]
    tested = [k for k, c in enumerate(pairs) if c.p is not None]
    for k, p in zip(tested, holm([pairs[k].p for k in tested]), strict=True):
        pairs[k] = dataclasses.replace(pairs[k], p_adjusted=p)
    tested = [k for k, c in enumerate(pairs) if c.paired is not None]
    for k, p in zip(tested, holm([pairs[k].paired.p for k in tested]), strict=True):
        pairs[k] = dataclasses.replace(pairs[k], paired_p_adjusted=p)
    return pairs


def format_fixed(value: float, digits: int) -> str:
    """``value`` with ``digits`` decimals as the tables print it, never "-0.00": float noise
    around zero (a collapsed run's KL of −2e-9 nats) would read as a negative number."""
    return f"{round(value, digits) + 0.0:.{digits}f}"


def format_interval(low: float, high: float, digits: int, signed: bool = False) -> str:
    """``[low, high]`` with ``digits`` decimals (each with its sign if ``signed``)."""
    show = (lambda v: _signed(v, digits)) if signed else (lambda v: format_fixed(v, digits))
    return f"[{show(low)}, {show(high)}]"


def format_range(values: Sequence[float], digits: int = 3) -> str:
    """``min–max`` of ``values`` (one value alone; "—" for none), as the tables print it.

    Example:
        >>> format_range([0.3, 0.1, 0.2]), format_range([0.4]), format_range([])
        ('0.100–0.300', '0.400', '—')
    """
    if not len(values):
        return "—"
    low, high = format_fixed(min(values), digits), format_fixed(max(values), digits)
    return low if len(values) == 1 else f"{low}–{high}"


def _signed(value: float, digits: int) -> str:
    text = format_fixed(value, digits)
    return text if text.startswith("-") else f"+{text}"


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


def _finished_by_seed(rows: Sequence[dict], column: str) -> dict[float, dict[int, float]]:
    """β → seed → the finite value of ``column`` of its finished runs (βs without any left
    out; rows without a seed are numbered apart, so they never pair)."""
    values: dict[float, dict[int, float]] = {}
    for k, row in enumerate(rows):
        value = _number(row.get(column)) if row.get("status") == "done" else None
        if value is not None and math.isfinite(value):
            seeds = values.setdefault(row["beta"], {})
            seed = row.get("seed")
            seeds[seed if isinstance(seed, int) and seed not in seeds else -1 - k] = value
    return values


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
