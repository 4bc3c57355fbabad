"""Which βs differ: ordering claims in reports rest on :func:`compare`, never on two means
alone or on intervals overlapping.

It uses Welch's t-test, whose error rate holds at any n for normal values, and orders
nothing with fewer than three seeds per β; it also gives the difference's
Welch–Satterthwaite interval and, where the two βs share seeds (the seeds of a sweep share
subset and initialisation), the paired t-test over those seeds. :func:`compare_pairs`
tests every pair of βs and adjusts for their number (Holm 1979), separately for the Welch
and the paired tests.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Hashable, Sequence

from kbetavae.study.statistics import (
    SIGNIFICANCE,
    Difference,
    Estimate,
    as_number,
    estimate,
    holm,
    paired_difference,
    welch_difference,
)

# Fewer seeds than this order nothing: one seed has no spread, and two give an sd of one
# degree of freedom, so Welch's test could only find differences many sds wide.
MIN_SEEDS_TO_ORDER = 3


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
    a: float | str
    b: float | str
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
    def higher(self) -> float | str:
        """The β (or setting) with the higher mean."""
        return self.a if self.estimate_a.mean > self.estimate_b.mean else self.b

    def untested(self, paired: bool = False) -> str:
        """Why the (``paired``) test was not run: too few seeds, or too few shared ones."""
        fewest = min(self.estimate_a.n, self.estimate_b.n)
        if paired and fewest >= MIN_SEEDS_TO_ORDER:
            return f"fewer than {MIN_SEEDS_TO_ORDER} matched seeds"
        return "one seed: no spread" if fewest == 1 else f"only {fewest} seeds"

    def text(self) -> str:
        if self.differ is None:
            verdict = f"cannot be ordered ({self.untested()})"
        else:
            shown = f"Welch p = {self.p:.3f}"
            if self.p_adjusted is not None:
                shown += f", Holm-adjusted {self.p_adjusted:.3f}"
            if self.differ:
                verdict = f"differ ({shown}; {_label(self.higher)} higher)"
            else:
                verdict = f"do not differ beyond the seeds' spread ({shown})"
        return f"{self.column}: {_label(self.a)} and {_label(self.b)} {verdict}"


def _label(key: float | str) -> str:
    """``β = 4`` for a β, the setting's name (``btcvae_beta=4``) otherwise."""
    return f"β = {key:g}" if isinstance(key, int | float) else str(key)


def by_beta(row: dict) -> float:
    return row["beta"]


def compare(
    rows: Sequence[dict], column: str, a, b, key: Callable[[dict], Hashable] = by_beta
) -> Comparison:
    """Whether βs ``a`` and ``b`` (or the groups ``key`` gives those names, e.g. settings)
    differ in ``column`` over their finished seeds (Welch's t-test, two-sided; see
    :class:`Comparison`), with the difference's intervals."""
    by_seed = finished_by_seed(rows, column, key)
    missing = [name for name in (a, b) if not by_seed.get(name)]
    if missing:
        raise KeyError(f"no finished run of {_label(missing[0])} has {column}")
    xa, xb = list(by_seed[a].values()), list(by_seed[b].values())
    p = welch = paired = None
    if min(len(xa), len(xb)) >= MIN_SEEDS_TO_ORDER:
        welch = welch_difference(xa, xb)
        p = welch.p
    shared = sorted(set(by_seed[a]) & set(by_seed[b]))
    if len(shared) >= MIN_SEEDS_TO_ORDER:
        paired = paired_difference([by_seed[a][s] for s in shared], [by_seed[b][s] for s in shared])
    return Comparison(column, a, b, estimate(xa), estimate(xb), p, None, welch, paired)


def compare_pairs(
    rows: Sequence[dict],
    column: str,
    key: Callable[[dict], Hashable] = by_beta,
    names: Sequence | None = None,
) -> list[Comparison]:
    """Every pair of βs (ascending; or of ``names``, groups by ``key``) compared on
    ``column``, with Holm-adjusted p-values over the pairs that could be tested, for Welch's
    and for the paired test separately: testing 21 pairs at 5 % each would call about one
    difference in a study where none exists."""
    found = finished_by_seed(rows, column, key)
    groups = sorted(found) if names is None else [n for n in names if n in found]
    pairs = [
        compare(rows, column, a, b, key) for i, a in enumerate(groups) for b in groups[i + 1 :]
    ]
    tested = [k for k, c in enumerate(pairs) if c.p is not None]
    for k, p in zip(tested, holm([pairs[k].p for k in tested]), strict=True):
        pairs[k] = dataclasses.replace(pairs[k], p_adjusted=p)
    tested = [k for k, c in enumerate(pairs) if c.paired is not None]
    for k, p in zip(tested, holm([pairs[k].paired.p for k in tested]), strict=True):
        pairs[k] = dataclasses.replace(pairs[k], paired_p_adjusted=p)
    return pairs


def finished_by_seed(
    rows: Sequence[dict], column: str, key: Callable[[dict], Hashable] = by_beta
) -> dict:
    """β (or ``key``'s group) → seed → the finite value of ``column`` of its finished runs
    (groups without any left out; rows without a seed are numbered apart, so they never
    pair)."""
    values: dict = {}
    for k, row in enumerate(rows):
        value = as_number(row.get(column)) if row.get("status") == "done" else None
        if value is not None and math.isfinite(value):
            seeds = values.setdefault(key(row), {})
            seed = row.get("seed")
            seeds[seed if isinstance(seed, int) and seed not in seeds else -1 - k] = value
    return values
