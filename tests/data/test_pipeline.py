import subprocess
import sys
import textwrap

import numpy as np
import pytest

from kbetavae.data import open_source, training_dataset, validation_dataset
from kbetavae.data.pipeline import subset_indices
from kbetavae.errors import InputError


@pytest.fixture(scope="module")
def replica():
    return open_source("replica")


def test_subset_is_seeded_and_disjoint_from_validation(replica):
    train, val = subset_indices(replica, 1000, seed=3, validation=200)
    again, _ = subset_indices(replica, 1000, seed=3, validation=200)
    other, _ = subset_indices(replica, 1000, seed=4, validation=200)
    assert np.array_equal(train, again) and not np.array_equal(train, other)
    assert train.size == 1000 and val.size == 200 and np.intersect1d(train, val).size == 0
    # drawn from the whole grid, not a prefix of it
    assert train.max() > 0.9 * replica.num_images and train.min() < 0.1 * replica.num_images


def test_batches_are_float32_binary_with_the_global_batch_size(replica):
    batches = list(training_dataset(replica, subset=100, batch_size=32, seed=0))
    assert [b.shape[0] for b in batches] == [32, 32, 32, 4]
    first = batches[0].numpy()
    assert first.dtype == np.float32 and first.shape[1:] == (64, 64, 1)
    assert set(np.unique(first)) == {0.0, 1.0}


def test_each_epoch_is_reshuffled_but_holds_the_same_images(replica):
    ds = training_dataset(replica, subset=64, batch_size=64, seed=0)
    epoch1, epoch2 = (next(iter(ds)).numpy() for _ in range(2))
    assert not np.array_equal(epoch1, epoch2)
    key = lambda batch: sorted(map(bytes, batch.reshape(len(batch), -1).astype(np.uint8)))  # noqa: E731
    assert key(epoch1) == key(epoch2)


def _image_keys(batches) -> list[bytes]:
    return [bytes(image) for batch in batches for image in batch.numpy().astype(np.uint8)]


def test_with_an_epoch_variable_the_order_follows_seed_and_epoch_alone(replica):
    # Keras reads a batch ahead under a distribution strategy and a resumed run starts
    # late; neither may shift the order, or a multi-worker or resumed run would train on
    # other batches than one uninterrupted process.
    import tensorflow as tf

    epoch = tf.Variable(0, dtype=tf.int64)
    ds = training_dataset(replica, subset=40, batch_size=16, seed=0, epoch=epoch)
    assert int(ds.cardinality()) == 3  # batches of 16, 16, 8
    first = _image_keys(ds)
    for _ in ds.take(1):
        pass
    assert _image_keys(ds) == first and len(first) == 40
    epoch.assign(1)
    second = _image_keys(ds)
    assert second != first and sorted(second) == sorted(first)
    epoch.assign(0)
    assert _image_keys(ds) == first
    other_seed = training_dataset(replica, subset=40, batch_size=16, seed=1, epoch=epoch)
    assert _image_keys(other_seed) != first


def test_a_last_batch_too_small_to_split_across_replicas_is_dropped(replica):
    ds = training_dataset(replica, subset=33, batch_size=16, seed=0, replicas=2)
    assert [int(b.shape[0]) for b in ds] == [16, 16]
    ds = training_dataset(replica, subset=35, batch_size=16, seed=0, replicas=2)
    assert [int(b.shape[0]) for b in ds] == [16, 16, 3]


def test_validation_split_is_the_held_out_images(replica):
    train = np.concatenate(
        list(training_dataset(replica, subset=50, batch_size=50, seed=1, validation=20))
    )
    val = np.concatenate(
        list(validation_dataset(replica, subset=50, batch_size=50, seed=1, validation=20))
    )
    _, held_out = subset_indices(replica, 50, 1, 20)
    assert val.shape[0] == 20 and np.array_equal(val, replica.images_at(held_out))
    assert train.shape[0] == 50


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"subset": 10_000_000}, "larger than the dataset"),
        ({"subset": 0}, "subset must be at least 1"),
        ({"subset": 10, "batch_size": 0}, "batch_size must be a positive integer"),
    ],
)
def test_bad_arguments_name_the_value(replica, kwargs, message):
    with pytest.raises(InputError, match=message):
        training_dataset(replica, **kwargs)


def test_global_batch_is_split_across_replicas_under_mirrored_strategy():
    # Logical devices must be configured before TensorFlow initialises: own process.
    code = textwrap.dedent(
        """
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        logical = [tf.config.LogicalDeviceConfiguration()] * 2
        tf.config.set_logical_device_configuration(cpu, logical)
        from kbetavae.data import open_source, training_dataset
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        ds = training_dataset(open_source("replica"), subset=64, batch_size=32, seed=0)
        batch = next(iter(strategy.experimental_distribute_dataset(ds)))
        print(sorted(t.shape[0] for t in strategy.experimental_local_results(batch)))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[16, 16]"


def test_a_variant_is_observed_anew_each_epoch_and_alike_for_the_same_seed_and_epoch():
    import tensorflow as tf

    colour = open_source("color-dsprites")
    epoch = tf.Variable(0, dtype=tf.int64)
    ds = training_dataset(colour, subset=40, batch_size=16, seed=0, epoch=epoch)
    assert ds.element_spec.shape.as_list() == [None, 64, 64, 3]
    first = np.concatenate([b.numpy() for b in ds])
    assert first.dtype == np.float32 and first.shape == (40, 64, 64, 3)
    assert first.max() <= 1.0 and first.reshape(40, -1).max(axis=1).min() >= 0.5
    np.testing.assert_array_equal(np.concatenate([b.numpy() for b in ds]), first)
    epoch.assign(1)
    second = np.concatenate([b.numpy() for b in ds])
    # The same 40 sprites (masks), in another order and in other colours.
    masks = lambda images: sorted(map(bytes, (images.max(axis=3) > 0).astype(np.uint8)))  # noqa: E731
    assert masks(first) == masks(second)
    assert not np.array_equal(
        np.sort(first.max(axis=(1, 2)), axis=0), np.sort(second.max(axis=(1, 2)), axis=0)
    )
