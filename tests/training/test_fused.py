"""Fused training: each member is the model it would have been trained alone."""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras
import numpy as np
import pytest

from kbetavae.data import open_source
from kbetavae.training import rundir
from kbetavae.training.config import TrainConfig
from kbetavae.training.fused import can_fuse, group_backup_dir, train_group
from kbetavae.training.loop import train

BETAS = (1.0, 4.0, 10.0)


@pytest.fixture(scope="module")
def data():
    return open_source("replica")


def _relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-30))


def test_fused_members_equal_models_trained_alone_after_50_steps(tmp_path, data):
    # 1,600 images at batch 32: 50 optimizer steps in one epoch.
    # Two members (the smallest and the largest β) keep the suite inside CI's time.
    configs = [TrainConfig(beta=b, seed=3, epochs=1, subset=1600) for b in (BETAS[0], BETAS[-1])]
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


class _Crash(keras.callbacks.Callback):
    """Stands in for a kill after epoch 1's backup: fails as epoch 2 begins."""

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt


class _PoisonAfterEpoch1(keras.callbacks.Callback):
    """Turns its model's weights into NaN at the end of epoch 1."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            for weight in self.model.trainable_weights:
                weight.assign(np.full(weight.shape, np.nan, weight.dtype))


def test_an_interrupted_group_resumes_to_the_uninterrupted_weights(tmp_path, data):
    configs = [TrainConfig(beta=b, seed=1, epochs=2, subset=256) for b in BETAS[:2]]
    names = [rundir.run_name(c) for c in configs]
    whole = train_group(configs, [tmp_path / "whole" / n for n in names], source=data)
    dirs = [tmp_path / "resumed" / n for n in names]
    with pytest.raises(KeyboardInterrupt):
        train_group(configs, dirs, source=data, member_callbacks=[[_Crash()], []])
    assert not (dirs[0] / rundir.DONE_FILE).exists()
    backup = group_backup_dir([str(d) for d in dirs])
    first_leg = json.loads(Path(backup, "training_metadata.json").read_text())
    resumed = train_group(configs, dirs, source=data)
    for a, b in zip(whole, resumed, strict=True):
        assert b.ok and b.epochs == 2 and b.steps == a.steps == 16
        # The epoch before the stop counts too, in wall and in CPU time.
        assert b.seconds > first_leg["train_seconds"]
        assert b.cpu_seconds > first_leg["train_cpu_seconds"] > 0
        # The group's time: its members trained in one step.
        assert (b.seconds, b.cpu_seconds) == (resumed[0].seconds, resumed[0].cpu_seconds)
        for x, y in zip(a.model.weights, b.model.weights, strict=True):
            assert _relative_error(y.numpy(), x.numpy()) <= 1e-5, x.path
    assert not (tmp_path / "resumed" / ".fused-backup").exists()  # removed when done


def test_a_member_that_goes_nan_fails_alone(tmp_path, data):
    configs = [TrainConfig(beta=b, seed=2, epochs=2, subset=256) for b in BETAS[:2]]
    dirs = [tmp_path / rundir.run_name(c) for c in configs]
    poisoned, healthy = train_group(
        configs, dirs, source=data, member_callbacks=[[_PoisonAfterEpoch1()], []]
    )
    assert poisoned.status == "failed"
    assert poisoned.reason == "loss became NaN or infinite in epoch 2"
    assert not (dirs[0] / rundir.MODEL_FILE).exists()
    assert len(rundir.read_history(dirs[0])) == 2  # ends with the epoch that went NaN
    # Its updates stopped: the optimizer did not step after the NaN batch.
    assert poisoned.steps == 8
    assert healthy.ok and healthy.steps == 16 and (dirs[1] / rundir.MODEL_FILE).exists()
    assert all(np.isfinite(w.numpy()).all() for w in healthy.model.weights)
