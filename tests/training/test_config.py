"""TrainConfig's dataset: the variant a run trains on, and what follows from it."""

from __future__ import annotations

import pytest

from kbetavae.errors import InputError
from kbetavae.training.config import TrainConfig


def test_a_colour_variant_sets_the_models_shape_and_the_pixel_count_of_beta_norm():
    plain, colour = TrainConfig(beta=4.0), TrainConfig(beta=4.0, data="color-dsprites")
    assert (plain.image_shape, plain.pixels) == ((64, 64, 1), 4096)
    assert (colour.image_shape, colour.pixels) == ((64, 64, 3), 12_288)
    assert colour.normalised_beta == pytest.approx(plain.normalised_beta / 3)
    kwargs = colour.model_kwargs()
    assert kwargs["image_shape"] == (64, 64, 3) and kwargs["binary"] is False
    assert plain.model_kwargs()["binary"] is True


def test_a_config_written_before_datasets_reads_as_plain_dsprites():
    old = TrainConfig(beta=4.0).to_dict()
    del old["data"], old["painting"]
    config = TrainConfig.from_dict(old)
    assert (config.data, config.painting) == ("dsprites", None)
    assert config == TrainConfig(beta=4.0)


def test_the_data_and_its_painting_are_checked_at_construction():
    with pytest.raises(InputError, match=r"^data must be one of dsprites, color-dsprites"):
        TrainConfig(data="dsprites-color")
    with pytest.raises(InputError, match=r"^painting applies to scream-dsprites only"):
        TrainConfig(data="dsprites", painting="scream.jpg")
    assert TrainConfig(data="scream-dsprites", painting="scream.jpg").painting == "scream.jpg"


def test_open_data_opens_the_variant_over_the_source():
    data = TrainConfig(data="noisy-dsprites").open_data()
    assert data.image_shape == (64, 64, 3) and data.base.name == "replica"
