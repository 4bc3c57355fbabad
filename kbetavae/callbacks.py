"""Keras callbacks kbetavae adds to ``fit``."""

from __future__ import annotations

import json
import os

import keras

from kbetavae import io as kio


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` whose backups survive a ``kill -9`` at any moment.

    Keras writes the weights file in place, so a process killed during the write leaves a
    truncated HDF5 file, and with no earlier backup (a kill during the first epoch's save)
    the resume fails with "bad object header". Here the weights and the epoch marker are
    each written to a temporary name and renamed into place, weights first: a reader sees
    the previous complete backup or the new one. (A kill between the two renames leaves
    the new weights with the previous epoch number, so that one epoch is trained again.)
    """

    def __init__(self, backup_dir: str, **kwargs):
        kwargs.setdefault("delete_checkpoint", False)
        super().__init__(backup_dir, double_checkpoint=False, **kwargs)

    def _save_model(self):
        kio.makedirs(self.backup_dir)
        staging = os.path.join(self.backup_dir, f"staging-{os.getpid()}.weights.h5")
        self.model.save_weights(filepath=staging, overwrite=True)
        kio.rename(staging, self._weights_path)
        metadata = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
        kio.write_text_atomic(self._training_metadata_path, json.dumps(metadata))
