"""Per-latent histogram discretisation: disentanglement_lib's bins, label for label."""

import numpy as np
import pytest

from kbetavae.errors import InputError
from kbetavae.metrics.discretize import histogram_discretize


def reference_discretize(codes, num_bins):
    # disentanglement_lib's _histogram_discretize, written against (N, z) codes.
    return np.stack([np.digitize(c, np.histogram(c, num_bins)[1][:-1]) for c in codes.T], axis=1)


def test_labels_equal_histogram_then_digitize_for_every_latent():
    codes = np.random.default_rng(0).standard_normal((5000, 7)) * [1, 2, 3, 1e-3, 1e3, 5, 0.1]
    np.testing.assert_array_equal(histogram_discretize(codes), reference_discretize(codes, 20))


def test_labels_run_from_one_to_num_bins_with_the_maximum_in_the_last_bin():
    # Equal-width bins over [0, 1]: 0 opens bin 1, the maximum closes bin 20 (not 21).
    codes = np.linspace(0.0, 1.0, 101)[:, None]
    labels = histogram_discretize(codes)
    assert labels.min() == 1 and labels.max() == 20
    assert labels[-1, 0] == 20


def test_each_latent_is_binned_over_its_own_range():
    # Scaling one latent by 1000 does not change its labels.
    codes = np.random.default_rng(1).uniform(size=(1000, 2))
    scaled = codes * [1.0, 1000.0]
    np.testing.assert_array_equal(histogram_discretize(codes), histogram_discretize(scaled))


def test_a_constant_latent_falls_in_a_single_bin():
    codes = np.c_[np.full(100, 3.5), np.arange(100.0)]
    labels = histogram_discretize(codes)
    assert np.unique(labels[:, 0]).size == 1
    np.testing.assert_array_equal(labels, reference_discretize(codes, 20))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_codes_are_an_input_error(bad):
    codes = np.zeros((10, 3))
    codes[4, 2] = bad
    with pytest.raises(InputError, match="non-finite.*point 4, latent 2"):
        histogram_discretize(codes)


@pytest.mark.parametrize("shape", [(10,), (0, 3), (2, 3, 4)])
def test_codes_must_be_points_by_latents(shape):
    with pytest.raises(InputError, match="codes"):
        histogram_discretize(np.zeros(shape))
