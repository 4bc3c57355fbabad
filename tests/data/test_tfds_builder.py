import numpy as np
import tensorflow_datasets as tfds

import kbetavae.data.tfds_builder  # noqa: F401 - registers dsprites_replica
from kbetavae.data import factors as grid
from kbetavae.data.replica import render


def test_replica_builder_has_tfds_dsprites_schema_and_images(tmp_path):
    builder = tfds.builder("dsprites_replica/every_64", data_dir=str(tmp_path))
    builder.download_and_prepare()
    reference = tfds.builder_cls("dsprites")
    features = builder.info.features
    assert set(features.keys()) >= {
        "image",
        "label_shape",
        "label_scale",
        "label_orientation",
        "label_x_position",
        "label_y_position",
        "value_shape",
        "value_scale",
        "value_orientation",
        "value_x_position",
        "value_y_position",
    }
    assert [
        features[f"label_{k}"].num_classes
        for k in ("shape", "scale", "orientation", "x_position", "y_position")
    ] == [3, 6, 40, 32, 32]
    assert features["image"].shape == (64, 64, 1) and reference is not None
    assert builder.info.splits["train"].num_examples == grid.NUM_IMAGES // 64

    ds = tfds.load("dsprites_replica/every_64", split="train", data_dir=str(tmp_path))
    for example in tfds.as_numpy(ds.take(5)):
        factors = np.array(
            [
                [
                    example[f"label_{k}"]
                    for k in ("shape", "scale", "orientation", "x_position", "y_position")
                ]
            ]
        )
        assert np.array_equal(example["image"], render(factors)[0])
        assert example["value_shape"] == factors[0, 0] + 1.0


def test_a_variant_config_holds_the_variants_fixed_observations(tmp_path):
    from itertools import islice

    from kbetavae.data import open_source

    # Its examples straight from the generator: preparing 11,520 float images takes long.
    builder = tfds.builder("dsprites_replica/noisy_dsprites_every_64", data_dir=str(tmp_path))
    image = builder.info.features["image"]
    assert image.shape == (64, 64, 3) and image.dtype == np.float32
    noisy = open_source("noisy-dsprites")
    for index, example in islice(builder._generate_examples(), 3):
        factors = np.array([[example[f"label_{k}"] for k in _KEYS]])
        assert grid.index_of(factors)[0] == index
        np.testing.assert_array_equal(example["image"], noisy.images(factors)[0])


_KEYS = ("shape", "scale", "orientation", "x_position", "y_position")
