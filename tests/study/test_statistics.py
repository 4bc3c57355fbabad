"""Statistics over seeds: one seed is labelled as one seed; Student-t intervals of means and
of differences (Welch–Satterthwaite, paired); Welch's test decides comparisons."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from kbetavae.study.results import results_markdown
from kbetavae.study.statistics import (
    compare,
    compare_pairs,
    estimate,
    holm,
    paired_difference,
    rank_correlation,
    rank_sum_p,
    seed_count_label,
    summarise,
    welch_difference,
    welch_p,
)


def rows(values_by_beta: dict[float, list[float]]) -> list[dict]:
    return [
        {"beta": beta, "seed": seed, "status": "done", "mig": value}
        for beta, values in values_by_beta.items()
        for seed, value in enumerate(values)
    ]


def test_one_seed_has_a_value_and_no_spread_or_interval():
    one = estimate([0.3])
    assert (one.n, one.mean, one.sd, one.low, one.high) == (1, 0.3, None, None, None)
    assert one.text() == "0.3000"


def test_the_interval_is_students_t_of_the_mean():
    """[1, 2, 3]: mean 2, sd 1, t(0.975, 2) = 4.3027, so 2 ± 4.3027 / √3 = [−0.4841, 4.4841];
    [0.1, 0.2, 0.3, 0.4]: mean 0.25, sd 0.1291, t(0.975, 3) = 3.1824, half-width 0.2054."""
    three = estimate([1.0, 2.0, 3.0])
    half = stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)
    assert (three.low, three.high) == pytest.approx((2 - half, 2 + half))
    assert (three.low, three.high) == pytest.approx((-0.4841, 4.4841), abs=1e-4)
    values = [0.1, 0.2, 0.3, 0.4]
    four = estimate(values)
    sd = np.std(values, ddof=1)
    half = stats.t.ppf(0.975, 3) * sd / 2
    assert four.sd == pytest.approx(sd)
    assert (four.low, four.high) == pytest.approx((0.25 - half, 0.25 + half))
    assert four.text(4, sd=False) == "0.2500 [0.0446, 0.4554]"


def test_the_bootstrap_interval_is_kept_beside_it_seeded_and_within_the_values():
    values = [0.1, 0.2, 0.3, 0.4]
    result = estimate(values)
    # the bootstrap means of 4 values lie within [min, max], and the interval is reproducible
    assert 0.1 <= result.boot_low < result.mean < result.boot_high <= 0.4
    assert result.low < result.boot_low and result.boot_high < result.high
    assert estimate(values) == result
    assert result.text(4, sd=False, bootstrap=True) == (
        f"0.2500 [{result.boot_low:.4f}, {result.boot_high:.4f}]"
    )


def test_the_t_interval_holds_the_mean_95_times_in_100_where_the_bootstrap_does_not():
    """2,000 draws of three normal values: the t interval holds the true mean at its
    nominal 95 % (binomial sd 0.5 %); the percentile bootstrap, ±1.96 plug-in standard
    errors where t with 2 degrees of freedom needs ±4.30 sample ones, about three times in
    four."""
    rng = np.random.default_rng(3)
    t_hits = boot_hits = 0
    for values in rng.normal(0.3, 0.1, size=(2000, 3)):
        e = estimate(list(values))
        t_hits += e.low <= 0.3 <= e.high
        boot_hits += e.boot_low <= 0.3 <= e.boot_high
    assert 0.93 <= t_hits / 2000 <= 0.97
    assert boot_hits / 2000 < 0.82


def test_welchs_difference_has_the_welch_satterthwaite_interval():
    """a = [0, 1, 2] (variance 1, n 3), b = [1, 3, 5, 7] (variance 20/3, n 4):
    se² = 1/3 + 5/3 = 2, df = 2² / ((1/3)²/2 + (5/3)²/3) = 4.0755, difference 4 − 1 = 3,
    interval 3 ± t(0.975, 4.0755) · √2."""
    a, b = [0.0, 1.0, 2.0], [1.0, 3.0, 5.0, 7.0]
    d = welch_difference(a, b)
    df = 4 / ((1 / 3) ** 2 / 2 + (5 / 3) ** 2 / 3)
    half = stats.t.ppf(0.975, df) * math.sqrt(2)
    assert d.delta == pytest.approx(3.0) and d.df == pytest.approx(df) and d.n == 7
    assert (d.low, d.high) == pytest.approx((3 - half, 3 + half))
    assert d.p == pytest.approx(welch_p(a, b))
    # the interval and the test agree: 0 lies outside the interval exactly when p < 0.05
    for shift in np.linspace(0, 8, 33):
        moved = welch_difference(a, [v + shift - 3 for v in b])
        assert (moved.low > 0 or moved.high < 0) == (moved.p < 0.05)
    assert d.text() == f"+3.000 [{3 - half:+.3f}, {3 + half:+.3f}]"


def test_the_paired_difference_is_a_t_interval_of_the_per_seed_differences():
    """a = [1, 2, 3], b = [2, 4, 3]: d = [1, 2, 0], mean 1, sd 1, df 2, interval
    1 ± 4.3027 / √3; t = √3, and with 2 degrees of freedom the two-sided p is
    1 − t / √(t² + 2) = 1 − √3 / √5 = 0.2254."""
    d = paired_difference([1.0, 2.0, 3.0], [2.0, 4.0, 3.0])
    half = stats.t.ppf(0.975, 2) / math.sqrt(3)
    assert (d.delta, d.df, d.n) == (1.0, 2.0, 3)
    assert (d.low, d.high) == pytest.approx((1 - half, 1 + half))
    assert d.p == pytest.approx(1 - math.sqrt(3) / math.sqrt(5))
    same = paired_difference([1.0, 2.0, 3.0], [1.5, 2.5, 3.5])
    assert (same.low, same.high, same.p) == (0.5, 0.5, 0.0)
    with pytest.raises(ValueError, match="two or more pairs"):
        paired_difference([1.0], [2.0])


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


def test_a_table_of_one_seed_never_claims_mean_and_sd():
    text = results_markdown(rows({1.0: [0.2], 4.0: [0.5]}))
    assert "one seed" in text
    assert "±" not in text and "mean" not in text.lower() and "sd" not in text
    assert "(one seed: each cell is that seed's value)" in text


def test_a_table_of_several_seeds_says_what_its_cells_are():
    text = results_markdown(rows({1.0: [0.2, 0.3, 0.25], 4.0: [0.5, 0.6, 0.55]}))
    assert "mean and 95 % t interval over 3 seeds" in text
    assert "| 1 | 3/3 |" in text and "| 0.2500 ± 0.0500 [" in text


def test_labels_count_the_seeds_per_beta():
    assert seed_count_label(rows({1.0: [0.1]})) == "one seed"
    assert seed_count_label(rows({1.0: [0.1, 0.2], 4.0: [0.1, 0.2, 0.3]})).endswith(
        "over 2–3 seeds"
    )


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


def test_welch_p_for_three_seeds_each_known_answer():
    """[0, 1, 2] against [2.1, 3.1, 4.1] and [3, 4, 5]: equal sds of 1, so Welch's
    t = Δ / sqrt(1/3 + 1/3) (2.572 and 3.674) with (2/3)² / (2 · (1/3)² / 2) = 4 degrees of
    freedom, and for 4 degrees of freedom the two-sided p is 1 − x (3 − x²) / 2 with
    x = t / sqrt(t² + 4): 0.0619 and 0.0213."""
    for other, delta in (([2.1, 3.1, 4.1], 2.1), ([3.0, 4.0, 5.0], 3.0)):
        t = delta / np.sqrt(2 / 3)
        x = t / np.sqrt(t * t + 4)
        assert welch_p([0.0, 1.0, 2.0], other) == pytest.approx(1 - x * (3 - x * x) / 2)
    assert welch_p([0.0, 1.0, 2.0], [2.1, 3.1, 4.1]) == pytest.approx(0.0619, abs=1e-4)
    assert welch_p([0.0, 1.0, 2.0], [3.0, 4.0, 5.0]) == pytest.approx(0.0213, abs=1e-4)
    assert welch_p([0.2, 0.2, 0.2], [0.2, 0.2, 0.2]) == 1.0
    assert welch_p([0.2, 0.2, 0.2], [0.3, 0.3, 0.3]) == 0.0


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


def test_holm_multiplies_the_kth_smallest_by_m_minus_k_plus_1_and_keeps_order():
    # sorted: 0.01 × 4 = 0.04, 0.02 × 3 = 0.06, 0.03 × 2 = 0.06, 0.5 × 1 = 0.5
    assert holm([0.03, 0.5, 0.01, 0.02]) == pytest.approx([0.06, 0.5, 0.04, 0.06])
    # made non-decreasing: 0.05 × 2 = 0.10 is raised to the smaller p's 0.04 × 3 = 0.12
    assert holm([0.05, 0.04, 0.9]) == pytest.approx([0.12, 0.12, 0.9])
    assert holm([0.4, 0.5]) == pytest.approx([0.8, 0.8]) and holm([0.6, 0.7]) == [1.0, 1.0]
    assert holm([]) == []


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


def test_failed_seeds_count_as_runs_not_as_values():
    data = rows({1.0: [0.2, 0.4]}) + [{"beta": 1.0, "seed": 9, "status": "failed", "mig": None}]
    (summary,) = summarise(data, ["mig"])
    assert (summary["runs"], summary["done"], summary["mig"].n) == (3, 2, 2)


def test_rank_sum_p_is_exact_for_separated_small_samples():
    """All of a above all of b, sizes 3 and 3: one of C(6, 3) = 20 equally likely rankings
    is this extreme on each side, so the two-sided p is 2/20 = 0.1."""
    assert rank_sum_p([5.0, 6.0, 7.0], [1.0, 2.0, 3.0]) == pytest.approx(0.1)
    assert rank_sum_p([1.0, 5.0, 6.0], [2.0, 3.0, 7.0]) > 0.5


def test_rank_correlation_is_spearmans_rho():
    """Ranks 1 2 3 4 against 1 3 2 4: Σd² = 2, so ρ = 1 − 6·2 / (4·(16 − 1)) = 0.8."""
    rho, p = rank_correlation([1.0, 2.0, 3.0, 4.0], [10.0, 30.0, 20.0, 40.0])
    assert rho == pytest.approx(0.8)
    assert 0.05 < p < 1.0  # four points: not evidence of a trend


def test_a_value_that_rounds_to_zero_prints_without_a_minus_sign():
    """A collapsed run's KL is float noise around 0 (−2e-9 nats): "-0.00" would read as a
    negative KL."""
    assert estimate([-1e-9, -2e-9, -3e-9]).text(2) == "0.00 ± 0.00 [0.00, 0.00]"
    assert estimate([-1e-9, -2e-9, -3e-9]).text(2, sd=False) == "0.00 [0.00, 0.00]"
