import time

import h5py
import numpy as np
import pytest

from kbetavae.data import factors as grid
from kbetavae.data import files, open_source, tfds_source
from kbetavae.data.files import export_npz, save_npz
from kbetavae.data.replica import render
from kbetavae.errors import InputError
from kbetavae.training import TrainConfig


def _small_grid():
    """A complete reduced grid (posX, posY in 0..3): 3*6*40*4*4 = 11,520 images."""
    sizes = (3, 6, 40, 4, 4)
    factors = grid.factors_of(np.arange(int(np.prod(sizes))), sizes)
    return sizes, factors, render(factors)


def test_npz_in_the_official_layout_round_trips(tmp_path):
    sizes, factors, images = _small_grid()
    path = tmp_path / "dsprites_small.npz"
    save_npz(path, factors, images)
    with np.load(path, allow_pickle=True, encoding="latin1") as archive:
        assert archive["imgs"].shape == (len(factors), 64, 64)
        assert archive["latents_classes"].shape == (len(factors), 6)  # colour first
        assert archive["metadata"][()]["latents_sizes"].tolist() == [1, 3, 6, 40, 32, 32]
    data = open_source(str(path))
    assert data.factor_sizes == sizes
    some = factors[::997]
    assert np.array_equal(data.images(some), images[::997])


def test_a_variant_export_streams_its_fixed_observations_and_opens_as_them(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "_CHUNK_BYTES", 7 * 64 * 64 * 3 * 4)  # 7 images a chunk
    colour = open_source("color-dsprites")
    indices = np.arange(0, grid.NUM_IMAGES, 9_973)  # 74 images: 11 chunks, the last short
    path = tmp_path / "color.npz"
    export_npz(path, colour, indices)
    data = open_source(str(path))
    assert (data.image_shape, data.binary) == ((64, 64, 3), False)
    np.testing.assert_array_equal(data.images(grid.factors_of(indices)), colour.images_at(indices))
    with pytest.raises(InputError, match="not binary ones"):
        open_source(str(path), data="noisy-dsprites")
    with pytest.raises(InputError, match="a variant's export is for looking at"):
        TrainConfig(source=str(path)).open_data()


def test_hdf5_in_the_official_layout_loads_and_is_reordered_by_classes(tmp_path):
    sizes, factors, images = _small_grid()
    order = np.random.default_rng(0).permutation(len(factors))  # file order must not matter
    path = tmp_path / "dsprites_small.hdf5"
    with h5py.File(path, "w") as handle:
        handle["imgs"] = images[order, ..., 0]
        handle["latents/classes"] = np.column_stack(
            [np.zeros(len(factors), dtype=np.int64), factors[order]]
        )
    data = open_source(str(path))
    probe = factors[[0, 5, 11_519]]
    assert np.array_equal(data.images(probe), render(probe))


def test_file_images_are_binarised_not_scaled(tmp_path):
    sizes, factors, images = _small_grid()
    path = tmp_path / "grey.npz"
    save_npz(path, factors, images * 255)
    data = open_source(str(path))
    assert data.images(factors[:3]).max() == 1


def test_corrupt_file_gets_a_clear_error(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(b"this is not a zip archive")
    with pytest.raises(InputError, match="not a readable dSprites file"):
        open_source(str(path))


def test_wrong_shaped_file_gets_a_clear_error(tmp_path):
    path = tmp_path / "wrong.npz"
    np.savez(path, imgs=np.zeros((4, 32, 32), np.uint8), latents_classes=np.zeros((4, 6), int))
    with pytest.raises(InputError, match=r"shape \(N, 64, 64\)"):
        open_source(str(path))
    path2 = tmp_path / "nokeys.npz"
    np.savez(path2, pictures=np.zeros((4, 64, 64), np.uint8))
    with pytest.raises(InputError, match="missing array"):
        open_source(str(path2))


def test_missing_file_and_unknown_name_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="no such dSprites file"):
        open_source(str(tmp_path / "nothing.npz"))
    with pytest.raises(InputError, match="unknown source 'mnist'"):
        open_source("mnist")


def test_tfds_dsprites_offline_fails_fast_with_a_hint(tmp_path, monkeypatch):
    # Simulate an unreachable download host rather than touching the network.
    monkeypatch.setattr(tfds_source, "host_reachable", lambda *a, **k: False)
    start = time.monotonic()
    with pytest.raises(InputError, match="`source` replica"):
        open_source("dsprites", data_dir=str(tmp_path))
    assert time.monotonic() - start < 30


def test_tfds_dsprites_through_mock_data_is_binarised_and_indexed():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=64):
        data = open_source("dsprites")
    assert data.num_images == grid.NUM_IMAGES and not data.is_complete
    factors = data.sample_factors(16, rng=0)
    images = data.images(factors)
    # mock pixels are random in 0..254: > 0 gives {0, 1}; /255 would give fractions
    assert set(np.unique(images)) <= {0, 1} and images.max() == 1
    absent = np.setdiff1d(np.arange(grid.NUM_IMAGES), data._present)[:1]
    with pytest.raises(InputError, match="no image for factors"):
        data.images_at(absent)
