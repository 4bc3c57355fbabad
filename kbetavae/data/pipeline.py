"""tf.data pipelines for training: a seeded subset, uint8 until batched, float32 batches.

A variant (color-, noisy-, scream-dSprites) keeps its base source's uint8 images in
memory; each batch is observed through the variant as it is read, with a generator seeded
by (seed, epoch, batch), so an image shows a new colour (noise, crop) each epoch, as
disentanglement_lib draws a new observation each step, and a resumed or multi-worker run
sees the observations of an uninterrupted single process.
"""

from __future__ import annotations

from collections.abc import Callable

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
    observe: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
    observed_shape: tuple[int, ...] | None = None,
) -> tf.data.Dataset:
    """Batches of float32 images from an image array; shuffled anew each epoch.

    ``observe``: a variant's transformation of each uint8 batch into float32
    observations of ``observed_shape`` (see the module docstring); without it a batch is
    the images cast to float32. Without ``epoch`` every pass counts as epoch 0, so it
    repeats the first pass's observations.

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
        dataset = dataset.take(used).batch(batch_size).enumerate()
        dataset = dataset.map(lambda number, batch: (tf.constant(0, tf.int64), number, batch))
    else:
        pixels = tf.constant(images)
        dataset = _epoch_pass(len(images), used, batch_size, seed, shuffle, epoch)
        dataset = dataset.map(lambda e, number, indices: (e, number, tf.gather(pixels, indices)))
    if observe is None:
        dataset = dataset.map(
            lambda e, number, batch: tf.cast(batch, tf.float32),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    else:
        dataset = dataset.map(_observed(observe, seed, observed_shape))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


def images_per_epoch(num_images: int, batch_size: int, replicas: int = 1) -> int:
    """The images a pass uses: all, unless the last batch is too small to split."""
    remainder = num_images % batch_size
    return num_images - remainder if 0 < remainder < replicas else num_images


def _observed(observe, seed: int | None, shape: tuple[int, ...] | None):
    """The map from (epoch, batch number, uint8 batch) to the batch's observations, drawn
    with a generator seeded by (seed, epoch, batch number)."""
    seed = int(np.random.default_rng().integers(2**31)) if seed is None else int(seed)

    def draw(epoch, number, batch):
        rng = np.random.default_rng([seed, int(epoch), int(number)])
        return np.asarray(observe(batch, rng), dtype=np.float32)

    def observed(epoch, number, batch):
        images = tf.numpy_function(draw, [epoch, number, batch], tf.float32, stateful=False)
        images.set_shape([None, *shape])
        return images

    return observed


def _epoch_pass(num_images, used, batch_size, seed, shuffle, epoch) -> tf.data.Dataset:
    """(epoch, batch number, image indices) of one pass in the order of (seed, the epoch
    read on start)."""
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31))

    def one_pass(_):
        order = tf.range(num_images, dtype=tf.int64)
        current = tf.cast(epoch.read_value(), tf.int64)
        if shuffle:
            key = tf.stack([tf.constant(seed, tf.int64), current])
            order = tf.random.experimental.stateless_shuffle(order, seed=key)
        batches = tf.data.Dataset.from_tensor_slices(order[:used]).batch(batch_size)
        return batches.enumerate().map(lambda number, indices: (current, number, indices))

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
    variant = source.base is not source
    return images_dataset(
        load_images(source.base, train),
        batch_size,
        seed=seed,
        replicas=replicas,
        epoch=epoch,
        observe=source.observe if variant else None,
        observed_shape=source.image_shape,
    )


def validation_dataset(
    source: GroundTruthData,
    subset: int = 50_000,
    batch_size: int = 32,
    seed: int = 0,
    validation: int = 5_000,
    replicas: int = 1,
) -> tf.data.Dataset:
    """The held-out images that ``training_dataset`` with the same arguments leaves out
    (a variant's: the fixed observations of ``images_at``)."""
    if validation < 1:
        raise InputError(f"validation must be at least 1, got {validation}")
    _, held_out = subset_indices(source, subset, seed, validation)
    return images_dataset(
        load_images(source, held_out), batch_size, shuffle=False, replicas=replicas
    )
