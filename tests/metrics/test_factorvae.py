"""The FactorVAE score: known answers, pruning, degenerate cases, the reference."""

import json

import numpy as np
import pytest

from kbetavae.metrics.factorvae import factorvae_score
from kbetavae.metrics.protocol import Protocol

SMALL = Protocol(num_train=1_000, num_eval=500, num_variance_points=2_000)


def test_score_is_one_when_each_factor_has_its_own_latent(fakes):
    # Fixing factor k leaves latent k with noise variance 0.01 against a global variance
    # of (classes^2 - 1) / 12 >= 0.67; every other latent keeps its global variance. So
    # every vote goes to (k, latent k) and the majority vote is right every time.
    result = factorvae_score(fakes.FactorImages(), fakes.identity_encoder(), 0, SMALL)
    assert result.score == 1.0
    assert np.count_nonzero(result.matrix - np.diag(np.diag(result.matrix))) == 0
    np.testing.assert_array_equal(result.classifier, np.arange(5))


def test_constant_latents_are_pruned_and_change_nothing(fakes):
    # The five extra latents never move (std 0 < 0.05): pruned, they get no votes.
    result = factorvae_score(fakes.FactorImages(), fakes.padded_encoder(), 0, SMALL)
    assert result.score == 1.0
    np.testing.assert_array_equal(result.active_latents, [True] * 5 + [False] * 5)
    np.testing.assert_array_equal(result.matrix[5:], 0)


def test_random_codes_score_about_chance(fakes):
    # Votes land on random latents whatever the factor; the majority vote is a guess.
    result = factorvae_score(fakes.FactorImages(), fakes.random_encoder(), 0, SMALL)
    assert result.score == pytest.approx(0.2, abs=0.06)


def test_collapsed_encoder_scores_zero(fakes):
    # Every latent is pruned, nothing can vote: 0 by definition (as the reference).
    result = factorvae_score(fakes.FactorImages(), fakes.collapsed_encoder(), 0, SMALL)
    assert result.score == 0.0
    assert not result.active_latents.any()
    json.dumps(result.to_dict(), allow_nan=False)


def test_same_seed_gives_bit_identical_results(fakes):
    ground_truth, encoder = fakes.FactorImages(), fakes.rotated_encoder()
    first = factorvae_score(ground_truth, encoder, 5, SMALL).to_dict()
    assert json.dumps(first) == json.dumps(
        factorvae_score(ground_truth, encoder, 5, SMALL).to_dict()
    )


@pytest.mark.parametrize("encoder", ["identity", "rotated", "random"])
def test_factorvae_agrees_with_disentanglement_lib_within_0_02(fakes, reference, encoder):
    # Full protocol; different random draws, so agreement is up to sampling noise.
    make = getattr(fakes, f"{encoder}_encoder")
    expected = reference["factor_vae"].compute_factor_vae(
        fakes.ReferenceGroundTruth(),
        make().mu,
        np.random.RandomState(0),
        batch_size=64,
        num_train=10_000,
        num_eval=5_000,
        num_variance_estimate=10_000,
    )["eval_accuracy"]
    assert factorvae_score(fakes.FactorImages(), make(), 0).score == pytest.approx(
        expected, abs=0.02
    )
