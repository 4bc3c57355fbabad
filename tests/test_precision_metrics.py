"""benchmarks.precision_metrics: two sweeps' metrics compared per β."""

from __future__ import annotations

import pytest

from benchmarks.precision_metrics import comparison_rows, markdown


def _rows(values: dict[int, float], extra_seed_value: float | None = None) -> list[dict]:
    rows = [{"beta": 1.0, "seed": s, "status": "done", "mig": v} for s, v in values.items()]
    if extra_seed_value is not None:  # a reference seed the candidate does not have
        rows.append({"beta": 1.0, "seed": 9, "status": "done", "mig": extra_seed_value})
    return rows


def test_matched_seeds_welch_and_the_reference_spread():
    """Reference [0, 1, 2], candidate [3, 4, 5] at seeds 0–2: Welch difference 3 with
    se² = 1/3 + 1/3, df 4, half-width t(0.975, 4) · √(2/3) = 2.7764 · 0.8165 = 2.267; the
    paired differences are all 3 (zero width). t = 3 / 0.8165 = 3.674 on 4 df: p = 0.021,
    one comparison, so Holm leaves it at 0.021 and it differs. Reference seed 9 (value 10)
    is outside the Welch test but inside the spread: every candidate value lies in [0, 10]."""
    table = comparison_rows(_rows({0: 0.0, 1: 1.0, 2: 2.0}, 10.0), _rows({0: 3.0, 1: 4.0, 2: 5.0}))
    (entry,) = table
    assert entry["welch"].delta == pytest.approx(3.0)
    assert (entry["welch"].low, entry["welch"].high) == pytest.approx((0.733, 5.267), abs=1e-3)
    assert entry["paired"].low == entry["paired"].high == pytest.approx(3.0)
    assert entry["spread"] == [0.0, 1.0, 2.0, 10.0]
    text = markdown(table, "fp32", "bf16")
    assert text.startswith("1 comparisons (βs × columns) over seeds 0, 1, 2; 1 differ")
    assert "| 0.021 (0.021) |" in text
    assert "; 0 have a bf16 value outside the fp32 range." in text
    assert text.splitlines()[-1].endswith("| 0.0000–10.0000 | yes |")


def test_a_candidate_value_beyond_the_spread_is_counted():
    table = comparison_rows(_rows({0: 0.0, 1: 1.0}), _rows({0: 0.5, 1: 7.0}))
    assert "; 1 have a bf16 value outside the fp32 range." in markdown(table, "fp32", "bf16")
