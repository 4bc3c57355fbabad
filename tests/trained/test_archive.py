"""The encoder archive: a run's encoder weights in float16, read back through the fast
encoder evaluation uses.

The model is trained for one epoch on 256 images (a tiny trained model: its weights are no
longer the initialiser's round numbers). Measured here on the 2-core EPYC: the archive's
codes equal those of the model with float16-rounded weights to 1e-6 (in fact exactly, same
formulation), and differ from the float32 model's by up to ``FLOAT32_BOUND``.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from kbetavae.errors import DamagedFile, InputError
from kbetavae.trained.archive import read_encoder, read_weights, write_archive
from kbetavae.training.rundir import CONFIG_FILE, archive_path

pytest.importorskip("tensorflow")

# The float32 model's codes minus the archive's, at most, relative to the codes' largest
# magnitude: float16 keeps 11 significant bits (each weight off by up to 2^-12 of itself)
# and the errors of five layers add up. Measured: 2.9e-4 (2.6e-5 of 0.089).
FLOAT32_BOUND = 2e-3
# 252,052 float16 weights: about half the float32 megabyte, and 56 runs under 30 MB.
ENCODER_WEIGHTS = 252_052


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``(run_dir, model)`` of a β = 4 run trained one epoch on 256 images."""
    from kbetavae.training.config import TrainConfig
    from kbetavae.training.loop import train

    run_dir = tmp_path_factory.mktemp("runs") / "beta=4_seed=0"
    config = TrainConfig(beta=4.0, seed=0, subset=256, batch_size=32, epochs=1)
    result = train(config, str(run_dir), verbose=0)
    assert result.ok
    return run_dir, result.model


@pytest.fixture(scope="module")
def published(trained, tmp_path_factory):
    """A published copy of the run: its config.json and encoder.npz, no model."""
    run_dir, model = trained
    target = tmp_path_factory.mktemp("published") / run_dir.name
    target.mkdir()
    shutil.copy(run_dir / CONFIG_FILE, target / CONFIG_FILE)
    write_archive(model, archive_path(str(target)))
    return target


@pytest.fixture(scope="module")
def images():
    from kbetavae.data import open_source

    data = open_source("replica")
    index = np.random.default_rng(0).choice(data.num_images, 300, replace=False)
    return data.images_at(index)


def rounded(model):
    """The model with its encoder's weights rounded to float16 (and back to float32)."""
    from kbetavae.trained.load import load_model

    copy = load_model(model)
    weights = copy.encoder.get_weights()
    copy.encoder.set_weights([w.astype(np.float16).astype(np.float32) for w in weights])
    return copy


def test_archive_codes_equal_the_float16_rounded_model_and_are_near_the_float32_one(
    trained, published, images
):
    from kbetavae.trained.load import graph_encoder

    run_dir, model = trained
    mu, logvar = read_encoder(str(published))(images)
    mu16, logvar16 = graph_encoder(rounded(str(run_dir)))(images)
    np.testing.assert_allclose(mu, mu16, rtol=0, atol=1e-6)
    np.testing.assert_allclose(logvar, logvar16, rtol=0, atol=1e-6)
    mu32, logvar32 = graph_encoder(model)(images)
    difference = max(np.abs(mu - mu32).max(), np.abs(logvar - logvar32).max())
    scale = max(np.abs(mu32).max(), np.abs(logvar32).max())
    print(f"float32 vs archive: max |Δ code| {difference:.3g}, codes up to {scale:.3g}")
    assert 0 < difference < FLOAT32_BOUND * scale


def test_codes_are_the_same_every_time(published, images):
    first = read_encoder(str(published))(images)
    again = read_encoder(str(published))(images)
    np.testing.assert_array_equal(first[0], again[0])


def test_the_archive_is_half_the_float32_weights_and_the_same_bytes_each_time(
    trained, published, tmp_path
):
    _, model = trained
    path = archive_path(str(published))
    size = len(open(path, "rb").read())
    assert sum(w.size for w in read_weights(path)) == ENCODER_WEIGHTS
    print(f"encoder.npz: {size:,} bytes")
    assert size < 0.51 * ENCODER_WEIGHTS * 4 and 56 * size < 30e6
    again = write_archive(model, str(tmp_path / "encoder.npz"))
    assert open(again, "rb").read() == open(path, "rb").read()
    with np.load(path) as archive:  # plain numpy reads it
        assert int(archive["format"]) == 1 and archive["weight_00"].dtype == np.float16


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "(empty)"),
        (b"{not a zip", "(not a zip archive)"),
        ("cut", "BadZipFile"),
    ],
)
def test_a_damaged_archive_is_named_with_its_repair(published, tmp_path, content, problem):
    target = tmp_path / published.name
    shutil.copytree(published, target)
    path = target / "encoder.npz"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if content == "cut" else content)
    with pytest.raises(DamagedFile, match=r"encoder\.npz is damaged") as caught:
        read_encoder(str(target))
    assert problem in str(caught.value) and "kbetavae publish" in str(caught.value)


def test_an_archive_of_another_architecture_is_damaged(published, tmp_path):
    target = tmp_path / published.name
    shutil.copytree(published, target)
    record = json.loads((target / CONFIG_FILE).read_text())
    record["config"]["latent_dim"] = 6
    (target / CONFIG_FILE).write_text(json.dumps(record))
    with pytest.raises(DamagedFile, match="latent_dim 6"):
        read_encoder(str(target))


def test_an_archive_without_its_config_is_an_input_error(published, tmp_path):
    (tmp_path / "encoder.npz").write_bytes((published / "encoder.npz").read_bytes())
    with pytest.raises(InputError, match="needs its run's config.json"):
        read_encoder(str(tmp_path))


def test_a_weight_beyond_float16_is_refused(trained, tmp_path):
    from kbetavae.trained.load import load_model

    model = load_model(str(trained[0]))
    weights = model.encoder.get_weights()
    weights[0][0, 0, 0, 0] = 1e5
    model.encoder.set_weights(weights)
    with pytest.raises(InputError, match="largest weight is 100000"):
        write_archive(model, str(tmp_path / "encoder.npz"))
    assert not (tmp_path / "encoder.npz").exists()
