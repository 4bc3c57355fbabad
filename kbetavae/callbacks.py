"""Keras callbacks kbetavae adds to ``fit``."""

from __future__ import annotations

import json
import os

import keras
import tensorflow as tf

from kbetavae import io as kio


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` whose backups survive a ``kill -9`` at any moment.

    Keras writes the weights file in place, so a process killed during the write leaves a
    truncated HDF5 file, and with no earlier backup (a kill during the first epoch's save)
    the resume fails with "bad object header". Here the weights and the epoch marker are
    each written to a temporary name and renamed into place, weights first: a reader sees
    the previous complete backup or the new one. (A kill between the two renames leaves
    the new weights with the previous epoch number, so that one epoch is trained again.)

    The epoch marker also holds the random-seed states (``SeedGenerator``), which
    ``save_weights`` leaves out: a resumed run draws the noise an uninterrupted one would.

    ``save_dir`` (default ``backup_dir``) is where this process writes its backups; the
    restore always reads ``backup_dir``. In a multi-worker job every worker restores the
    chief's backup, and the others write theirs to a scratch directory: Keras 3, unlike
    tf.keras, would have every worker write the same files.
    """

    def __init__(self, backup_dir: str, save_dir: str | None = None, **kwargs):
        kwargs.setdefault("delete_checkpoint", False)
        super().__init__(backup_dir, double_checkpoint=False, **kwargs)
        self.save_dir = save_dir or backup_dir

    def _save_model(self):
        kio.makedirs(self.save_dir)
        weights = os.path.join(self.save_dir, os.path.basename(self._weights_path))
        metadata_path = os.path.join(self.save_dir, os.path.basename(self._training_metadata_path))
        staging = os.path.join(self.save_dir, f"staging-{os.getpid()}.weights.h5")
        self.model.save_weights(filepath=staging, overwrite=True)
        kio.rename(staging, weights)
        metadata = {
            "epoch": self._current_epoch,
            "batch": self._last_batch_seen,
            "seed_states": [keras.ops.convert_to_numpy(v).tolist() for v in self._seeds()],
        }
        kio.write_text_atomic(metadata_path, json.dumps(metadata))

    def _load_model(self):
        super()._load_model()
        if kio.exists(self._training_metadata_path):
            states = json.loads(kio.read_text(self._training_metadata_path)).get("seed_states")
            for variable, state in zip(self._seeds(), states or [], strict=False):
                variable.assign(state)

    def _seeds(self) -> list:
        """The model's SeedGenerator states: its variables that are not weights."""
        weights = {id(w) for w in self.model.weights}
        return [v for v in self.model.variables if id(v) not in weights]


class PipelineEpoch(keras.callbacks.Callback):
    """Keeps ``variable`` at the epoch about to run, for a pipeline whose order depends on
    it (:func:`kbetavae.data.pipeline.images_dataset`).

    Keras calls ``on_epoch_begin`` before it starts the epoch's iteration of the data,
    and a resumed fit begins at the restored epoch, so each epoch gets its own order.

    Example:
        >>> epoch = PipelineEpoch()
        >>> ds = training_dataset(open_source("replica"), subset=64, epoch=epoch.variable)
        >>> model.fit(ds, epochs=2, callbacks=[epoch])  # doctest: +SKIP
    """

    def __init__(self):
        super().__init__()
        self.variable = tf.Variable(0, dtype=tf.int64, trainable=False, name="pipeline_epoch")

    def on_epoch_begin(self, epoch, logs=None):
        self.variable.assign(epoch)
