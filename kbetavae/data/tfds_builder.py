"""The replica as a tensorflow-datasets builder named ``dsprites_replica``.

Same features as tfds' own ``dsprites``, so code written for ``tfds.load("dsprites")``
works offline by changing the name::

    import kbetavae.data.tfds_builder  # registers the builder
    ds = tfds.load("dsprites_replica/every_64", split="train")
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from kbetavae.data import factors as grid
from kbetavae.data.replica import render

_CHUNK = 4096


@dataclasses.dataclass
class DspritesReplicaConfig(tfds.core.BuilderConfig):
    """``stride``: keep every stride-th image of the grid (1 = the whole set)."""

    stride: int = 1


class DspritesReplica(tfds.core.GeneratorBasedBuilder):
    """dSprites rendered by kbetavae's replica: 737,280 binary 64x64 sprites, 5 factors."""

    VERSION = tfds.core.Version("1.0.0")
    BUILDER_CONFIGS = [
        DspritesReplicaConfig(name="full", description="the whole grid, 737,280 images"),
        DspritesReplicaConfig(
            name="every_64", stride=64, description="every 64th image (11,520), for tests"
        ),
    ]

    def _info(self) -> tfds.core.DatasetInfo:
        labels = {
            f"label_{key}": tfds.features.ClassLabel(num_classes=size)
            for key, size in zip(_KEYS, grid.FACTOR_SIZES, strict=True)
        }
        values = {f"value_{key}": tfds.features.Tensor(shape=[], dtype=np.float32) for key in _KEYS}
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {"image": tfds.features.Image(shape=(64, 64, 1)), **labels, **values}
            ),
            homepage="https://github.com/deepmind/dsprites-dataset",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        values = grid.factor_values()
        indices = np.arange(0, grid.NUM_IMAGES, self.builder_config.stride)
        for start in range(0, indices.size, _CHUNK):
            chunk = indices[start : start + _CHUNK]
            classes = grid.factors_of(chunk)
            for index, factors, image in zip(chunk, classes, render(classes), strict=True):
                record = {"image": image}
                for k, key in enumerate(_KEYS):
                    record[f"label_{key}"] = int(factors[k])
                    record[f"value_{key}"] = np.float32(values[k][factors[k]])
                yield int(index), record


_KEYS = ("shape", "scale", "orientation", "x_position", "y_position")
