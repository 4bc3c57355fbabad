"""Modularity: known answers on dSprites-shaped factors, degenerate cases, the reference."""

import json

import numpy as np
import pytest

from kbetavae.errors import InputError
from kbetavae.metrics.modularity import modularity, modularity_from_mutual_info


def test_modularity_is_near_one_when_each_latent_is_one_factor(fakes):
    # Latent k = factor k + small noise: its MI with factor k is 1-3 nats, with the others
    # only estimator bias (< 0.04 nats), so delta_k ~ (0.04 / 1)^2 and 1 - delta ~ 1.
    result = modularity(*fakes.sample(fakes.identity_encoder(), 10_000, seed=0))
    assert result.score > 0.99
    np.testing.assert_array_equal(result.top_factors, np.arange(5))


def test_random_codes_score_about_two_thirds(fakes):
    # Independent codes: MI(latent, factor k) is bias ~ (bins - 1)(classes_k - 1) / 2N,
    # so the squared MIs are in proportion (classes - 1)^2 = 2^2, 5^2, 39^2, 31^2, 31^2.
    # Orientation is the max: delta = (4 + 25 + 961 + 961) / (1521 * 4) = 0.32 and
    # modularity = 0.68; sampling noise in the MIs lowers it a little: about 0.66.
    result = modularity(*fakes.sample(fakes.random_encoder(), 10_000, seed=0))
    assert 0.60 < result.score < 0.72


def test_five_constant_latents_halve_the_score(fakes):
    # The five constant latents have zero MI, score 0 and stay in the mean over 10
    # latents; the five informative ones are binned and scored exactly as before.
    codes, factors = fakes.sample(fakes.identity_encoder(), 10_000, seed=0)
    padded, _ = fakes.sample(fakes.padded_encoder(), 10_000, seed=0)
    full = modularity(codes, factors)
    half = modularity(padded, factors)
    assert half.score == pytest.approx(full.score / 2, rel=1e-12)
    np.testing.assert_array_equal(half.per_latent[5:], 0.0)
    np.testing.assert_array_equal(half.top_factors[5:], -1)


def test_rotation_lowers_modularity(fakes):
    # Each rotated latent mixes several factors, so its MI spreads over them.
    clean = modularity(*fakes.sample(fakes.identity_encoder(), 10_000, seed=0))
    rotated = modularity(*fakes.sample(fakes.rotated_encoder(), 10_000, seed=0))
    assert rotated.score < clean.score - 0.05


def test_collapsed_encoder_scores_zero_without_nan(fakes):
    with np.errstate(all="raise"):  # no 0/0 is evaluated along the way
        result = modularity(*fakes.sample(fakes.collapsed_encoder(), 10_000, seed=0))
    assert result.score == 0.0
    np.testing.assert_array_equal(result.per_latent, 0.0)


def test_modularity_from_a_hand_made_matrix():
    # Latent 0 is pure (1 - 0); latent 1 spreads evenly: delta = (2 * 1) / (1 * 2) = 1,
    # modularity 0; latent 2 has m = (2, 1, 0): delta = 1 / (4 * 2) = 1/8 -> 0.875.
    result = modularity_from_mutual_info(np.array([[3.0, 0, 0], [1, 1, 1], [2, 1, 0]]))
    np.testing.assert_allclose(result.per_latent, [1.0, 0.0, 0.875])
    assert result.score == pytest.approx(1.875 / 3)


def test_one_factor_is_an_input_error():
    with pytest.raises(InputError, match="K >= 2"):
        modularity_from_mutual_info(np.ones((3, 1)))


def test_to_dict_is_json_and_repeatable(fakes):
    codes, factors = fakes.sample(fakes.rotated_encoder(), 2_000, seed=0)
    first = json.dumps(modularity(codes, factors).to_dict(), allow_nan=False)
    assert first == json.dumps(modularity(codes, factors).to_dict(), allow_nan=False)


@pytest.mark.parametrize("encoder", ["identity", "rotated", "random", "collapsed", "padded"])
def test_modularity_equals_disentanglement_lib_on_the_same_arrays(fakes, reference, encoder):
    codes, factors = fakes.sample(getattr(fakes, f"{encoder}_encoder")(), 10_000, seed=0)
    utils = reference["utils"]
    with np.errstate(divide="ignore", invalid="ignore"):  # the reference divides 0 by 0
        mi = utils.discrete_mutual_info(utils.make_discretizer(codes.T), factors.T)
        expected = reference["modularity_explicitness"].modularity(mi)
    assert modularity(codes, factors).score == pytest.approx(expected, abs=1e-6)


# --- modularity over the active latents only ---------------------------------------------


def evaluated(fakes, encoder, num_points=10_000, seed=0):
    """Modularity's registry entry as evaluate computes it, and the inputs it saw."""
    from kbetavae.metrics import Protocol, registry
    from kbetavae.metrics.inputs import EvaluationInputs

    protocol = Protocol(num_points=num_points)
    inputs = EvaluationInputs(fakes.FactorImages(), encoder, protocol, seed, 1024)
    return registry.spec("modularity").compute(inputs), inputs


def test_active_score_ignores_switched_off_latents(fakes):
    # Five identity latents (each ~1, see the first test) and five switched-off ones whose
    # jitter is binned over its own range: random codes, ~0.66 each (see the random-codes
    # test). All ten: (5 * 1 + 5 * 0.66) / 10 ~ 0.83. Binning is per latent, so the active
    # five score exactly what the identity code alone scores on the same points.
    result, inputs = evaluated(fakes, fakes.switched_off_encoder())
    np.testing.assert_array_equal(result.active, [True] * 5 + [False] * 5)
    assert 0.78 < result.score < 0.88
    alone = modularity(inputs.codes[:, :5], inputs.factors)
    assert alone.score > 0.99
    assert result.active_score == alone.score


def test_the_mu_variance_rule_finds_the_same_active_latents(fakes):
    # Without log-variances the rule is 0.5 * Var(mu) > 0.01: jitter 1e-3 gives 5e-7.
    encoder = fakes.switched_off_encoder()
    result, _ = evaluated(fakes, encoder.mu)
    np.testing.assert_array_equal(result.active, [True] * 5 + [False] * 5)
    assert result.active_score > 0.99


@pytest.mark.parametrize("encoder", ["random", "rotated"])
def test_active_score_equals_the_score_when_every_latent_is_active(fakes, encoder):
    # Random codes: logvar 0 and mu ~ N(0, 1), mean KL = E[mu^2] / 2 ~ 0.5 nats; rotated
    # codes move by whole factor ranges: every latent is active, the two means coincide.
    result, _ = evaluated(fakes, getattr(fakes, f"{encoder}_encoder")())
    assert result.active.all()
    assert result.active_score == result.score


def test_active_score_of_a_collapsed_encoder_is_undefined(fakes):
    # mu = 0 and logvar = 0 for every image: KL exactly 0, no latent is active, no mean.
    result, _ = evaluated(fakes, fakes.collapsed_encoder())
    assert not result.active.any()
    assert result.score == 0.0
    assert np.isnan(result.active_score)
    assert json.loads(json.dumps(result.to_dict(), allow_nan=False))["active_score"] is None


def test_active_score_from_a_hand_made_matrix():
    # Per latent 1, 0, 0.875 (see above); latents 0 and 2 active: (1 + 0.875) / 2.
    mi = np.array([[3.0, 0, 0], [1, 1, 1], [2, 1, 0]])
    result = modularity_from_mutual_info(mi, np.array([True, False, True]))
    assert result.active_score == pytest.approx(0.9375)
    assert result.score == pytest.approx(1.875 / 3)


def test_an_active_mask_of_the_wrong_shape_is_an_input_error():
    with pytest.raises(InputError, match="active must be a bool mask of shape \\(3,\\)"):
        modularity_from_mutual_info(np.ones((3, 2)), np.array([True, False]))
