"""Encoder archives' codes kept on disk: read back as written, keyed by everything the
codes depend on, and a file that cannot be read counts as absent."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kbetavae.trained.code_cache import ArchiveCodeCache, archive_code_cache
from kbetavae.training import rundir

pytest.importorskip("tensorflow")
KEY = {"archive_sha256": "ab" * 32, "formulation": "xla-taps-64", "batch_size": 1024}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A published-like run of an untrained BetaVAE: config.json and encoder.npz."""
    from kbetavae import BetaVAE
    from kbetavae.trained.archive import write_archive
    from kbetavae.training.config import TrainConfig

    run_dir = tmp_path_factory.mktemp("runs") / "beta=1_seed=0"
    run_dir.mkdir()
    rundir.write_config(str(run_dir), TrainConfig(beta=1.0, seed=0))
    model = BetaVAE(seed=0)
    model(np.zeros((1, 64, 64, 1), np.float32))
    write_archive(model, rundir.archive_path(str(run_dir)))
    return run_dir


def codes(seed, num_images=50, latents=3):
    rng = np.random.default_rng(seed)
    mu = rng.standard_normal((num_images, latents)).astype(np.float32)
    filled = rng.random(num_images) < 0.5
    return mu, -np.abs(mu), filled


def test_codes_read_back_as_saved_one_file_per_member(tmp_path):
    cache = ArchiveCodeCache(str(tmp_path), [KEY, {**KEY, "batch_size": 64}])
    assert cache.load(2) == [None, None]
    (mu0, logvar0, filled), (mu1, _, _) = codes(0), codes(1)
    cache.keep([(mu0, logvar0), (mu1, None)], filled)
    assert len(list(tmp_path.glob("*.npz"))) == 2
    (got0, got_logvar0, got_filled), (got1, got_logvar1, _) = cache.load(2)
    np.testing.assert_array_equal(got0, mu0)
    np.testing.assert_array_equal(got_logvar0, logvar0)
    np.testing.assert_array_equal(got_filled, filled)
    np.testing.assert_array_equal(got1, mu1)
    assert got_logvar1 is None
    assert cache.load(3) == [None, None, None]  # another group than the one saved


def test_a_damaged_file_or_one_with_another_key_counts_as_absent(tmp_path):
    cache = ArchiveCodeCache(str(tmp_path), [KEY])
    mu, logvar, filled = codes(0)
    cache.keep([(mu, logvar)], filled)
    (path,) = cache.paths
    with open(path, "rb") as handle:
        whole = handle.read()
    with open(path, "wb") as handle:
        handle.write(whole[: len(whole) // 2])  # a copy cut short
    assert cache.load(1) == [None]
    other = {**KEY, "formulation": "tf-conv-1024"}
    np.savez(path, mu=mu, filled=filled, key=np.array(json.dumps(other, sort_keys=True)))
    assert cache.load(1) == [None]


def test_the_key_names_the_archive_its_data_the_formulation_and_batch_size(run, tmp_path):
    from kbetavae.trained.archive import archive_digest, read_encoder

    encoder = read_encoder(str(run))
    (key,) = archive_code_cache(str(tmp_path), [str(run)], [encoder], 1024).keys
    assert key["archive_sha256"] == archive_digest(rundir.archive_path(str(run)), 64)
    assert key["formulation"] == encoder.formulation.name
    assert key["batch_size"] == 1024
    config = rundir.read_config(str(run))
    assert (
        key["data"]
        == [config.source, config.data, config.painting]
        == ["replica", "dsprites", None]
    )
    paths = {
        archive_code_cache(str(tmp_path), [str(run)], [encoder], size).paths[0]
        for size in (1024, 64)
    }
    assert len(paths) == 2  # another batch size: other last bits, another file
