"""tf.data pipelines for training: a seeded subset, uint8 until batched, float32 batches."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kbetavae.data.ground_truth import GroundTruthData, load_images
from kbetavae.errors import InputError


def subset_indices(
    source: GroundTruthData, subset: int, seed: int, validation: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint seeded random (train, validation) image indices drawn from the whole grid."""
    for name, value in (("subset", subset), ("validation", validation)):
        if not isinstance(value, int | np.integer) or value < 0:
            raise InputError(f"{name} must be a non-negative integer, got {value!r}")
    if subset < 1:
        raise InputError(f"subset must be at least 1, got {subset}")
    if subset + validation > source.num_images:
        raise InputError(
            f"subset {subset} + validation {validation} is larger than the dataset "
            f"({source.num_images} images)"
        )
    chosen = np.random.default_rng(seed).choice(
        source.num_images, size=subset + validation, replace=False
    )
    return np.sort(chosen[:subset]), np.sort(chosen[subset:])


def images_dataset(
    images: np.ndarray, batch_size: int, seed: int | None = None, shuffle: bool = True
) -> tf.data.Dataset:
    """Batches of float32 {0, 1} images from a uint8 array; shuffled anew each epoch.

    ``batch_size`` is the global batch: under a distribution strategy Keras splits each
    batch across replicas, and across workers the data is sharded by element.
    """
    if not isinstance(batch_size, int | np.integer) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
    dataset = tf.data.Dataset.from_tensor_slices(images)
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size).map(
        lambda batch: tf.cast(batch, tf.float32), num_parallel_calls=tf.data.AUTOTUNE
    )
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


def training_dataset(
    source: GroundTruthData,
    subset: int = 50_000,
    batch_size: int = 32,
    seed: int = 0,
    validation: int = 0,
) -> tf.data.Dataset:
    """The training pipeline: a seeded random ``subset`` of the grid, shuffled each epoch.

    Example:
        >>> from kbetavae.data import open_source, training_dataset
        >>> ds = training_dataset(open_source("replica"), subset=64, batch_size=32)
        >>> next(iter(ds)).shape
        TensorShape([32, 64, 64, 1])
    """
    train, _ = subset_indices(source, subset, seed, validation)
    return images_dataset(load_images(source, train), batch_size, seed=seed)


def validation_dataset(
    source: GroundTruthData,
    subset: int = 50_000,
    batch_size: int = 32,
    seed: int = 0,
    validation: int = 5_000,
) -> tf.data.Dataset:
    """The held-out images that ``training_dataset`` with the same arguments leaves out."""
    if validation < 1:
        raise InputError(f"validation must be at least 1, got {validation}")
    _, held_out = subset_indices(source, subset, seed, validation)
    return images_dataset(load_images(source, held_out), batch_size, shuffle=False)
