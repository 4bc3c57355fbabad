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
    images: np.ndarray,
    batch_size: int,
    seed: int | None = None,
    shuffle: bool = True,
    replicas: int = 1,
    epoch: tf.Variable | None = None,
) -> tf.data.Dataset:
    """Batches of float32 {0, 1} images from a uint8 array; shuffled anew each epoch.

    ``epoch``: a ``tf.Variable`` holding the epoch about to run (kept by
    :class:`kbetavae.callbacks.PipelineEpoch`). Each pass then comes in an order drawn
    from (``seed``, epoch) alone, however often the dataset was iterated before: under a
    distribution strategy Keras reads a batch ahead through an iterator of its own, and a
    resumed run starts at a later epoch. So a multi-worker run trains on the batches of a
    single process, and a resumed run on those of an uninterrupted one. Without it,
    tf.data reshuffles whenever the dataset is iterated.

    ``batch_size`` is the global batch: under a distribution strategy Keras splits each
    batch into contiguous per-replica parts, and across workers the data is sharded by
    element (AutoShardPolicy.DATA: an in-memory array has no files to shard), so each
    worker reads every batch and keeps its replicas' parts. A last batch smaller than
    ``replicas`` is dropped: it would leave a replica without images, and convolutions
    cannot take an empty batch on CPU.
    """
    if not isinstance(batch_size, int | np.integer) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
    used = images_per_epoch(len(images), batch_size, replicas)
    if epoch is None:
        dataset = tf.data.Dataset.from_tensor_slices(images)
        if shuffle:
            dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.take(used).batch(batch_size)
    else:
        pixels = tf.constant(images)
        dataset = _epoch_pass(len(images), used, batch_size, seed, shuffle, epoch)
        dataset = dataset.map(lambda indices: tf.gather(pixels, indices))
    dataset = dataset.map(
        lambda batch: tf.cast(batch, tf.float32), num_parallel_calls=tf.data.AUTOTUNE
    )
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


def images_per_epoch(num_images: int, batch_size: int, replicas: int = 1) -> int:
    """The images a pass uses: all, unless the last batch is too small to split."""
    remainder = num_images % batch_size
    return num_images - remainder if 0 < remainder < replicas else num_images


def _epoch_pass(num_images, used, batch_size, seed, shuffle, epoch) -> tf.data.Dataset:
    """Batches of image indices: one pass in the order of (seed, the epoch read on start)."""
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31))

    def one_pass(_):
        order = tf.range(num_images, dtype=tf.int64)
        if shuffle:
            key = tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch.read_value(), tf.int64)])
            order = tf.random.experimental.stateless_shuffle(order, seed=key)
        return tf.data.Dataset.from_tensor_slices(order[:used]).batch(batch_size)

    batches = -(-used // batch_size)
    # Read the epoch when an iteration starts (flat_map runs then), not when this is built.
    dataset = tf.data.Dataset.from_tensors(0).flat_map(one_pass)
    return dataset.apply(tf.data.experimental.assert_cardinality(batches))


def training_dataset(
    source: GroundTruthData,
    subset: int = 50_000,
    batch_size: int = 32,
    seed: int = 0,
    validation: int = 0,
    replicas: int = 1,
    epoch: tf.Variable | None = None,
) -> tf.data.Dataset:
    """The training pipeline: a seeded random ``subset`` of the grid, shuffled each epoch.

    ``replicas`` (how many replicas share each batch) and ``epoch`` (the order of each
    epoch): see :func:`images_dataset`.

    Example:
        >>> from kbetavae.data import open_source, training_dataset
        >>> ds = training_dataset(open_source("replica"), subset=64, batch_size=32)
        >>> next(iter(ds)).shape
        TensorShape([32, 64, 64, 1])
    """
    train, _ = subset_indices(source, subset, seed, validation)
    return images_dataset(
        load_images(source, train), batch_size, seed=seed, replicas=replicas, epoch=epoch
    )


def validation_dataset(
    source: GroundTruthData,
    subset: int = 50_000,
    batch_size: int = 32,
    seed: int = 0,
    validation: int = 5_000,
    replicas: int = 1,
) -> tf.data.Dataset:
    """The held-out images that ``training_dataset`` with the same arguments leaves out."""
    if validation < 1:
        raise InputError(f"validation must be at least 1, got {validation}")
    _, held_out = subset_indices(source, subset, seed, validation)
    return images_dataset(
        load_images(source, held_out), batch_size, shuffle=False, replicas=replicas
    )
