"""Adding a variant is one module with a ``Transform`` and one ``VARIANTS`` entry: this
module is the toy variant's module, registered for the test only."""

from __future__ import annotations

import numpy as np

from kbetavae.data import open_source
from kbetavae.data.variants import VARIANTS, VariantEntry
from kbetavae.training.config import TrainConfig


class Transform:
    """inverted-dSprites: a black sprite on white, one channel (and no randomness)."""

    channels = 1

    def __call__(self, masks: np.ndarray, rng) -> np.ndarray:
        return (1.0 - masks).astype(np.float32)


def test_a_toy_variant_needs_one_module_and_one_entry(monkeypatch):
    monkeypatch.setitem(VARIANTS, "inverted-dsprites", VariantEntry(__name__, channels=1))
    data = open_source("replica", data="inverted-dsprites")
    plain = open_source("replica")
    index = np.array([0, 99_999])
    np.testing.assert_array_equal(data.images_at(index), 1.0 - plain.images_at(index))
    config = TrainConfig(data="inverted-dsprites")
    assert config.model_kwargs()["image_shape"] == (64, 64, 1)
    assert config.model_kwargs()["binary"] is False  # observations are floats in [0, 1]
    assert config.open_data().image_shape == (64, 64, 1)
