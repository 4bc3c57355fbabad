"""Statistics over seeds: one seed is labelled as one seed; Student-t intervals of means and
of differences (Welch–Satterthwaite, paired)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from kbetavae.study.results import results_markdown
from kbetavae.study.statistics import (
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

from .metric_rows import rows


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


def test_holm_multiplies_the_kth_smallest_by_m_minus_k_plus_1_and_keeps_order():
    # sorted: 0.01 × 4 = 0.04, 0.02 × 3 = 0.06, 0.03 × 2 = 0.06, 0.5 × 1 = 0.5
    assert holm([0.03, 0.5, 0.01, 0.02]) == pytest.approx([0.06, 0.5, 0.04, 0.06])
    # made non-decreasing: 0.05 × 2 = 0.10 is raised to the smaller p's 0.04 × 3 = 0.12
    assert holm([0.05, 0.04, 0.9]) == pytest.approx([0.12, 0.12, 0.9])
    assert holm([0.4, 0.5]) == pytest.approx([0.8, 0.8]) and holm([0.6, 0.7]) == [1.0, 1.0]
    assert holm([]) == []


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
