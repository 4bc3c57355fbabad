"""Per-latent KL per β from metrics.json records."""

from __future__ import annotations

import numpy as np
import pytest

from kbetavae.errors import InputError
from kbetavae.metrics.latent_kl import kl_per_latent_by_beta, run_kl_per_latent


def record(kl, heldout=None):
    return {"kl_per_latent": kl, **({"heldout": {"kl_per_latent": heldout}} if heldout else {})}


def test_ranked_latents_average_the_kth_largest_kl_over_seeds():
    # Seed 0 uses z1, seed 1 uses z0: by index each latent averages a used and an unused
    # one ((2 + 0) / 2, (0.1 + 4) / 2); by rank the most used latent is (4 + 2) / 2 = 3.
    runs = [(4.0, record([0.1, 2.0])), (4.0, record([4.0, 0.0])), (1.0, record([5.0, 6.0]))]
    ranked = kl_per_latent_by_beta(runs)
    assert [row["beta"] for row in ranked] == [1.0, 4.0]
    assert ranked[0] == {
        "beta": 1.0,
        "n": 1,
        "kl_per_latent": [6.0, 5.0],
        "sd_per_latent": None,
        "order": "rank",
        "source": "points",
    }
    np.testing.assert_allclose(ranked[1]["kl_per_latent"], [3.0, 0.05])
    np.testing.assert_allclose(ranked[1]["sd_per_latent"], [np.sqrt(2.0), np.sqrt(0.005)])
    by_index = kl_per_latent_by_beta(runs, order="index")
    np.testing.assert_allclose(by_index[1]["kl_per_latent"], [2.05, 1.0])


def test_heldout_source_reads_the_heldout_entry_and_skips_runs_without_it():
    runs = [(2.0, record([1.0, 1.0], heldout=[0.5, 3.0])), (2.0, record([9.0, 9.0]))]
    (row,) = kl_per_latent_by_beta(runs, source="heldout")
    assert row["n"] == 1 and row["kl_per_latent"] == [3.0, 0.5]
    assert run_kl_per_latent({}, "points") is None


def test_bad_choices_and_mixed_widths_are_input_errors():
    with pytest.raises(InputError, match="order must be one of rank, index"):
        kl_per_latent_by_beta([], order="size")
    with pytest.raises(InputError, match="source must be one of points, heldout"):
        run_kl_per_latent({}, "train")
    with pytest.raises(InputError, match="different numbers of latents"):
        kl_per_latent_by_beta([(1.0, record([1.0])), (1.0, record([1.0, 2.0]))])
