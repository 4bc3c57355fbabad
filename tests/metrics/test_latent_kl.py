"""One per-latent KL everywhere (metrics.json's mean over the evaluation sample), and per
β from metrics.json records."""

from __future__ import annotations

import numpy as np
import pytest

from kbetavae.data import open_source
from kbetavae.errors import InputError
from kbetavae.metrics import Protocol, evaluate
from kbetavae.metrics.latent_kl import (
    kl_caption,
    kl_per_latent_by_beta,
    kl_table,
    recorded_kl,
    run_kl_per_latent,
    sample_kl,
)


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


def strip_encoder(images: np.ndarray):
    """mu: mean of 4 row strips (position-like); logvar varies with the image, so the KL
    differs between images and a single image's KL differs from the sample mean."""
    rows = images.reshape(len(images), 4, 16, 64).mean(axis=(2, 3))
    return 10.0 * rows, -rows


@pytest.fixture(scope="module")
def replica():
    return open_source("replica")


def test_sample_kl_equals_the_kl_evaluate_records_whatever_the_metrics(replica):
    record = evaluate(
        strip_encoder,
        replica,
        metrics=("mig", "zdiff", "modularity"),
        seed=3,
        protocol=Protocol(num_points=300, num_train=100, num_eval=50),
    )
    kl = sample_kl(strip_encoder, replica, num_points=300, seed=3)
    np.testing.assert_array_equal(kl, record["kl_per_latent"])


def test_sample_kl_is_a_mean_over_the_sample_not_one_image(replica):
    kl = sample_kl(strip_encoder, replica, num_points=300, seed=3)
    one = sample_kl(strip_encoder, replica, num_points=2, seed=3)
    assert kl.shape == (4,) and np.all(kl > 0)
    assert not np.allclose(kl, one)


def test_an_encoder_without_logvar_has_no_kl(replica):
    def mu_only(images):
        return images.reshape(len(images), 4, -1).mean(axis=2)

    assert sample_kl(mu_only, replica, num_points=200, seed=0) is None
    assert recorded_kl({"active_latents_method": "mu_variance", "kl_per_latent": [1.0]}) is None


def kl_record(kl, seed):
    return {"kl_per_latent": kl, "protocol": {"num_points": 10_000}, "seed": seed}


def test_kl_table_of_one_seed_keeps_the_latents_numbering():
    table = kl_table({4.0: [kl_record([0.0, 3.0, 1.0], 0)], 1.0: [kl_record([5.0, 1.0, 0.5], 0)]})
    assert list(table.values) == [1.0, 4.0]
    np.testing.assert_allclose(table.values[4.0], [0.0, 3.0, 1.0])
    assert table.labels == ["z0", "z1", "z2"]
    assert table.caption == "mean KL over 10,000 grid images, nats"
    assert kl_caption(200, 0) == "mean KL over 200 grid images (seed 0), nats"


def test_kl_table_of_several_seeds_ranks_each_runs_latents_before_averaging():
    # Seed 0 uses z0, seed 1 uses z1 for the same thing: averaged by index both latents
    # would look half-used (1.5 and 1.5); ranked, the most used latent has 3.0 in both.
    table = kl_table({4.0: [kl_record([3.0, 0.0], 0), kl_record([0.0, 3.0], 1)]})
    np.testing.assert_allclose(table.values[4.0], [3.0, 0.0])
    assert table.labels == ["#1", "#2"]
    assert table.caption == (
        "mean KL over 10,000 grid images, nats; latents ranked by KL within each run, "
        "then mean over up to 2 seeds"
    )


def test_kl_table_without_records_is_empty():
    assert kl_table({4.0: [{"active_latents_method": "mu_variance"}]}) == ({}, "", [])
