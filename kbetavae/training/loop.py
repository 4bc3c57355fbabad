"""``train(config, run_dir)``: one model, one run directory, distributed, resumable, atomic.

Picks a ``tf.distribute`` strategy, builds and compiles the model in its scope, and fits it
on the data pipeline with Keras callbacks (:mod:`kbetavae.training.callbacks`): resume
after a kill, ``TerminateOnNaN``, ``history.csv`` and optionally ``TensorBoard``. The
run directory's format is :mod:`kbetavae.training.rundir`.

Example:
    >>> from kbetavae.training import TrainConfig, train
    >>> result = train(TrainConfig(beta=4.0, seed=0, epochs=1, subset=256), "runs/demo")
    >>> result.status, result.epochs
    ('done', 1)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence

import keras
import tensorflow as tf

from kbetavae import io
from kbetavae.errors import InputError
from kbetavae.model.vae import BetaVAE
from kbetavae.training import rundir
from kbetavae.training.callbacks import (
    AtomicBackupAndRestore,
    PipelineEpoch,
    ResumableCSVLogger,
)
from kbetavae.training.clock import Elapsed, Stopwatch
from kbetavae.training.cluster import is_chief, select_strategy, worker_scratch
from kbetavae.training.config import TrainConfig
from kbetavae.training.interrupts import deferred_interrupt
from kbetavae.training.rundir import TrainResult


def train(
    config: TrainConfig,
    run_dir: str | os.PathLike,
    *,
    source=None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: str | int = "auto",
    strategy: tf.distribute.Strategy | None = None,
    backup_dir: str | os.PathLike | None = None,
) -> TrainResult:
    """Train (or resume, or return the finished) run of ``config`` in ``run_dir``.

    Args:
        config: the run's hyperparameters.
        run_dir: its directory (created; local path or ``gs://``).
        source: a ``GroundTruthData`` to train on instead of opening the config's data
            (lets a sweep open the data once).
        callbacks: extra Keras callbacks.
        verbose: passed to ``fit``.
        strategy: a ``tf.distribute.Strategy``; default :func:`select_strategy`.
        backup_dir: where resume backups go (default ``<run_dir>/backup``; Vertex AI jobs
            use ``$AIP_CHECKPOINT_DIR/<run>``).

    A loss that becomes NaN or infinite ends the run as ``status="failed"`` (recorded in
    ``done.json``, not raised).

    In a multi-worker job (TF_CONFIG) every worker calls ``train`` with the same
    arguments; only the chief writes ``run_dir`` and the backups, which must be on storage
    every worker reads (``gs://`` on Vertex AI): a resumed job restores the chief's backup.
    """
    if not isinstance(config, TrainConfig):
        raise InputError(f"config must be a TrainConfig, got {type(config).__name__}")
    run_dir = os.fspath(run_dir)
    backup = rundir.backup_path(run_dir, backup_dir)
    # Bad input fails before anything is written: the cluster, the storage, then the data.
    chief = is_chief()  # reads and checks TF_CONFIG
    io.check_reachable(run_dir, "run directory")
    io.check_reachable(backup, "backup directory")
    # Before any other TensorFlow op: a multi-worker strategy configures the runtime.
    strategy = strategy or select_strategy()
    if rundir.is_finished(run_dir):
        rundir.check_same_config(run_dir, config)
        return rundir.read_result(run_dir)
    replicas = strategy.num_replicas_in_sync
    if config.batch_size < replicas:
        raise InputError(
            f"batch_size {config.batch_size} is smaller than the {replicas} replicas that "
            "share each batch; it is the global batch (per-replica batch × replicas)"
        )
    epoch = PipelineEpoch()
    train_data, validation_data = datasets(config, source, replicas, epoch.variable)
    if chief:
        rundir.write_config(run_dir, config)

    clock = Stopwatch()
    keras.utils.set_random_seed(config.seed)
    # Keras runs several steps per execution as a while loop around a cond, where the
    # multi-worker strategy's collective ops fail ("You must feed a value for placeholder"):
    # there, every step is its own call.
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    with dtype_policy(config.precision), strategy.scope():
        model = BetaVAE(**config.model_kwargs())
        model.compile(
            keras.optimizers.Adam(config.lr),
            jit_compile=config.jit_compile,
            steps_per_execution=1 if multi_worker else config.steps_per_execution,
        )
    with worker_scratch(chief) as scratch:
        own = _callbacks(config, run_dir, backup, scratch)
        history = model.fit(
            train_data,
            epochs=config.epochs,
            steps_per_epoch=config.steps_per_epoch,
            validation_data=validation_data,
            callbacks=[epoch, *own, *callbacks],
            verbose=verbose,
            shuffle=False,  # the pipeline shuffles; Keras would only warn that it cannot
        )
        restored = next(c for c in own if isinstance(c, AtomicBackupAndRestore))
        elapsed = restored.before + clock.elapsed()
        if scratch is not None:
            return _finish_worker(model, history, run_dir, scratch, elapsed)
        return _finish(model, run_dir, elapsed, backup)


# -- the pieces of a run ------------------------------------------------------------------


def datasets(config: TrainConfig, source, replicas: int, epoch: tf.Variable):
    """(training data, validation data or None); each training epoch's order is fixed by
    (seed, epoch), so a run's batches do not depend on the strategy or on resumes."""
    from kbetavae.data import training_dataset, validation_dataset

    source = source if source is not None else config.open_data()
    common = {
        "subset": config.subset,
        "batch_size": config.batch_size,
        "seed": config.seed,
        "replicas": replicas,
    }
    train_data = training_dataset(source, validation=config.validation, epoch=epoch, **common)
    validation_data = None
    if config.validation:
        validation_data = validation_dataset(source, validation=config.validation, **common)
    return train_data, validation_data


def _callbacks(
    config: TrainConfig, run_dir: str, backup: str, scratch: str | None
) -> list[keras.callbacks.Callback]:
    """The run's callbacks; a non-chief worker (``scratch`` set) writes only to scratch."""
    callbacks: list[keras.callbacks.Callback] = [keras.callbacks.TerminateOnNaN()]
    if scratch is None:
        # Before BackupAndRestore, so an epoch is backed up only once its row is written.
        callbacks.append(ResumableCSVLogger(rundir.history_path(run_dir)))
    save_dir = None if scratch is None else os.path.join(scratch, rundir.BACKUP_DIR)
    callbacks.append(AtomicBackupAndRestore(backup, save_dir=save_dir))
    if config.tensorboard or os.environ.get("AIP_TENSORBOARD_LOG_DIR"):
        root = os.environ.get("AIP_TENSORBOARD_LOG_DIR")
        if scratch is not None:
            log_dir = os.path.join(scratch, rundir.TENSORBOARD_DIR)
        elif root:
            log_dir = os.path.join(root, os.path.basename(os.path.normpath(run_dir)))
        else:
            log_dir = os.path.join(run_dir, rundir.TENSORBOARD_DIR)
        callbacks.append(keras.callbacks.TensorBoard(log_dir=log_dir))
    return callbacks


def _finish(model: BetaVAE, run_dir: str, elapsed: Elapsed, backup: str) -> TrainResult:
    """The chief's end of a run: the model, ``done.json``, and the backup removed."""
    result = rundir.finish(model, run_dir, elapsed)
    io.remove_tree(backup)
    return result


def _finish_worker(model: BetaVAE, history, run_dir: str, scratch: str, elapsed: Elapsed):
    """A non-chief worker's end of a run: it saves as the chief does (saving may need every
    worker's collective ops) but into its scratch directory, which is then deleted."""
    rows = [
        {"epoch": epoch, **{key: values[i] for key, values in history.history.items()}}
        for i, epoch in enumerate(history.epoch)
    ]
    result = rundir.outcome(model, run_dir, rows, elapsed)
    if result.ok or not rows:  # no rows: the chief's backup said every epoch was done
        result.status, result.reason = "done", None
        with deferred_interrupt():  # Ctrl-C inside h5py can deadlock the exit
            model.save(rundir.model_path(scratch))
    return result


@contextlib.contextmanager
def dtype_policy(name: str):
    """Set Keras' global dtype policy while the model is built, then restore it."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
