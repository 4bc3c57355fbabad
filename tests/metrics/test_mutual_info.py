"""Discrete MI and factor entropies: sklearn's plug-in estimate in nats, bit for bit."""

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from kbetavae.errors import InputError
from kbetavae.metrics.mutual_info import (
    contingency_table,
    factor_entropies,
    mutual_info_matrix,
)


def test_mutual_info_of_a_variable_with_itself_is_its_entropy_in_nats():
    # A balanced binary variable: I(x; x) = H(x) = log 2 nats.
    x = np.tile([0, 1], 500)[:, None]
    np.testing.assert_allclose(mutual_info_matrix(x, x), [[np.log(2)]], rtol=1e-12)


def test_independent_labels_have_zero_mutual_info():
    # Every combination of (a, b) equally often: the joint is the product of marginals.
    a, b = np.meshgrid(np.arange(4), np.arange(5), indexing="ij")
    assert mutual_info_matrix(a.reshape(-1, 1), b.reshape(-1, 1))[0, 0] == 0.0


def test_matrix_equals_sklearn_pair_by_pair_exactly():
    rng = np.random.default_rng(0)
    factors = rng.integers(0, [3, 6, 40], size=(2000, 3))
    codes = np.c_[factors[:, 2] // 2 + 1, rng.integers(1, 21, 2000), factors[:, 0] + 5]
    expected = [[mutual_info_score(f, c) for f in factors.T] for c in codes.T]
    np.testing.assert_array_equal(mutual_info_matrix(codes, factors), expected)


def test_entropies_equal_sklearn_and_log_of_the_class_count_when_uniform():
    factors = np.c_[np.repeat(np.arange(4), 25), np.arange(100) % 10 * 3]  # sparse labels
    h = factor_entropies(factors)
    np.testing.assert_array_equal(h, [mutual_info_score(f, f) for f in factors.T])
    np.testing.assert_allclose(h, np.log([4, 10]), rtol=1e-12)


def test_contingency_table_drops_labels_that_never_occur():
    table = contingency_table(np.array([0, 0, 5]), np.array([2, 7, 7]))
    np.testing.assert_array_equal(table, [[1, 1], [0, 1]])


def test_points_must_match():
    with pytest.raises(InputError, match="3 points but the codes have 2"):
        mutual_info_matrix(np.ones((2, 1), dtype=int), np.ones((3, 1), dtype=int))


def test_factors_must_be_class_indices():
    with pytest.raises(InputError, match="integer class indices"):
        factor_entropies(np.array([[0.5], [1.0]]))
