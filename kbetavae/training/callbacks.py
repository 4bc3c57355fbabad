"""The Keras callbacks ``train`` adds to ``fit``, one class each.

- :class:`AtomicBackupAndRestore`: resume after a kill, never from a half-written backup;
- :class:`PipelineEpoch`: each epoch's data order fixed by (seed, epoch);
- :class:`ResumableCSVLogger`: ``history.csv``, one row per epoch, across resumes.
"""

from __future__ import annotations

import csv
import json
import os

import keras
import tensorflow as tf

from kbetavae import faults
from kbetavae import io as kio
from kbetavae.training import rundir
from kbetavae.training.clock import Elapsed, Stopwatch
from kbetavae.training.interrupts import deferred_interrupt


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` whose backups survive a ``kill -9`` at any moment.

    Keras writes the weights file in place, so a process killed during the write leaves a
    truncated HDF5 file, and with no earlier backup (a kill during the first epoch's save)
    the resume fails with "bad object header". Here each epoch's weights go to their own
    file (``epoch-<N>.weights.h5``), then the epoch marker, which names that file, replaces
    the previous marker; both through the atomic helper
    (:func:`kbetavae.io.write_file_atomic`). A resume loads only the weights its marker
    names: a kill between the two writes leaves the previous backup whole. (With one weights
    file, as Keras keeps it, that kill left epoch N's weights beside epoch N-1's marker, and
    Keras loads weights without a marker too: the resumed run trained an epoch more than an
    uninterrupted one — found by tests/cli/test_faults_cli.py.)

    The epoch marker also holds the random-seed states (``SeedGenerator``), which
    ``save_weights`` leaves out: a resumed run draws the noise an uninterrupted one would;
    and the training time so far (wall and CPU seconds), which a resumed run adds
    (``before``).

    ``save_dir`` (default ``backup_dir``) is where this process writes its backups; the
    restore always reads ``backup_dir``. In a multi-worker job every worker restores the
    chief's backup, and the others write theirs to a scratch directory: Keras 3, unlike
    tf.keras, would have every worker write the same files.
    """

    def __init__(self, backup_dir: str, save_dir: str | None = None, **kwargs):
        kwargs.setdefault("delete_checkpoint", False)
        super().__init__(backup_dir, double_checkpoint=False, **kwargs)
        self.save_dir = save_dir or backup_dir
        # Training time of the processes before this one, up to the backup it resumes
        # from: a run stopped and resumed reports all its training time, not the last leg's.
        self.before = Elapsed()
        self._clock = Stopwatch()

    def on_train_begin(self, logs=None):
        self.before = Elapsed()
        self._clock = Stopwatch()
        super().on_train_begin(logs)

    def _save_model(self):
        kio.makedirs(self.save_dir)
        name = f"epoch-{self._current_epoch}.weights.h5"
        weights = os.path.join(self.save_dir, name)
        metadata_path = os.path.join(self.save_dir, os.path.basename(self._training_metadata_path))
        spent = self.before + self._clock.elapsed()
        metadata = {
            "weights": name,
            "epoch": self._current_epoch,
            "batch": self._last_batch_seen,
            "seed_states": [keras.ops.convert_to_numpy(v).tolist() for v in self._seeds()],
            "train_seconds": spent.seconds,
            "train_cpu_seconds": spent.cpu_seconds,
        }
        with deferred_interrupt():  # Ctrl-C inside h5py can deadlock the exit
            kio.write_file_atomic(weights, lambda local: self.model.save_weights(local))
            faults.checkpoint("backup-write")
            kio.write_text_atomic(metadata_path, json.dumps(metadata))
        for old in kio.glob(self.save_dir, "*.weights.h5"):
            if os.path.basename(old) != name:  # older epochs' (and a Keras-named) weights
                kio.remove_file(old)

    def _load_model(self):
        """Restore the backup its epoch marker names (none without a marker)."""
        if not kio.exists(self._training_metadata_path):
            return
        metadata = json.loads(kio.read_text(self._training_metadata_path))
        # Backups written before the marker named its weights used Keras' one file.
        weights = os.path.join(
            os.path.dirname(self._training_metadata_path),
            metadata.get("weights", os.path.basename(self._weights_path)),
        )
        if kio.exists(weights):
            if self.model.optimizer is not None and not self.model.optimizer.built:
                # Keras' order: the optimizer's variables exist before weights are loaded.
                self.model.optimizer.build(self.model.trainable_variables)
            self.model.load_weights(weights)
            self.model._initial_epoch = metadata["epoch"]
            states = metadata.get("seed_states") or []
            for variable, state in zip(self._seeds(), states, strict=False):
                variable.assign(state)
            # A backup written before CPU time was recorded adds none.
            self.before = Elapsed(
                float(metadata.get("train_seconds", 0.0)),
                float(metadata.get("train_cpu_seconds", 0.0)),
            )

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


class ResumableCSVLogger(keras.callbacks.Callback):
    """``history.csv``, one row per epoch, that survives kills and resumes (local or gs://).

    A run killed after writing an epoch's row but before its backup re-runs that epoch;
    so before the first epoch of a (resumed) fit, rows of that epoch and later are dropped.
    Place it before ``BackupAndRestore``: then every backed-up epoch already has its row.
    The file is rewritten whole and atomically after each epoch rather than appended to:
    a kill leaves the previous complete version, and buckets cannot append (Keras'
    ``CSVLogger`` also fails on a remote file when it closes it).
    """

    def __init__(self, filename: str):
        super().__init__()
        self.filename = filename
        self._lines: list[str] | None = None

    def on_train_begin(self, logs=None):
        self._lines = None  # the first epoch (known only at epoch begin) decides the trim

    def on_epoch_begin(self, epoch, logs=None):
        if self._lines is None:
            self._lines = rundir.history_lines(self.filename, keep_before=epoch)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if not self._lines:
            # Sorted log names, as Keras' CSVLogger, without its empty val_* columns.
            self._lines = [rundir.csv_line(["epoch", *sorted(logs)])]
        keys = next(csv.reader(self._lines[:1]))[1:]  # a resumed run keeps the file's columns
        self._lines.append(rundir.csv_line([epoch, *(logs.get(key, "NA") for key in keys)]))
        kio.write_text_atomic(self.filename, "".join(self._lines))
