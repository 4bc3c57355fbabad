"""Fused training: each member is the model it would have been trained alone."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest

from kbetavae.data import open_source
from kbetavae.training import rundir
from kbetavae.training.config import TrainConfig
from kbetavae.training.fused import can_fuse, train_group
from kbetavae.training.loop import train

BETAS = (1.0, 4.0, 10.0)


@pytest.fixture(scope="module")
def data():
    return open_source("replica")


def _relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-30))


def test_fused_members_equal_models_trained_alone_after_50_steps(tmp_path, data):
    # 1,600 images at batch 32: 50 optimizer steps in one epoch.
    configs = [TrainConfig(beta=b, seed=3, epochs=1, subset=1600) for b in BETAS]
    names = [rundir.run_name(c) for c in configs]
    alone = [
        train(c, tmp_path / "alone" / n, source=data, verbose=0)
        for c, n in zip(configs, names, strict=True)
    ]
    fused = train_group(configs, [tmp_path / "fused" / n for n in names], source=data)
    for single, member in zip(alone, fused, strict=True):
        assert member.ok and member.steps == single.steps == 50
        for a, b in zip(member.model.weights, single.model.weights, strict=True):
            assert _relative_error(a.numpy(), b.numpy()) <= 1e-5, a.path
        # The run directory is the one train leaves: same files, same history columns.
        assert sorted(os.listdir(member.run_dir)) == sorted(os.listdir(single.run_dir))
        ours, theirs = rundir.read_history(member.run_dir), rundir.read_history(single.run_dir)
        assert ours[0].keys() == theirs[0].keys()
        np.testing.assert_allclose(ours[0]["loss"], theirs[0]["loss"], rtol=1e-5)
        assert rundir.read_config(member.run_dir) == rundir.read_config(single.run_dir)
        reloaded = keras.models.load_model(member.model_path)
        assert reloaded.beta == member.model.beta


def test_only_runs_that_differ_in_beta_are_fused():
    base = TrainConfig(epochs=1, subset=64)
    assert can_fuse([base.replace(beta=1.0), base.replace(beta=4.0)])
    assert not can_fuse([base.replace(beta=1.0), base.replace(beta=4.0, seed=1)])
    assert not can_fuse([base])
