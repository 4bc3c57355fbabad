"""The variants against disentanglement_lib 1.5's ``ColorDSprites``, ``NoisyDSprites`` and
``ScreamDSprites``: the same base images and the same RandomState give the same images.

The reference classes load the dSprites file (and scream.jpg) in ``__init__``; they are
built with ``__new__`` instead, their image array a view that renders the replica on
demand, and for scream the very painting array ours gets.
"""

from __future__ import annotations

import numpy as np
import pytest

from kbetavae.data import factors as grid
from kbetavae.data import open_source
from kbetavae.data.replica import render
from kbetavae.data.variants import make_variant
from kbetavae.data.variants.scream import default_painting, load_painting


class _RenderedGrid:
    """``images[indices]`` of the reference: replica images (N, 64, 64), rendered on demand."""

    def __getitem__(self, index):
        return render(grid.factors_of(np.asarray(index)))[..., 0]


@pytest.fixture(scope="module")
def dsprites_module():
    return pytest.importorskip("disentanglement_lib.data.ground_truth.dsprites")


def reference(module, class_name: str, painting: np.ndarray | None = None):
    """A reference variant over the replica, as ``named_data`` builds it (5 factors)."""
    from disentanglement_lib.data.ground_truth import util

    cls = getattr(module, class_name)
    obj = cls.__new__(cls)
    obj.latent_factor_indices = [1, 2, 3, 4, 5]  # colour (one value) is not a factor
    obj.data_shape = [64, 64, 3]
    obj.factor_sizes = np.array((1, *grid.FACTOR_SIZES), dtype=np.int64)
    obj.full_factor_sizes = list(obj.factor_sizes)
    obj.factor_bases = np.prod(obj.factor_sizes) / np.cumprod(obj.factor_sizes)
    obj.state_space = util.SplitDiscreteStateSpace(obj.factor_sizes, obj.latent_factor_indices)
    obj.images = _RenderedGrid()
    if painting is not None:
        obj.scream = painting
    return obj


CASES = [
    ("color-dsprites", "ColorDSprites"),
    ("noisy-dsprites", "NoisyDSprites"),
    ("scream-dsprites", "ScreamDSprites"),
]


@pytest.mark.parametrize(("name", "class_name"), CASES)
def test_observations_equal_the_reference_from_the_same_random_state(
    dsprites_module, name, class_name
):
    painting = load_painting(default_painting())
    ours = make_variant(name, open_source("replica"), **_options(name, painting))
    theirs = reference(dsprites_module, class_name, painting)
    factors = ours.sample_factors(50, np.random.default_rng(3))
    expected = theirs.sample_observations_from_factors(factors, np.random.RandomState(7))
    got = ours.observe(ours.base.images(factors), np.random.RandomState(7))
    assert got.dtype == np.float32 and got.shape == (50, 64, 64, 3)
    # The reference computes in float64 (scream: float32); ours rounds once to float32.
    np.testing.assert_array_equal(got, np.asarray(expected).astype(np.float32))


@pytest.mark.parametrize(("name", "class_name"), CASES)
def test_a_random_state_is_left_where_the_reference_leaves_it(dsprites_module, name, class_name):
    painting = load_painting(default_painting())
    ours = make_variant(name, open_source("replica"), **_options(name, painting))
    theirs = reference(dsprites_module, class_name, painting)
    factors = ours.sample_factors(5, np.random.default_rng(0))
    mine, other = np.random.RandomState(1), np.random.RandomState(1)
    ours.observe(ours.base.images(factors), mine)
    theirs.sample_observations_from_factors(factors, other)
    assert mine.uniform() == other.uniform()


def test_a_different_random_state_gives_different_colours(dsprites_module):
    ours = make_variant("color-dsprites", open_source("replica"))
    masks = ours.base.images(ours.sample_factors(4, np.random.default_rng(0)))
    first = ours.observe(masks, np.random.RandomState(0))
    assert not np.array_equal(first, ours.observe(masks, np.random.RandomState(1)))


def _options(name: str, painting: np.ndarray) -> dict:
    return {"painting": painting} if name == "scream-dsprites" else {}
