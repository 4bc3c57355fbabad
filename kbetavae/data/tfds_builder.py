"""The replica as a tensorflow-datasets builder named ``dsprites_replica``.

Same features as tfds' own ``dsprites``, so code written for ``tfds.load("dsprites")``
works offline by changing the name::

    import kbetavae.data.tfds_builder  # registers the builder
    ds = tfds.load("dsprites_replica/every_64", split="train")

Each variant of :mod:`kbetavae.data.variants` has configs too (``color_dsprites``,
``color_dsprites_every_64``, ...): float32 (64, 64, 3) images, each grid image's fixed
observation (``images_at``: the one the metrics and figures see). A tfds dataset is a
fixed set of examples; training draws a new observation each epoch instead
(:mod:`kbetavae.data.pipeline`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from kbetavae.data import factors as grid
from kbetavae.data.replica import ReplicaData
from kbetavae.data.variants import PLAIN, VARIANTS, image_shape, make_variant

_CHUNK = 4096


@dataclasses.dataclass
class DspritesReplicaConfig(tfds.core.BuilderConfig):
    """``stride``: keep every stride-th image of the grid (1 = the whole set); ``data``:
    the dataset of the family (``dsprites``, or a variant)."""

    stride: int = 1
    data: str = PLAIN


def _variant_configs() -> list[DspritesReplicaConfig]:
    configs = []
    for name in VARIANTS:
        key = name.replace("-", "_")
        configs += [
            DspritesReplicaConfig(name=key, data=name, description=f"{name}, the whole grid"),
            DspritesReplicaConfig(
                name=f"{key}_every_64", stride=64, data=name, description=f"{name}, 1/64"
            ),
        ]
    return configs


class DspritesReplica(tfds.core.GeneratorBasedBuilder):
    """dSprites rendered by kbetavae's replica: 737,280 binary 64x64 sprites, 5 factors."""

    VERSION = tfds.core.Version("1.0.0")
    BUILDER_CONFIGS = [
        DspritesReplicaConfig(name="full", description="the whole grid, 737,280 images"),
        DspritesReplicaConfig(
            name="every_64", stride=64, description="every 64th image (11,520), for tests"
        ),
        *_variant_configs(),
    ]

    def _info(self) -> tfds.core.DatasetInfo:
        labels = {
            f"label_{key}": tfds.features.ClassLabel(num_classes=size)
            for key, size in zip(_KEYS, grid.FACTOR_SIZES, strict=True)
        }
        values = {f"value_{key}": tfds.features.Tensor(shape=[], dtype=np.float32) for key in _KEYS}
        data = self.builder_config.data
        if data == PLAIN:
            image = tfds.features.Image(shape=image_shape(data))
        else:
            image = tfds.features.Tensor(shape=image_shape(data), dtype=np.float32)
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({"image": image, **labels, **values}),
            homepage="https://github.com/deepmind/dsprites-dataset",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        values = grid.factor_values()
        data = make_variant(self.builder_config.data, ReplicaData())
        indices = np.arange(0, grid.NUM_IMAGES, self.builder_config.stride)
        for start in range(0, indices.size, _CHUNK):
            chunk = indices[start : start + _CHUNK]
            classes = grid.factors_of(chunk)
            for index, factors, image in zip(chunk, classes, data.images_at(chunk), strict=True):
                record = {"image": image}
                for k, key in enumerate(_KEYS):
                    record[f"label_{key}"] = int(factors[k])
                    record[f"value_{key}"] = np.float32(values[k][factors[k]])
                yield int(index), record


_KEYS = ("shape", "scale", "orientation", "x_position", "y_position")
