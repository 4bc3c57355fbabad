"""Which βs differ: Welch's test decides, Holm adjusts over the pairs, paired tests over
shared seeds, and nothing is ordered below three seeds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from kbetavae.study.comparisons import compare, compare_pairs
from kbetavae.study.statistics import estimate, holm

from .metric_rows import rows


def test_compare_pairs_runs_by_seed_and_holm_adjusts_the_paired_tests_apart():
    """Seed effects that Welch's test sees as noise and the paired test removes: every seed
    shifts all βs alike, and β = 10 is 0.01 above β = 1 in every seed."""
    base = [0.1, 0.3, 0.5]
    data = rows({1.0: base, 2.0: [v + 0.005 for v in base], 10.0: [v + 0.01 for v in base]})
    data.reverse()  # pairs by seed, not by order
    pairs = compare_pairs(data, "mig")
    one_ten = next(c for c in pairs if (c.a, c.b) == (1.0, 10.0))
    assert one_ten.differ is False and one_ten.welch.delta == pytest.approx(0.01)
    assert (one_ten.paired.delta, one_ten.paired.p) == (pytest.approx(0.01), 0.0)
    assert one_ten.paired_differ is True
    ps = [c.paired.p for c in pairs]
    assert [c.paired_p_adjusted for c in pairs] == pytest.approx(holm(ps))
    # seeds not shared by three runs: no paired test
    apart = rows({1.0: base}) + [
        {"beta": 10.0, "seed": s + 5, "status": "done", "mig": v} for s, v in enumerate(base)
    ]
    assert compare(apart, "mig", 1.0, 10.0).paired is None


def test_compare_calls_a_difference_only_where_welchs_test_supports_it():
    apart = rows({1.0: [0.10, 0.11, 0.12], 10.0: [0.40, 0.41, 0.42]})
    assert compare(apart, "mig", 1.0, 10.0).differ is True
    assert "β = 10 higher" in compare(apart, "mig", 1.0, 10.0).text()
    overlapping = rows({1.0: [0.1, 0.3, 0.5], 10.0: [0.2, 0.4, 0.6]})
    assert compare(overlapping, "mig", 1.0, 10.0).differ is False
    single = rows({1.0: [0.1], 10.0: [0.9]})
    comparison = compare(single, "mig", 1.0, 10.0)
    assert comparison.differ is None and comparison.p is None
    assert "cannot be ordered (one seed: no spread)" in comparison.text()


def test_disjoint_bootstrap_intervals_are_not_enough_to_differ():
    """[0, 1, 2] and [2.1, 3.1, 4.1]: the resampled means of three values reach the
    extremes with chance 1/27 = 3.7 % > 2.5 %, so each 95 % bootstrap interval is the
    values' range, [0, 2] and [2.1, 4.1], which do not overlap; Welch's p is 0.062 (above),
    so the pair is not called different."""
    data = rows({1.0: [0.0, 1.0, 2.0], 10.0: [2.1, 3.1, 4.1]})
    comparison = compare(data, "mig", 1.0, 10.0)
    assert comparison.estimate_a.boot_high < comparison.estimate_b.boot_low
    assert comparison.differ is False
    assert "do not differ beyond the seeds' spread (Welch p = 0.062)" in comparison.text()


def test_compare_is_wrong_at_most_one_time_in_twenty_when_betas_do_not_differ():
    """2,000 pairs of βs whose three seeds each come from one normal distribution: Welch's
    test at 5 % calls at most about 5 % of them different (it is a little conservative for
    equal sizes and spreads: 3.6 % with this seed; binomial sd 0.5 %). Non-overlap of the
    two bootstrap intervals, too narrow for three seeds, would call about twice the nominal
    5 % (10.4 % with this seed): that is why it is not the test."""
    rng = np.random.default_rng(7)
    welch = bootstrap = 0
    for values in rng.normal(0.3, 0.1, size=(2000, 2, 3)):
        comparison = compare(rows({1.0: list(values[0]), 2.0: list(values[1])}), "mig", 1.0, 2.0)
        welch += comparison.differ
        a, b = comparison.estimate_a, comparison.estimate_b
        bootstrap += a.boot_high < b.boot_low or b.boot_high < a.boot_low
    assert 0.02 <= welch / 2000 <= 0.065
    assert bootstrap / 2000 > 0.08


def test_compare_pairs_tests_every_pair_once_and_adjusts_for_their_number():
    data = rows({1.0: [0.10, 0.11, 0.12], 4.0: [0.40, 0.41, 0.42], 10.0: [0.1, 0.5]})
    pairs = compare_pairs(data, "mig")
    assert [(c.a, c.b) for c in pairs] == [(1.0, 4.0), (1.0, 10.0), (4.0, 10.0)]
    tested, untested, _ = pairs
    # the only testable pair is a family of one: Holm leaves its p as is
    assert tested.p_adjusted == pytest.approx(tested.p) and tested.differ is True
    assert untested.p is None and untested.p_adjusted is None and untested.differ is None
    three = compare_pairs(rows({1.0: [0.1, 0.2, 0.3], 4.0: [0.3, 0.4, 0.5], 9.0: [1, 2, 3]}), "mig")
    ps = [c.p for c in three]
    assert [c.p_adjusted for c in three] == pytest.approx(holm(ps))
    assert all(c.p_adjusted >= c.p for c in three)


def test_two_seeds_order_nothing_however_far_apart():
    """With two values the percentile bootstrap interval of the mean is their range (the
    resampled means are a, (a + b) / 2 and b with chances 1/4, 1/2, 1/4, so the 2.5 % and
    97.5 % quantiles are a and b) while the t interval is 12.7 half-ranges wide on each side
    (t(0.975, 1) = 12.706, sd / √2 = half the range); their sd has one degree of freedom:
    compare() orders nothing below three seeds."""
    two = rows({1.0: [0.10, 0.12], 10.0: [0.40, 0.42]})
    e = estimate([0.10, 0.12])
    assert (e.boot_low, e.boot_high) == (0.10, 0.12)
    half = stats.t.ppf(0.975, 1) * 0.01
    assert stats.t.ppf(0.975, 1) == pytest.approx(12.706, abs=1e-3)
    assert (e.low, e.high) == pytest.approx((0.11 - half, 0.11 + half))
    comparison = compare(two, "mig", 1.0, 10.0)
    assert comparison.differ is None
    assert "cannot be ordered (only 2 seeds)" in comparison.text()
