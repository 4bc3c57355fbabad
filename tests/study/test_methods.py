"""A grid's answers: best setting per method, methods compared at matched seeds, UDR's
agreement with the supervised metrics, and the run each score picks."""

from __future__ import annotations

import pytest

from kbetavae.study.methods import (
    agreement,
    best_settings,
    compare_methods,
    methods_markdown,
    picks,
)
from kbetavae.study.results import results_markdown


def grid_rows(shift: float = 0.3) -> list[dict]:
    """β-VAE at β = 1, 4 and β-TCVAE at β = 4, three seeds; β-TCVAE's MIG is ``shift``
    above β = 4's at every seed, and UDR rises with MIG."""
    rows = []
    for objective, weight, name, base in (
        ("beta", 1.0, "beta=1", 0.1),
        ("beta", 4.0, "beta=4", 0.2),
        ("btcvae", 4.0, "btcvae_beta=4", 0.2 + shift),
    ):
        for seed in range(3):
            mig = base + 0.01 * seed * (1 + seed)
            rows.append(
                {
                    "setting": name,
                    "objective": objective,
                    "weight": weight,
                    "beta": weight,
                    "seed": seed,
                    "status": "done",
                    "mig": mig,
                    "udr_lasso": mig / 2,
                }
            )
    return rows


def test_each_method_gets_its_best_setting_with_an_interval():
    best = best_settings(grid_rows(), "mig")
    assert [(b.objective, b.setting, b.estimate.n) for b in best] == [
        ("beta", "beta=4", 3),
        ("btcvae", "btcvae_beta=4", 3),
    ]
    assert best[0].estimate.low < best[0].estimate.mean < best[0].estimate.high


def test_methods_are_compared_at_matched_seeds():
    (comparison,) = compare_methods(grid_rows(), "mig")
    assert (comparison.a, comparison.b) == ("beta=4", "btcvae_beta=4")
    # the same seed shift in both: the paired difference is exact, Welch's is not
    assert comparison.paired.delta == pytest.approx(0.3)
    assert comparison.paired_differ is True
    assert "btcvae_beta=4 higher" in comparison.text()
    (same,) = compare_methods(grid_rows(shift=0.0), "mig")
    assert same.differ is False


def test_the_comparison_table_gives_both_tests_and_bolds_what_each_orders():
    text = methods_markdown(grid_rows(), ["mig"], [])
    (row,) = [line for line in text.splitlines() if line.startswith("| beta=4 – btcvae_beta=4")]
    _, welch, paired, _ = (cell.strip() for cell in row.split("|")[1:])
    # Welch: both settings' MIG are 0.2 + {0, 0.02, 0.06} (+ 0.3): sd 0.0306 each, so
    # se = 0.0306·√(2/3) = 0.0249 on 4 df and the interval is 0.3 ± 2.776·0.0249.
    assert welch.startswith("**+0.300 [+0.231, +0.369], p < 0.001")
    # Paired: the shift is the same at every seed, so the difference has no spread.
    assert paired.startswith("**+0.300 [+0.300, +0.300]")
    same = methods_markdown(grid_rows(shift=0.0), ["mig"], [])
    assert "+0.000 [-0.069, +0.069], p 1.000, Holm 1.000 |" in same


def test_an_untested_pair_says_why_for_each_test():
    # β = 4 at seeds 0-2, β-TCVAE at seeds 1-3: three seeds each, two of them shared.
    rows = [r for r in grid_rows() if r["setting"] != "beta=1"]
    rows += [{**r, "seed": 3} for r in rows if r["setting"] == "btcvae_beta=4" and r["seed"] == 0]
    rows = [r for r in rows if not (r["setting"] == "btcvae_beta=4" and r["seed"] == 0)]
    (row,) = [
        line
        for line in methods_markdown(rows, ["mig"], []).splitlines()
        if line.startswith("| beta=4 – ")
    ]
    assert row.endswith("| — (fewer than 3 matched seeds) |")
    one_seed = [r for r in rows if r["setting"] == "beta=4" or r["seed"] == 1]
    (row,) = [
        line
        for line in methods_markdown(one_seed, ["mig"], []).splitlines()
        if line.startswith("| beta=4 – ")
    ]
    assert row.endswith("| — (one seed: no spread) | — (one seed: no spread) |")


def test_a_score_that_ranks_runs_as_mig_does_agrees_with_it():
    found = agreement(grid_rows(), "udr_lasso", "mig")
    assert found.n == 9 and found.rho == pytest.approx(1.0)
    assert found.low == pytest.approx(1.0) and found.high == pytest.approx(1.0)
    flipped = [{**r, "udr_lasso": -r["udr_lasso"]} for r in grid_rows()]
    assert agreement(flipped, "udr_lasso", "mig").rho == pytest.approx(-1.0)
    assert agreement(grid_rows()[:2], "udr_lasso", "mig") is None  # fewer than 3 runs


def test_each_score_picks_one_run_per_method():
    chosen = {p.objective: (p.row["setting"], p.row["seed"]) for p in picks(grid_rows(), "mig")}
    assert chosen == {"beta": ("beta=4", 2), "btcvae": ("btcvae_beta=4", 2)}


def test_the_methods_section_is_a_grids_only():
    text = methods_markdown(grid_rows(), ["mig"], ["udr_lasso"])
    assert "### Best setting per method: mig" in text
    assert "| udr_lasso picks | mig picks |" in text
    assert "## Methods" in results_markdown(grid_rows())
    beta_only = [
        {k: v for k, v in r.items() if k not in ("setting", "objective", "weight")}
        for r in grid_rows()
        if r["objective"] == "beta"
    ]
    markdown = results_markdown(beta_only)
    assert "## Methods" not in markdown and "## Summary per β" in markdown
