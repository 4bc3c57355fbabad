import numpy as np
import pytest

from kbetavae.data import factors as grid
from kbetavae.errors import InputError


def test_strides_put_posy_fastest_as_in_the_original_file():
    assert grid.strides().tolist() == [245760, 40960, 1024, 32, 1]
    assert grid.NUM_IMAGES == 737_280


def test_index_and_factors_are_inverse_over_the_whole_grid():
    index = np.arange(grid.NUM_IMAGES)
    assert np.array_equal(grid.index_of(grid.factors_of(index)), index)


def test_index_of_known_factor_vector():
    # 245760*2 + 40960*5 + 1024*39 + 32*31 + 31 is the last image.
    assert grid.index_of(np.array([[2, 5, 39, 31, 31]]))[0] == grid.NUM_IMAGES - 1
    assert grid.index_of(np.array([1, 0, 0, 0, 1]))[0] == 245761


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.array([[0, 6, 0, 0, 0]]), "factor 1 value 6 out of range"),
        (np.array([[0, 0, 0, -1, 0]]), "factor 3 value -1"),
        (np.zeros((2, 4), dtype=int), r"shape \(N, 5\)"),
        (np.array([[0.5, 0, 0, 0, 0]]), "integer"),
    ],
)
def test_bad_factors_name_the_problem(bad, message):
    with pytest.raises(InputError, match=message):
        grid.index_of(bad)


def test_bad_index_is_named():
    with pytest.raises(InputError, match="737280 out of range"):
        grid.factors_of(np.array([737_280]))
