"""dSprites for kbetavae: the factor grid, sources and (lazily, as it needs TF) pipelines.

``open_source`` gives a :class:`GroundTruthData`; ``training_dataset`` turns one into a
tf.data pipeline. Importing this package does not import TensorFlow, so metrics code can
use the ground truth without it.
"""

from kbetavae.data.factors import FACTOR_NAMES, FACTOR_SIZES, NUM_IMAGES, SHAPE_NAMES
from kbetavae.data.ground_truth import GroundTruthData
from kbetavae.data.sources import SOURCE_NAMES, open_source
from kbetavae.data.variants import DATA_NAMES

__all__ = [
    "FACTOR_NAMES",
    "FACTOR_SIZES",
    "NUM_IMAGES",
    "SHAPE_NAMES",
    "DATA_NAMES",
    "SOURCE_NAMES",
    "GroundTruthData",
    "open_source",
    "training_dataset",
    "validation_dataset",
]


def __getattr__(name: str):
    if name in ("training_dataset", "validation_dataset"):
        from kbetavae.data import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'kbetavae.data' has no attribute {name!r}")
