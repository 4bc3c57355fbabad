"""kbetavae.train: the run directory, resume after kill -9, NaN runs, learning, bad config."""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import keras
import numpy as np
import pytest

import kbetavae
from kbetavae.errors import InputError
from kbetavae.training import TrainConfig, read_history, train
from kbetavae.training.callbacks import ResumableCSVLogger

REPO = Path(__file__).resolve().parents[1]
TINY = {"subset": 128, "batch_size": 32, "epochs": 1}


def test_kbetavae_exports_train_trainconfig_and_betavae():
    assert kbetavae.train is train and kbetavae.TrainConfig is TrainConfig
    assert kbetavae.BetaVAE.__name__ == "BetaVAE"


def test_train_writes_the_run_directory_and_never_redoes_a_finished_run(tmp_path):
    run_dir = tmp_path / "beta=4_seed=0"
    config = TrainConfig(beta=4.0, seed=0, validation=64, **TINY)
    result = train(config, run_dir, verbose=0)
    assert result.status == "done" and result.epochs == 1 and result.steps == 4
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "config.json",
        "done.json",
        "history.csv",
        "model.keras",
    ]  # backup/ is removed once the run has finished
    stored = json.loads((run_dir / "config.json").read_text())
    assert stored["config"] == config.to_dict()
    assert stored["versions"]["tensorflow"] and stored["versions"]["keras"]
    assert "git_revision" in stored and stored["machine"]["cores"] >= 1
    done = json.loads((run_dir / "done.json").read_text())
    assert done["status"] == "done" and done["metrics"]["reconstruction"] > 0
    columns = {"epoch", "loss", "reconstruction", "kl", "kl_9", "val_loss", "val_kl_9"}
    assert set(read_history(run_dir)[0]) >= columns
    loaded = keras.models.load_model(run_dir / "model.keras")
    images = np.zeros((2, 64, 64, 1), "float32")
    np.testing.assert_array_equal(loaded(images), result.model(images))

    again = train(config, run_dir, verbose=0)
    assert again.model is None  # returned from done.json, not retrained
    assert (again.status, again.epochs, again.metrics) == ("done", 1, result.metrics)


def test_done_json_records_the_cpu_seconds_of_the_training_span(tmp_path):
    result = train(TrainConfig(beta=4.0, seed=0, **TINY), tmp_path / "run", verbose=0)
    done = json.loads((tmp_path / "run" / "done.json").read_text())
    assert done["cpu_seconds"] == result.cpu_seconds
    # All of the process's threads count, so CPU time may exceed wall time, by at most the
    # cores (plus the clocks' granularity).
    assert 0 < done["cpu_seconds"] <= done["seconds"] * os.cpu_count() + 0.1


def test_a_run_dir_holding_another_config_is_an_input_error(tmp_path):
    train(TrainConfig(beta=4.0, **TINY), tmp_path, verbose=0)
    with pytest.raises(InputError, match=r"different config \(beta\)"):
        train(TrainConfig(beta=8.0, **TINY), tmp_path, verbose=0)


class PoisonWeights(keras.callbacks.Callback):
    """Makes the loss NaN from the third step on."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == 1:
            weights = self.model.decoder.trainable_weights[0]
            weights.assign(np.full(weights.shape, np.nan, "float32"))


def test_a_nan_run_is_recorded_as_failed_not_raised(tmp_path):
    # two steps per execution: batch hooks see batches 1, 3, 5, 7 of each 8-step epoch
    config = TrainConfig(seed=0, subset=256, batch_size=32, epochs=3, steps_per_execution=2)
    result = train(config, tmp_path, callbacks=[PoisonWeights()], verbose=0)
    assert result.status == "failed" and not result.ok
    assert result.reason == "loss became NaN or infinite in epoch 1"
    assert result.steps == 4  # TerminateOnNaN stopped after the first NaN execution
    done = json.loads((tmp_path / "done.json").read_text())  # strict JSON despite NaN
    assert done["status"] == "failed" and done["metrics"]["loss"] == "nan"
    assert not (tmp_path / "model.keras").exists() and not (tmp_path / "backup").exists()
    assert train(config, tmp_path, verbose=0).status == "failed"  # not retried


KILLABLE = textwrap.dedent(
    """
    import os, sys, time
    import keras
    from kbetavae.training import TrainConfig, train

    run_dir, marker, pause_at = sys.argv[1], sys.argv[2], int(sys.argv[3])

    class Marker(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            with open(marker, "a") as handle:
                handle.write(f"{epoch}\\n")
            if epoch == pause_at:
                time.sleep(300)  # the test kills us here

    config = TrainConfig(beta=4.0, seed=0, subset=256, batch_size=32, epochs=4)
    print(train(config, run_dir, callbacks=[Marker()], verbose=0).status)
    """
)


def test_a_run_killed_after_epoch_2_of_4_resumes_at_epoch_3_without_duplicate_rows(tmp_path):
    run_dir, marker = tmp_path / "run", tmp_path / "epochs-begun"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}

    def start(pause_at: int) -> subprocess.Popen:
        marker.write_text("")
        command = [sys.executable, "-c", KILLABLE, str(run_dir), str(marker), str(pause_at)]
        return subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, text=True)

    first = start(pause_at=2)  # 0-based epoch 2 = the third epoch
    deadline = time.monotonic() + 240
    while "2" not in marker.read_text().split():
        assert first.poll() is None, "training ended before it could be killed"
        assert time.monotonic() < deadline, "epoch 3 never began"
        time.sleep(0.1)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert [row["epoch"] for row in read_history(run_dir)] == [0, 1]
    assert not (run_dir / "done.json").exists()
    backup = json.loads((run_dir / "backup" / "training_metadata.json").read_text())
    first_leg = backup["train_seconds"]  # two epochs' training, up to the last backup
    assert first_leg > 0

    second = start(pause_at=-1)
    out, _ = second.communicate(timeout=240)
    assert second.returncode == 0 and out.strip().endswith("done")
    assert marker.read_text().split() == ["2", "3"]  # resumed at the third epoch
    with open(run_dir / "history.csv") as handle:
        epochs = [row["epoch"] for row in csv.DictReader(handle)]
    assert epochs == ["0", "1", "2", "3"]
    done = json.loads((run_dir / "done.json").read_text())
    assert done["epochs"] == 4 and done["steps"] == 4 * 8  # optimizer state was restored
    assert done["seconds"] > first_leg  # both legs' training, not only the resumed one


def test_csv_logger_drops_rows_of_epochs_that_a_resume_reruns(tmp_path):
    # A kill between the row and the backup of an epoch: the resume reruns that epoch.
    path = tmp_path / "history.csv"
    path.write_text("epoch,kl,loss\n0,1.0,10.0\n1,2.0,9.0\n2,3.0,8.0\n")
    logger = ResumableCSVLogger(str(path))
    logger.on_train_begin()
    logger.on_epoch_begin(2)
    logger.on_epoch_end(2, {"loss": 7.0, "kl": 4.0})
    logger.on_train_end()
    assert path.read_text() == "epoch,kl,loss\n0,1.0,10.0\n1,2.0,9.0\n2,4.0,7.0\n"


def test_one_epoch_on_5000_replica_images_lowers_reconstruction_below_the_first_batch(tmp_path):
    first_batch = {}

    class FirstBatch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            first_batch.setdefault("reconstruction", logs["reconstruction"])

    config = TrainConfig(
        beta=4.0, seed=0, subset=5_000, batch_size=32, epochs=1, steps_per_execution=1
    )
    result = train(config, tmp_path, callbacks=[FirstBatch()], verbose=0)
    # measured: 2840 nats on the first batch, 964 averaged over the epoch (157 steps)
    assert first_batch["reconstruction"] > 2_500
    assert result.metrics["reconstruction"] < 0.5 * first_batch["reconstruction"]


def test_bfloat16_and_jit_options_train_and_restore_the_global_policy(tmp_path):
    config = TrainConfig(precision="mixed_bfloat16", jit_compile=True, **TINY)
    result = train(config, tmp_path, verbose=0)
    assert result.ok and np.isfinite(result.metrics["loss"])
    assert result.model.encoder.layers[1].dtype_policy.name == "mixed_bfloat16"
    assert result.model.jit_compile is True
    assert keras.config.dtype_policy().name == "float32"


# -- bad config --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("beta", -0.5),
        ("beta", float("nan")),
        ("epochs", 0),
        ("latent_dim", 0),
        ("batch_size", 0),
        ("lr", 0.0),
        ("subset", 0),
        ("objective", "vae"),
        ("precision", "float16"),
        ("steps_per_epoch", 0),
        ("steps_per_execution", 0),
        ("seed", -1),
    ],
)
def test_bad_config_is_an_input_error_naming_the_field_and_value(field, value):
    with pytest.raises(InputError, match=rf"^{field} .*{value}"):
        TrainConfig(**{field: value})


def test_train_needs_a_train_config(tmp_path):
    with pytest.raises(InputError, match="config must be a TrainConfig"):
        train({"beta": 4.0}, tmp_path)


# -- remote storage ----------------------------------------------------------------------


class StopAtEpoch(keras.callbacks.Callback):
    """Ends the process's training (as a preemption would) when ``epoch`` begins."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_a_run_on_remote_storage_resumes_from_its_remote_backup_as_if_never_stopped(tmp_path):
    from kbetavae import io as kio

    config = TrainConfig(beta=4.0, seed=0, subset=64, batch_size=32, epochs=3)
    root = f"ram://kbetavae-train-{uuid.uuid4().hex[:8]}"
    with pytest.raises(KeyboardInterrupt):
        train(config, f"{root}/run", callbacks=[StopAtEpoch(2)], verbose=0)
    marker = kio.read_json(f"{root}/run/backup/training_metadata.json")
    assert kio.exists(f"{root}/run/backup/{marker['weights']}")  # the weights it names
    assert [row["epoch"] for row in read_history(f"{root}/run")] == [0, 1]

    resumed = train(config, f"{root}/run", verbose=0)
    uninterrupted = train(config, tmp_path / "run", verbose=0)
    assert resumed.ok and [row["epoch"] for row in read_history(f"{root}/run")] == [0, 1, 2]
    assert not kio.exists(f"{root}/run/backup")
    # Weights, optimizer, noise state and the data order of epoch 3 were all restored.
    assert resumed.steps == uninterrupted.steps == 6
    for a, b in zip(resumed.model.get_weights(), uninterrupted.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
