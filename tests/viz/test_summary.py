"""Per-β statistics behind every figure and table: one seed is a value, n > 1 an interval."""

import math

import numpy as np
from scipy import stats

from kbetavae.viz.summary import summary_rows


def _rows(values_by_beta):
    return [
        {"beta": beta, "seed": seed, "status": "done", "mig": value}
        for beta, values in values_by_beta.items()
        for seed, value in enumerate(values)
    ]


def test_one_seed_is_its_value_with_no_spread():
    (entry,) = summary_rows(_rows({4.0: [0.25]}), ["mig"])
    stat = entry["stats"]["mig"]
    assert stat.n == 1 and stat.mean == 0.25
    assert stat.sd is None and stat.low is None and stat.high is None


def test_several_seeds_get_mean_sd_a_t_interval_and_a_bootstrap_one_inside_their_range():
    values = [0.1, 0.2, 0.4]
    (entry,) = summary_rows(_rows({4.0: values}), ["mig"])
    stat = entry["stats"]["mig"]
    assert stat.n == 3
    assert math.isclose(stat.mean, np.mean(values))
    assert math.isclose(stat.sd, np.std(values, ddof=1))
    half = stats.t.ppf(0.975, 2) * stat.sd / math.sqrt(3)
    assert np.allclose([stat.low, stat.high], [stat.mean - half, stat.mean + half])
    # The mean of a resample lies between the smallest and largest value (up to rounding).
    assert min(values) - 1e-12 <= stat.boot_low < stat.mean < stat.boot_high <= max(values) + 1e-12


def test_two_seeds_bootstrap_interval_spans_both_values():
    # Resampling two values gives means a, (a+b)/2, b with probabilities 1/4, 1/2, 1/4:
    # the 2.5 and 97.5 percentiles are a and b.
    (entry,) = summary_rows(_rows({1.0: [0.3, 0.5]}), ["mig"])
    stat = entry["stats"]["mig"]
    assert np.isclose(stat.boot_low, 0.3) and np.isclose(stat.boot_high, 0.5)


def test_failed_runs_and_non_finite_values_do_not_count():
    rows = _rows({1.0: [0.3, 0.5]})
    rows.append({"beta": 1.0, "seed": 2, "status": "failed", "mig": 0.9})
    rows.append({"beta": 1.0, "seed": 3, "status": "done", "mig": float("nan")})
    (entry,) = summary_rows(rows, ["mig"])
    assert entry["runs"] == 4 and entry["done"] == 3
    assert entry["stats"]["mig"].n == 2


def test_betas_come_out_ascending_and_a_column_without_values_is_absent():
    rows = _rows({10.0: [0.1], 0.5: [0.2]})
    rows.append({"beta": 2.0, "seed": 0, "status": "failed", "reason": "nan"})
    entries = summary_rows(rows)
    assert [e["beta"] for e in entries] == [0.5, 2.0, 10.0]
    assert entries[1]["stats"] == {} and set(entries[0]["stats"]) == {"mig"}
