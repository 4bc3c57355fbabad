"""MIG: known answers on dSprites-shaped factors, degenerate cases, and the reference.

Factors are the dSprites class indices (3/6/40/32/32); codes come from the fakes in
``metric_fakes`` evaluated on 10,000 uniform grid points (the protocol's sample size).
"""

import json

import numpy as np
import pytest

from kbetavae.errors import InputError
from kbetavae.metrics.mig import mig


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
