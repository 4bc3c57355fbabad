"""MIG: known answers on dSprites-shaped factors, degenerate cases, and the reference.

Factors are the dSprites class indices (3/6/40/32/32); codes come from the fakes in
``metric_fakes`` evaluated on 10,000 uniform grid points (the protocol's sample size).
"""

import json

import numpy as np
import pytest

from kbetavae.errors import InputError
from kbetavae.metrics.mig import mig, mig_from_mutual_info


def test_mig_is_one_for_codes_that_are_the_factors():
    # Each latent is a factor exactly, 20 bins resolve factors of <= 20 classes, and on the
    # full product grid the factors are exactly independent: MI = H(factor) with its own
    # latent and exactly 0 with the others, so every gap is H / H = 1.
    grid = np.meshgrid(np.arange(3), np.arange(6), np.arange(20), indexing="ij")
    factors = np.stack([g.ravel() for g in grid], axis=1)
    result = mig(factors.astype(float), factors)
    np.testing.assert_allclose(result.gaps, 1.0, rtol=1e-12)
    assert result.score == pytest.approx(1.0)
    np.testing.assert_array_equal(result.top_latents, [0, 1, 2])


def test_mig_is_high_for_factors_plus_small_noise(fakes):
    # Latent k = factor k + N(0, 0.1^2). Shape and scale fit in 20 bins: gap = H, ratio 1.
    # Orientation's 40 classes share 20 bins two by two: MI = log 20, ratio
    # log 20 / log 40 = 0.81. posX/posY's 32 classes in 20 bins: ratio ~ 0.85. Other latents'
    # MI is estimator bias (~0.03 nats). Mean ~ (1 + 1 + 0.81 + 0.85 + 0.85) / 5 = 0.90.
    codes, factors = fakes.sample(fakes.identity_encoder(), 10_000, seed=0)
    result = mig(codes, factors)
    assert result.score == pytest.approx(0.90, abs=0.02)
    np.testing.assert_array_equal(result.top_latents, np.arange(5))
    np.testing.assert_allclose(result.gaps[:2], 1.0, atol=0.01)
    assert result.gaps[2] == pytest.approx(np.log(20) / np.log(40), abs=0.02)


def test_mig_is_near_zero_for_random_codes(fakes):
    # Codes independent of the factors: every MI is bias of the same size (~ bins x
    # classes / 2N), the top two latents differ by noise only; gaps are ~1e-3 nats / H.
    codes, factors = fakes.sample(fakes.random_encoder(), 10_000, seed=0)
    assert 0.0 <= mig(codes, factors).score < 0.01


def test_mig_drops_when_the_informative_latents_are_rotated(fakes):
    # A random rotation spreads every factor over all five latents: no latent stands
    # out, so the gap (best minus second best) collapses although the code is just as
    # informative (the MI of the best latent stays clearly above zero).
    clean = mig(*fakes.sample(fakes.identity_encoder(), 10_000, seed=0))
    rotated = mig(*fakes.sample(fakes.rotated_encoder(), 10_000, seed=0))
    assert rotated.score < 0.25 * clean.score
    assert rotated.mutual_info.max() > 0.3


def test_mig_is_exactly_zero_for_a_collapsed_encoder(fakes):
    # Constant latents fall in one bin each: all MI = 0, every gap 0 / H(factor) = 0.
    codes, factors = fakes.sample(fakes.collapsed_encoder(), 10_000, seed=0)
    result = mig(codes, factors)
    assert result.score == 0.0
    assert not np.isnan(result.matrix).any()


def test_matrix_is_mutual_info_over_factor_entropy(fakes):
    codes, factors = fakes.sample(fakes.identity_encoder(), 2_000, seed=3)
    result = mig(codes, factors)
    assert result.matrix.shape == (5, 5)
    np.testing.assert_allclose(result.matrix * result.entropies, result.mutual_info)


def test_same_inputs_give_bit_identical_results(fakes):
    codes, factors = fakes.sample(fakes.rotated_encoder(), 5_000, seed=4)
    first, second = mig(codes, factors), mig(codes.copy(), factors.copy())
    assert json.dumps(first.to_dict()) == json.dumps(second.to_dict())


def test_to_dict_is_json(fakes):
    result = mig(*fakes.sample(fakes.identity_encoder(), 1_000, seed=0)).to_dict()
    parsed = json.loads(json.dumps(result, allow_nan=False))
    assert set(parsed) == {"score", "gaps", "matrix", "top_latents", "mutual_info", "entropies"}
    assert len(parsed["matrix"]) == 5 and len(parsed["matrix"][0]) == 5


def test_nan_codes_are_an_input_error(fakes):
    codes, factors = fakes.sample(fakes.identity_encoder(), 100, seed=0)
    codes[7, 3] = np.nan
    with pytest.raises(InputError, match="non-finite"):
        mig(codes, factors)


def test_mismatched_points_are_an_input_error(fakes):
    codes, factors = fakes.sample(fakes.identity_encoder(), 100, seed=0)
    with pytest.raises(InputError, match="99 points but the codes have 100"):
        mig(codes, factors[:99])


def test_a_factor_with_one_value_is_an_input_error_not_nan(fakes):
    codes, factors = fakes.sample(fakes.identity_encoder(), 100, seed=0)
    factors[:, 1] = 2
    with pytest.raises(InputError, match="factor 1 takes a single value"):
        mig(codes, factors)


def test_one_latent_is_an_input_error():
    with pytest.raises(InputError, match="at least 2 latents"):
        mig(np.zeros((10, 1)), np.zeros((10, 2), dtype=int))


@pytest.mark.parametrize("encoder", ["identity", "rotated", "random", "collapsed"])
def test_mig_equals_disentanglement_lib_on_the_same_arrays(fakes, reference, encoder):
    codes, factors = fakes.sample(getattr(fakes, f"{encoder}_encoder")(), 10_000, seed=0)
    expected = reference["mig"]._compute_mig(codes.T, factors.T)["discrete_mig"]
    assert mig(codes, factors).score == pytest.approx(expected, abs=1e-6)


# --- protocol variants (MIG_VARIANTS) -------------------------------------------------------


def test_the_default_variant_is_the_protocol_bit_for_bit(fakes):
    codes, factors = fakes.sample(fakes.rotated_encoder(), 5_000, seed=4)
    plain, named = mig(codes, factors), mig(codes, factors, variant="disentanglement_lib")
    assert json.dumps(plain.to_dict()) == json.dumps(named.to_dict())


def test_an_unknown_variant_is_one_input_error_line_listing_the_variants():
    with pytest.raises(InputError) as error:
        mig_from_mutual_info(np.eye(2), np.ones(2), variant="top_mi")
    expected = "MIG variant must be one of disentanglement_lib, top-mi, got 'top_mi'"
    assert str(error.value) == expected


def test_top_mi_is_the_gap_over_the_top_latents_mi():
    # Factor 0: top latent m1 = 0.6, second m2 = 0.2 -> (0.6 - 0.2) / 0.6 = 2/3, where
    # the protocol divides by H = 1.5: 0.4 / 1.5. Factor 1: one informative latent (m2 = 0)
    # -> 1 however small m1 = 0.1 is (the protocol: 0.1 / 2.0).
    mi = np.array([[0.6, 0.0], [0.2, 0.1], [0.05, 0.0]])
    entropies = np.array([1.5, 2.0])
    top = mig_from_mutual_info(mi, entropies, variant="top-mi")
    np.testing.assert_allclose(top.gaps, [2 / 3, 1.0])
    np.testing.assert_allclose(mig_from_mutual_info(mi, entropies).gaps, [0.4 / 1.5, 0.05])
    np.testing.assert_allclose(top.matrix, mi / entropies)  # the matrix is MI / H either way


def test_top_mi_is_one_for_codes_that_are_the_factors():
    # m1 = H and m2 = 0 exactly (the full product grid, as the protocol's test): (H - 0) / H.
    grid = np.meshgrid(np.arange(3), np.arange(6), np.arange(20), indexing="ij")
    factors = np.stack([g.ravel() for g in grid], axis=1)
    assert mig(factors.astype(float), factors, variant="top-mi").score == pytest.approx(1.0)


def test_top_mi_is_at_least_mig_and_near_one_when_bins_lose_part_of_a_factor(fakes):
    # Factors + N(0, 0.1^2): orientation's 40 classes in 20 bins give m1 = log 20 < H = log
    # 40, so MIG's gap is 0.81 but top-mi's is 1 - m2 / m1 with m2 the ~0.03 nats of bias:
    # ~0.99. m1 <= H makes top-mi >= MIG factor by factor for any code.
    codes, factors = fakes.sample(fakes.identity_encoder(), 10_000, seed=0)
    protocol, top = mig(codes, factors), mig(codes, factors, variant="top-mi")
    assert np.all(top.gaps >= protocol.gaps - 1e-12)  # equal where m1 = H, up to rounding
    assert protocol.gaps[2] == pytest.approx(0.81, abs=0.02)
    assert top.gaps[2] == pytest.approx(0.99, abs=0.01)


def test_top_mi_of_random_codes_is_a_ratio_of_bias_not_zero(fakes):
    # Every MI is estimator bias of about the same size, so MIG's gaps are ~1e-3 nats / H,
    # but (m1 - m2) / m1 compares two noisy biases: of order 0.1 (0.105 on this sample).
    codes, factors = fakes.sample(fakes.random_encoder(), 10_000, seed=0)
    assert mig(codes, factors).score < 0.01
    assert 0.03 < mig(codes, factors, variant="top-mi").score < 0.3


def test_top_mi_of_a_collapsed_encoder_is_zero_not_nan(fakes):
    # Every MI is exactly 0, so m1 = 0: the gap 0 / 0 is taken as 0.
    codes, factors = fakes.sample(fakes.collapsed_encoder(), 1_000, seed=0)
    result = mig(codes, factors, variant="top-mi")
    assert result.score == 0.0 and not np.isnan(result.gaps).any()
