"""Train one BetaVAE (one β, one seed) into a run directory: distributed, resumable, atomic.

``train(config, run_dir)`` picks a ``tf.distribute`` strategy, builds and compiles the model
in its scope, and fits it on the data pipeline with Keras callbacks: ``BackupAndRestore``
(resume after a kill), ``TerminateOnNaN``, ``CSVLogger`` and optionally ``TensorBoard``.

Run directory::

    config.json   the TrainConfig, package versions, git revision
    history.csv   one row per epoch; a resumed run appends without duplicate rows
    backup/       BackupAndRestore state while the run is unfinished
    model.keras   the trained model (runs that finished without NaN)
    done.json     written last: status "done" or "failed", epochs, steps, final metrics.
                  A run directory with done.json is finished and is never trained again.
    tensorboard/  with ``TrainConfig(tensorboard=True)`` (or $AIP_TENSORBOARD_LOG_DIR/<run>)

Example:
    >>> from kbetavae.training import TrainConfig, train
    >>> result = train(TrainConfig(beta=4.0, seed=0, epochs=1, subset=256), "runs/demo")
    >>> result.status, result.epochs
    ('done', 1)
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io as _io
import math
import os
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from kbetavae import io
from kbetavae.callbacks import AtomicBackupAndRestore, PipelineEpoch
from kbetavae.cluster import is_chief, select_strategy, worker_scratch
from kbetavae.errors import InputError
from kbetavae.model.networks import check_latent_dim
from kbetavae.model.vae import OBJECTIVES, BetaVAE, check_epochs, check_weight
from kbetavae.provenance import provenance

PRECISIONS: tuple[str, ...] = ("float32", "mixed_bfloat16")
CONFIG_FILE, HISTORY_FILE, MODEL_FILE, DONE_FILE, BACKUP_DIR = (
    "config.json",
    "history.csv",
    "model.keras",
    "done.json",
    "backup",
)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that determines one training run; validated at construction.

    Defaults are the study's (10 epochs, batch 32, Adam 1e-3, a 50,000-image subset,
    z = 10); the capacity objective's follow Burgess et al. (2018): γ = 1000 and C rising
    to 25 nats over 100,000 steps. ``steps_per_execution`` runs that
    many steps per call into TensorFlow: per-batch callbacks (TerminateOnNaN among them)
    otherwise force a host sync every step, which cost up to 20 % of a bf16 step on the
    2-core CPU (benchmarks/bench_model.py).
    """

    beta: float = 1.0
    seed: int = 0
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    latent_dim: int = 10
    objective: str = "beta"
    gamma: float = 1000.0
    capacity_min: float = 0.0
    capacity_max: float = 25.0
    capacity_steps: int = 100_000
    subset: int = 50_000
    validation: int = 0
    source: str = "replica"
    steps_per_epoch: int | None = None
    steps_per_execution: int = 8
    jit_compile: bool = False
    precision: str = "float32"
    tensorboard: bool = False

    def __post_init__(self):
        check_weight("beta", self.beta)
        check_epochs(self.epochs)
        check_latent_dim(self.latent_dim)
        check_weight("gamma", self.gamma)
        check_weight("capacity_min", self.capacity_min)
        check_weight("capacity_max", self.capacity_max)
        _check_int("seed", self.seed, minimum=0)
        _check_int("batch_size", self.batch_size, minimum=1)
        _check_int("capacity_steps", self.capacity_steps, minimum=0)
        _check_int("subset", self.subset, minimum=1)
        _check_int("validation", self.validation, minimum=0)
        _check_int("steps_per_execution", self.steps_per_execution, minimum=1)
        if self.steps_per_epoch is not None:
            _check_int("steps_per_epoch", self.steps_per_epoch, minimum=1)
        if isinstance(self.lr, bool) or not isinstance(self.lr, int | float):
            raise InputError(f"lr must be a positive number, got {self.lr!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise InputError(f"lr must be a positive number, got {self.lr!r}")
        if self.objective not in OBJECTIVES:
            raise InputError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.precision not in PRECISIONS:
            raise InputError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if not isinstance(self.source, str) or not self.source:
            raise InputError(f"source must be a source name or path, got {self.source!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise InputError(f"unknown TrainConfig fields: {', '.join(unknown)}")
        return cls(**values)

    def model_kwargs(self) -> dict[str, Any]:
        """The BetaVAE constructor arguments of this run."""
        return {
            "beta": self.beta,
            "latent_dim": self.latent_dim,
            "objective": self.objective,
            "gamma": self.gamma,
            "capacity_min": self.capacity_min,
            "capacity_max": self.capacity_max,
            "capacity_steps": self.capacity_steps,
            "seed": self.seed,
        }


@dataclasses.dataclass
class TrainResult:
    """The outcome of :func:`train`, also stored in the run's ``done.json``.

    ``model`` is the trained model when this call trained it; for a run finished earlier
    it is None (load ``model_path`` with ``keras.models.load_model``).
    """

    run_dir: str
    status: str  # "done" or "failed"
    epochs: int
    steps: int
    metrics: dict[str, float]
    reason: str | None = None
    seconds: float | None = None
    model: BetaVAE | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == "done"

    @property
    def model_path(self) -> str:
        return os.path.join(self.run_dir, MODEL_FILE)

    def to_dict(self) -> dict[str, Any]:
        record = dataclasses.asdict(self)
        record.pop("model")
        record.pop("run_dir")
        return record


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
        source: a ``GroundTruthData`` to train on instead of opening ``config.source``
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
    backup = os.fspath(backup_dir) if backup_dir else os.path.join(run_dir, BACKUP_DIR)
    # Bad input fails before anything is written: the cluster, the storage, then the data.
    chief = is_chief()  # reads and checks TF_CONFIG
    io.check_reachable(run_dir, "run directory")
    io.check_reachable(backup, "backup directory")
    # Before any other TensorFlow op: a multi-worker strategy configures the runtime.
    strategy = strategy or select_strategy()
    if io.exists(os.path.join(run_dir, DONE_FILE)):
        return _finished_result(run_dir, config)
    replicas = strategy.num_replicas_in_sync
    if config.batch_size < replicas:
        raise InputError(
            f"batch_size {config.batch_size} is smaller than the {replicas} replicas that "
            "share each batch; it is the global batch (per-replica batch × replicas)"
        )
    epoch = PipelineEpoch()
    train_data, validation_data = _datasets(config, source, replicas, epoch.variable)
    if chief:
        _write_config(run_dir, config)

    started = time.monotonic()
    keras.utils.set_random_seed(config.seed)
    # Keras runs several steps per execution as a while loop around a cond, where the
    # multi-worker strategy's collective ops fail ("You must feed a value for placeholder"):
    # there, every step is its own call.
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    with _dtype_policy(config.precision), strategy.scope():
        model = BetaVAE(**config.model_kwargs())
        model.compile(
            keras.optimizers.Adam(config.lr),
            jit_compile=config.jit_compile,
            steps_per_execution=1 if multi_worker else config.steps_per_execution,
        )
    with worker_scratch(chief) as scratch:
        history = model.fit(
            train_data,
            epochs=config.epochs,
            steps_per_epoch=config.steps_per_epoch,
            validation_data=validation_data,
            callbacks=[epoch, *_callbacks(config, run_dir, backup, scratch), *callbacks],
            verbose=verbose,
            shuffle=False,  # the pipeline shuffles; Keras would only warn that it cannot
        )
        seconds = time.monotonic() - started
        if scratch is not None:
            return _finish_worker(model, history, run_dir, scratch, seconds)
        return _finish(model, run_dir, seconds, backup)


def run_name(config: TrainConfig) -> str:
    """The run directory name of DESIGN.md's layout: ``beta=4_seed=0`` (or
    ``capacity=25_gamma=1000_seed=0`` for the capacity objective)."""
    if config.objective == "capacity":
        return f"capacity={config.capacity_max:g}_gamma={config.gamma:g}_seed={config.seed}"
    return f"beta={config.beta:g}_seed={config.seed}"


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
            self._lines = _history_lines(self.filename, keep_before=epoch)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if not self._lines:
            # Sorted log names, as Keras' CSVLogger, without its empty val_* columns.
            self._lines = [_csv_line(["epoch", *sorted(logs)])]
        keys = next(csv.reader(self._lines[:1]))[1:]  # a resumed run keeps the file's columns
        self._lines.append(_csv_line([epoch, *(logs.get(key, "NA") for key in keys)]))
        io.write_text_atomic(self.filename, "".join(self._lines))


def read_history(run_dir: str | os.PathLike) -> list[dict[str, float]]:
    """The rows of a run's ``history.csv`` as dicts of floats (columns with "NA" omitted)."""
    path = os.path.join(os.fspath(run_dir), HISTORY_FILE)
    if not io.exists(path):
        return []
    rows = []
    for row in csv.DictReader(_io.StringIO(io.read_text(path))):
        rows.append({k: float(v) for k, v in row.items() if v not in ("", "NA", None)})
    return rows


def read_config(run_dir: str | os.PathLike) -> TrainConfig | None:
    """The ``TrainConfig`` recorded in a run's ``config.json`` (None without one)."""
    path = os.path.join(os.fspath(run_dir), CONFIG_FILE)
    if not io.exists(path):
        return None
    record = io.read_json(path)
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise InputError(f"{path} is not a kbetavae run config (no 'config' object)")
    return TrainConfig.from_dict(record["config"])


def read_result(run_dir: str | os.PathLike) -> TrainResult | None:
    """The ``TrainResult`` of a finished run, from its ``done.json`` (None if unfinished)."""
    run_dir = os.fspath(run_dir)
    path = os.path.join(run_dir, DONE_FILE)
    if not io.exists(path):
        return None
    record = io.read_json(path)
    fields = {f.name for f in dataclasses.fields(TrainResult)} - {"model", "run_dir"}
    return TrainResult(run_dir=run_dir, **{k: v for k, v in record.items() if k in fields})


# -- the pieces of a run ------------------------------------------------------------------


def _datasets(config: TrainConfig, source, replicas: int, epoch: tf.Variable):
    """(training data, validation data or None); each training epoch's order is fixed by
    (seed, epoch), so a run's batches do not depend on the strategy or on resumes."""
    from kbetavae.data import open_source, training_dataset, validation_dataset

    source = source if source is not None else open_source(config.source)
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
        callbacks.append(ResumableCSVLogger(os.path.join(run_dir, HISTORY_FILE)))
    save_dir = None if scratch is None else os.path.join(scratch, BACKUP_DIR)
    callbacks.append(AtomicBackupAndRestore(backup, save_dir=save_dir))
    if config.tensorboard or os.environ.get("AIP_TENSORBOARD_LOG_DIR"):
        root = os.environ.get("AIP_TENSORBOARD_LOG_DIR")
        if scratch is not None:
            log_dir = os.path.join(scratch, "tensorboard")
        elif root:
            log_dir = os.path.join(root, os.path.basename(os.path.normpath(run_dir)))
        else:
            log_dir = os.path.join(run_dir, "tensorboard")
        callbacks.append(keras.callbacks.TensorBoard(log_dir=log_dir))
    return callbacks


def _finish(model: BetaVAE, run_dir: str, seconds: float, backup: str) -> TrainResult:
    """The chief's end of a run: the model, ``done.json``, and the backup removed."""
    result = _result(model, run_dir, read_history(run_dir), seconds)
    if result.ok:
        _save_model_atomic(model, os.path.join(run_dir, MODEL_FILE))
    record = {**result.to_dict(), "finished_at": datetime.now(timezone.utc).isoformat()}
    io.write_json_atomic(os.path.join(run_dir, DONE_FILE), _json_safe(record))
    io.remove_tree(backup)
    return result


def _finish_worker(model: BetaVAE, history, run_dir: str, scratch: str, seconds: float):
    """A non-chief worker's end of a run: it saves as the chief does (saving may need every
    worker's collective ops) but into its scratch directory, which is then deleted."""
    rows = [
        {"epoch": epoch, **{key: values[i] for key, values in history.history.items()}}
        for i, epoch in enumerate(history.epoch)
    ]
    result = _result(model, run_dir, rows, seconds)
    if result.ok or not rows:  # no rows: the chief's backup said every epoch was done
        result.status, result.reason = "done", None
        model.save(os.path.join(scratch, MODEL_FILE))
    return result


def _result(model: BetaVAE, run_dir: str, rows: list[dict], seconds: float) -> TrainResult:
    bad = next((row for row in rows if not math.isfinite(row.get("loss", math.nan))), None)
    if rows and bad is None:
        status, reason = "done", None
    else:
        epoch = int(bad["epoch"]) + 1 if bad else None
        status = "failed"
        reason = f"loss became NaN or infinite in epoch {epoch}" if epoch else "no epoch logged"
    return TrainResult(
        run_dir=run_dir,
        status=status,
        epochs=len(rows),
        steps=int(model.optimizer.iterations.numpy()),
        metrics={k: v for k, v in rows[-1].items() if k != "epoch"} if rows else {},
        reason=reason,
        seconds=round(seconds, 3),
        model=model,
    )


def _finished_result(run_dir: str, config: TrainConfig) -> TrainResult:
    _check_same_config(run_dir, config)
    return read_result(run_dir)


def _write_config(run_dir: str, config: TrainConfig) -> None:
    path = os.path.join(run_dir, CONFIG_FILE)
    if io.exists(path):
        _check_same_config(run_dir, config)
        return
    io.write_json_atomic(path, {"config": config.to_dict(), **provenance()})


def _check_same_config(run_dir: str, config: TrainConfig) -> None:
    path = os.path.join(run_dir, CONFIG_FILE)
    if not io.exists(path):
        return
    stored = io.read_json(path).get("config", {})
    if stored != config.to_dict():
        changed = sorted(k for k, v in config.to_dict().items() if stored.get(k) != v)
        raise InputError(
            f"run_dir {run_dir} holds a run with a different config ({', '.join(changed)}); "
            "use another run directory or delete it"
        )


def _history_lines(path: str, keep_before: int) -> list[str]:
    """The header and the rows of epochs before ``keep_before`` (later ones are re-run)."""
    if not io.exists(path):
        return []
    lines = io.read_text(path).splitlines(keepends=True)
    rows = zip(lines[1:], csv.reader(lines[1:]), strict=True)
    return lines[:1] + [line for line, row in rows if row and int(row[0]) < keep_before]


def _csv_line(values: Sequence) -> str:
    buffer = _io.StringIO()
    csv.writer(buffer).writerow(values)  # the excel dialect Keras' CSVLogger writes
    return buffer.getvalue()


def _save_model_atomic(model: keras.Model, path: str) -> None:
    # Keras insists on the .keras suffix, so save under a temporary directory, then move
    # the bytes into place atomically (works for gs:// paths too).
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, MODEL_FILE)
        model.save(local)
        with open(local, "rb") as handle:
            io.write_bytes_atomic(path, handle.read())


@contextlib.contextmanager
def _dtype_policy(name: str):
    """Set Keras' global dtype policy while the model is built, then restore it."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _json_safe(value):
    """NaN and infinity as strings, so done.json stays strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value
