"""SAP: known answers, degenerate cases, and the reference (same arrays and sampled)."""

import json

import numpy as np
import pytest

from kbetavae.errors import InputError
from kbetavae.metrics.sap import sap


def samples(fakes, encoder, num_train=10_000, num_test=5_000):
    train_codes, train_factors = fakes.sample(encoder, num_train, seed=0)
    test_codes, test_factors = fakes.sample(encoder, num_test, seed=1)
    return train_codes, train_factors, test_codes, test_factors


def test_each_factor_is_best_predicted_by_its_own_latent(fakes):
    # A 1-D linear SVM (one-vs-rest) on latent k = factor k separates shape's 3 classes
    # almost perfectly; for 32-40 classes a single threshold per class only isolates
    # the ends, so accuracy stays low, but still above an uninformative latent, which
    # does no better than one class in K. So latent k tops column k everywhere.
    result = sap(*samples(fakes, fakes.identity_encoder()))
    np.testing.assert_array_equal(result.top_latents, np.arange(5))
    assert result.gaps[0] > 0.5  # shape
    assert result.score > 0.15


def test_random_codes_score_about_zero(fakes):
    # No latent predicts any factor: all accuracies are chance, gaps are noise.
    assert sap(*samples(fakes, fakes.random_encoder(), 3_000, 2_000)).score < 0.02


def test_collapsed_encoder_scores_exactly_zero(fakes):
    # Identical constant latents get identical classifiers and accuracies: every gap is 0.
    result = sap(*samples(fakes, fakes.collapsed_encoder(), 2_000, 1_000))
    assert result.score == 0.0
    json.dumps(result.to_dict(), allow_nan=False)


def test_nan_codes_are_an_input_error(fakes):
    train_codes, train_factors, test_codes, test_factors = samples(
        fakes, fakes.identity_encoder(), 50, 20
    )
    test_codes[0, 0] = np.inf
    with pytest.raises(InputError, match="test_codes contain 1 non-finite"):
        sap(train_codes, train_factors, test_codes, test_factors)


def test_sap_equals_disentanglement_lib_on_the_same_arrays(fakes, reference):
    train_codes, train_factors, test_codes, test_factors = samples(
        fakes, fakes.rotated_encoder(), 3_000, 1_000
    )
    expected = reference["sap_score"]._compute_sap(
        train_codes.T, train_factors.T, test_codes.T, test_factors.T, continuous_factors=False
    )["SAP_score"]
    ours = sap(train_codes, train_factors, test_codes, test_factors).score
    assert ours == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("encoder", ["identity", "rotated"])
def test_sap_agrees_with_disentanglement_lib_within_0_02(fakes, reference, encoder):
    # Same encoder and data, full protocol (10,000 / 5,000); different random draws.
    make = getattr(fakes, f"{encoder}_encoder")
    expected = reference["sap_score"].compute_sap(
        fakes.ReferenceGroundTruth(),
        make().mu,
        np.random.RandomState(0),
        num_train=10_000,
        num_test=5_000,
        continuous_factors=False,
    )["SAP_score"]
    assert sap(*samples(fakes, make())).score == pytest.approx(expected, abs=0.02)
