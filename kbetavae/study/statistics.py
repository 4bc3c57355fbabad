"""Statistics over seeds: per setting (a β of a β sweep), n, mean, sd and a 95 % interval;
the tests behind them.

With n seeds per β a column gets the mean, the sample sd and a 95 % Student-t interval of
the mean (the percentile bootstrap is kept beside it: with n < 10 it is too narrow, see
:func:`estimate`); with one seed, the value alone, labelled "one seed" and drawn without
bars. Differences of two samples get Welch–Satterthwaite and paired t intervals
(:func:`welch_difference`, :func:`paired_difference`); which βs differ is
:mod:`kbetavae.study.comparisons`' to say.

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

from kbetavae.study.formatting import format_fixed, format_interval, format_signed
from kbetavae.study.grid import objective_of, setting_of, setting_order, weight_of

BOOTSTRAP_RESAMPLES = 10_000
CONFIDENCE = 0.95
# A difference is called one below this p-value (two-sided, Welch's t-test).
SIGNIFICANCE = 1 - CONFIDENCE


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
        interval = format_interval(self.low, self.high, digits, signed=True)
        return f"{format_signed(self.delta, digits)} {interval}"


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
    """Per setting (:mod:`kbetavae.study.grid`; a β sweep's are its βs), in objective then
    weight order: ``{"beta", "setting", "objective", "weight", "runs", "done", column:
    Estimate, ...}`` over the seeds that finished (a column no finished seed has is left
    out)."""
    groups: dict[str, list[dict]] = {}
    for row in sorted(rows, key=setting_order):
        groups.setdefault(setting_of(row), []).append(row)
    out = []
    for setting, group in groups.items():
        done = [r for r in group if r.get("status") == "done"]
        summary: dict[str, Any] = {
            "beta": group[0]["beta"],
            "setting": setting,
            "objective": objective_of(group[0]),
            "weight": weight_of(group[0]),
            "runs": len(group),
            "done": len(done),
        }
        for column in columns:
            value = estimate([as_number(r.get(column)) for r in done])
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


def as_number(value: Any) -> float | None:
    """``value`` as a float if it is a number (not a bool), else None."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
