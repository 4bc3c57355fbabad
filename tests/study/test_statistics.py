"""Statistics over seeds: one seed is labelled as one seed; intervals decide comparisons."""

from __future__ import annotations

import numpy as np
import pytest

from kbetavae.study.results import results_markdown
from kbetavae.study.statistics import compare, estimate, seed_count_label, summarise


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


def test_the_interval_is_a_seeded_percentile_bootstrap_of_the_mean():
    values = [0.1, 0.2, 0.3, 0.4]
    result = estimate(values)
    assert result.mean == pytest.approx(0.25)
    assert result.sd == pytest.approx(np.std(values, ddof=1))
    # the bootstrap means of 4 values lie within [min, max], and the interval is reproducible
    assert 0.1 <= result.low < result.mean < result.high <= 0.4
    assert estimate(values) == result


def test_a_table_of_one_seed_never_claims_mean_and_sd():
    text = results_markdown(rows({1.0: [0.2], 4.0: [0.5]}))
    assert "one seed" in text
    assert "±" not in text and "mean" not in text.lower() and "sd" not in text
    assert "(one seed: each cell is that seed's value)" in text


def test_a_table_of_several_seeds_says_what_its_cells_are():
    text = results_markdown(rows({1.0: [0.2, 0.3, 0.25], 4.0: [0.5, 0.6, 0.55]}))
    assert "mean and 95 % bootstrap interval over 3 seeds" in text
    assert "| 1 | 3/3 |" in text and "| 0.2500 ± 0.0500 [" in text


def test_labels_count_the_seeds_per_beta():
    assert seed_count_label(rows({1.0: [0.1]})) == "one seed"
    assert seed_count_label(rows({1.0: [0.1, 0.2], 4.0: [0.1, 0.2, 0.3]})).endswith(
        "over 2–3 seeds"
    )


def test_compare_calls_a_difference_only_where_intervals_do_not_overlap():
    apart = rows({1.0: [0.10, 0.11, 0.12], 10.0: [0.40, 0.41, 0.42]})
    assert compare(apart, "mig", 1.0, 10.0).differ is True
    overlapping = rows({1.0: [0.1, 0.3, 0.5], 10.0: [0.2, 0.4, 0.6]})
    assert compare(overlapping, "mig", 1.0, 10.0).differ is False
    single = rows({1.0: [0.1], 10.0: [0.9]})
    comparison = compare(single, "mig", 1.0, 10.0)
    assert comparison.differ is None and "cannot be ordered" in comparison.text()


def test_two_seeds_order_nothing_however_far_apart():
    """With two values the percentile bootstrap interval of the mean is their range: the
    resampled means are a, (a + b) / 2 and b with chances 1/4, 1/2, 1/4, so the 2.5 % and
    97.5 % quantiles are a and b, an interval that misses the mean half the time."""
    two = rows({1.0: [0.10, 0.12], 10.0: [0.40, 0.42]})
    assert (estimate([0.10, 0.12]).low, estimate([0.10, 0.12]).high) == (0.10, 0.12)
    comparison = compare(two, "mig", 1.0, 10.0)
    assert comparison.differ is None
    assert "cannot be ordered (only 2 seeds)" in comparison.text()


def test_failed_seeds_count_as_runs_not_as_values():
    data = rows({1.0: [0.2, 0.4]}) + [{"beta": 1.0, "seed": 9, "status": "failed", "mig": None}]
    (summary,) = summarise(data, ["mig"])
    assert (summary["runs"], summary["done"], summary["mig"].n) == (3, 2, 2)
