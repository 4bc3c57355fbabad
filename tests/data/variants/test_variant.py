"""The variants as ground truth: shapes, values, determinism, and their one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from kbetavae.data import DATA_NAMES, open_source
from kbetavae.data.arrays import ArrayData
from kbetavae.data.ground_truth import load_images
from kbetavae.data.variants import VARIANTS, image_shape, is_binary, make_variant
from kbetavae.errors import InputError

INDEX = np.array([0, 1, 245_761, 737_279])


@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_variant_observes_three_channel_floats_in_the_unit_interval(name):
    data = open_source(name)
    images = data.images_at(INDEX)
    assert data.image_shape == image_shape(name) == (64, 64, 3) and not is_binary(name)
    assert images.dtype == np.float32 and images.shape == (4, 64, 64, 3)
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert data.num_images == 737_280 and data.factor_sizes == open_source().factor_sizes


@pytest.mark.parametrize("name", list(VARIANTS))
def test_images_at_gives_the_same_observation_of_an_index_in_any_batch(name):
    data = open_source(name)
    together = data.images_at(INDEX)
    alone = np.concatenate([data.images_at(INDEX[i : i + 1]) for i in range(len(INDEX))])
    np.testing.assert_array_equal(together, alone)
    np.testing.assert_array_equal(load_images(data, INDEX[::-1]), together[::-1])


def test_the_same_seed_samples_the_same_observations_and_another_seed_others():
    data = open_source("color-dsprites")
    factors, images = data.sample(16, rng=5)
    again_factors, again = data.sample(16, rng=5)
    np.testing.assert_array_equal(factors, again_factors)
    np.testing.assert_array_equal(images, again)
    assert not np.array_equal(images, data.sample(16, rng=6)[1])


def test_a_colour_is_drawn_per_observation_not_per_image():
    data = open_source("color-dsprites")
    masks = data.base.images_at(np.zeros(8, dtype=np.int64))  # one image, eight times
    observed = data.observe(masks, np.random.default_rng(0))
    colours = observed.reshape(8, -1, 3).max(axis=1)
    assert len(np.unique(colours, axis=0)) == 8
    assert np.all((colours >= 0.5) & (colours <= 1.0))


def test_the_sprite_is_white_over_noise_and_inverted_over_the_painting():
    masks = open_source().images_at(INDEX)
    noisy = open_source("noisy-dsprites").images_at(INDEX)
    assert np.all(noisy[masks[..., 0] == 1] == 1.0) and noisy[masks[..., 0] == 0].min() < 0.5
    painting = np.full((100, 120, 3), 0.25)  # a flat painting: every crop the same
    scream = make_variant("scream-dsprites", open_source(), painting=painting)
    observed = scream.observe(masks, np.random.default_rng(0))
    for image, mask in zip(observed, masks[..., 0] == 1, strict=True):
        background = image[~mask]
        shift = 2 * background[0] - 0.25  # (painting + shift) / 2
        assert np.all((shift >= 0) & (shift <= 1)) and np.allclose(background, background[0])
        np.testing.assert_allclose(
            image[mask], np.broadcast_to(1.0 - background[0], (mask.sum(), 3)), rtol=1e-6
        )


def test_a_variant_over_a_file_source_uses_its_images():
    factors = np.array([[0, 0, 0, 0, 0], [2, 5, 39, 31, 31]])
    images = np.zeros((2, 64, 64), np.uint8)
    images[1, 10:20, 10:20] = 1
    base = ArrayData(factors, images, name="two")
    variant = make_variant("color-dsprites", base)
    observed = variant.images(factors)
    assert observed[0].max() == 0.0 and observed[1, 15, 15].min() >= 0.5


def test_data_names_and_option_errors_are_one_line():
    assert DATA_NAMES == ("dsprites", "color-dsprites", "noisy-dsprites", "scream-dsprites")
    with pytest.raises(InputError, match=r"^data must be one of dsprites, color-dsprites"):
        open_source("replica", data="mnist")
    with pytest.raises(InputError, match="painting applies to scream-dsprites only"):
        open_source("replica", data="noisy-dsprites", painting="x.jpg")
    with pytest.raises(InputError, match=r"^painting: no such image file: /no/such\.jpg$"):
        open_source("scream-dsprites", painting="/no/such.jpg")


def test_a_non_image_painting_and_a_non_binary_base_are_refused(tmp_path):
    path = tmp_path / "painting.jpg"
    path.write_text("not an image")
    with pytest.raises(InputError, match="is not a readable image"):
        open_source("scream-dsprites", painting=str(path))
    colour = open_source("color-dsprites")
    with pytest.raises(InputError, match=r"\(64, 64, 3\) images, not binary ones"):
        make_variant("noisy-dsprites", colour)
