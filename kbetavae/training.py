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
import json
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
from kbetavae.callbacks import AtomicBackupAndRestore
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

    A loss that becomes NaN or infinite ends the run as ``status="failed"`` (recorded in
    ``done.json``, not raised).
    """
    if not isinstance(config, TrainConfig):
        raise InputError(f"config must be a TrainConfig, got {type(config).__name__}")
    run_dir = os.fspath(run_dir)
    if io.exists(os.path.join(run_dir, DONE_FILE)):
        return _finished_result(run_dir, config)
    # The data first: a bad source or subset fails before anything is written.
    train_data, validation_data = _datasets(config, source)
    chief = is_chief()
    if chief:
        _write_config(run_dir, config)

    started = time.monotonic()
    keras.utils.set_random_seed(config.seed)
    strategy = strategy or select_strategy()
    with _dtype_policy(config.precision), strategy.scope():
        model = BetaVAE(**config.model_kwargs())
        model.compile(
            keras.optimizers.Adam(config.lr),
            jit_compile=config.jit_compile,
            steps_per_execution=config.steps_per_execution,
        )
    model.fit(
        train_data,
        epochs=config.epochs,
        steps_per_epoch=config.steps_per_epoch,
        validation_data=validation_data,
        callbacks=[*_callbacks(config, run_dir, chief), *callbacks],
        verbose=verbose,
        shuffle=False,  # the pipeline shuffles; Keras would only warn that it cannot
    )
    return _finish(model, run_dir, chief, time.monotonic() - started)


def run_name(config: TrainConfig) -> str:
    """The run directory name of DESIGN.md's layout: ``beta=4_seed=0`` (or
    ``capacity=25_gamma=1000_seed=0`` for the capacity objective)."""
    if config.objective == "capacity":
        return f"capacity={config.capacity_max:g}_gamma={config.gamma:g}_seed={config.seed}"
    return f"beta={config.beta:g}_seed={config.seed}"


def select_strategy() -> tf.distribute.Strategy:
    """The strategy for this machine and cluster; see :func:`strategy_kind`."""
    kind = strategy_kind(_tf_config(), len(tf.config.list_logical_devices("GPU")))
    if kind == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def strategy_kind(tf_config: dict, num_gpus: int) -> str:
    """``"multi_worker"`` when TF_CONFIG names several tasks, ``"mirrored"`` over ≥ 2 GPUs,
    otherwise ``"default"`` (one device, a GPU if there is one)."""
    cluster = tf_config.get("cluster", {})
    if sum(len(cluster.get(kind, [])) for kind in ("chief", "worker")) > 1:
        return "multi_worker"
    return "mirrored" if num_gpus > 1 else "default"


def is_chief() -> bool:
    """Whether this process writes the run's files (the chief, or worker 0 without one)."""
    tf_config = _tf_config()
    task = tf_config.get("task", {})
    if not task:
        return True
    if task.get("type") == "chief":
        return True
    has_chief = bool(tf_config.get("cluster", {}).get("chief"))
    return task.get("type") == "worker" and task.get("index", 0) == 0 and not has_chief


class ResumableCSVLogger(keras.callbacks.CSVLogger):
    """CSVLogger that appends across resumes without duplicate epochs.

    A run killed after writing an epoch's row but before its backup re-runs that epoch;
    so before the first epoch of a (resumed) fit, rows of that epoch and later are dropped.
    Place it before ``BackupAndRestore``: then every backed-up epoch already has its row.
    """

    def __init__(self, filename: str):
        super().__init__(filename, append=True)

    def on_train_begin(self, logs=None):
        self._opened = False  # the first epoch (known only at epoch begin) decides the trim

    def on_epoch_begin(self, epoch, logs=None):
        if not self._opened:
            header = _trim_history(self.filename, keep_before=epoch)
            super().on_train_begin()
            # A resumed run keeps the file's columns.
            self.keys = header[1:] if header else None
            self._opened = True

    def on_epoch_end(self, epoch, logs=None):
        if self.keys is None:
            # Keras would add empty val_* columns to a run without validation.
            self.keys = sorted(logs or {})
        super().on_epoch_end(epoch, logs)


def read_history(run_dir: str | os.PathLike) -> list[dict[str, float]]:
    """The rows of a run's ``history.csv`` as dicts of floats (columns with "NA" omitted)."""
    path = os.path.join(os.fspath(run_dir), HISTORY_FILE)
    if not io.exists(path):
        return []
    rows = []
    for row in csv.DictReader(_io.StringIO(io.read_text(path))):
        rows.append({k: float(v) for k, v in row.items() if v not in ("", "NA", None)})
    return rows


# -- the pieces of a run ------------------------------------------------------------------


def _datasets(config: TrainConfig, source):
    from kbetavae.data import open_source, training_dataset, validation_dataset

    source = source if source is not None else open_source(config.source)
    common = {"subset": config.subset, "batch_size": config.batch_size, "seed": config.seed}
    train_data = training_dataset(source, validation=config.validation, **common)
    validation_data = None
    if config.validation:
        validation_data = validation_dataset(source, validation=config.validation, **common)
    return train_data, validation_data


def _callbacks(config: TrainConfig, run_dir: str, chief: bool) -> list[keras.callbacks.Callback]:
    callbacks: list[keras.callbacks.Callback] = [keras.callbacks.TerminateOnNaN()]
    if chief:
        # Before BackupAndRestore, so an epoch is backed up only once its row is written.
        callbacks.append(ResumableCSVLogger(os.path.join(run_dir, HISTORY_FILE)))
    callbacks.append(AtomicBackupAndRestore(os.path.join(run_dir, BACKUP_DIR)))
    if config.tensorboard or os.environ.get("AIP_TENSORBOARD_LOG_DIR"):
        root = os.environ.get("AIP_TENSORBOARD_LOG_DIR")
        log_dir = (
            os.path.join(root, os.path.basename(os.path.normpath(run_dir)))
            if root
            else os.path.join(run_dir, "tensorboard")
        )
        callbacks.append(keras.callbacks.TensorBoard(log_dir=log_dir))
    return callbacks


def _finish(model: BetaVAE, run_dir: str, chief: bool, seconds: float) -> TrainResult:
    rows = read_history(run_dir) if chief else []
    bad = next((row for row in rows if not math.isfinite(row.get("loss", math.nan))), None)
    if rows and bad is None:
        status, reason = "done", None
    else:
        epoch = int(bad["epoch"]) + 1 if bad else None
        status = "failed"
        reason = f"loss became NaN or infinite in epoch {epoch}" if epoch else "no epoch logged"
    result = TrainResult(
        run_dir=run_dir,
        status=status,
        epochs=len(rows),
        steps=int(model.optimizer.iterations.numpy()),
        metrics={k: v for k, v in rows[-1].items() if k != "epoch"} if rows else {},
        reason=reason,
        seconds=round(seconds, 3),
        model=model,
    )
    if chief:
        if result.ok:
            _save_model_atomic(model, os.path.join(run_dir, MODEL_FILE))
        record = {**result.to_dict(), "finished_at": datetime.now(timezone.utc).isoformat()}
        io.write_json_atomic(os.path.join(run_dir, DONE_FILE), _json_safe(record))
        io.remove_tree(os.path.join(run_dir, BACKUP_DIR))
    return result


def _finished_result(run_dir: str, config: TrainConfig) -> TrainResult:
    _check_same_config(run_dir, config)
    record = io.read_json(os.path.join(run_dir, DONE_FILE))
    fields = {f.name for f in dataclasses.fields(TrainResult)} - {"model", "run_dir"}
    return TrainResult(run_dir=run_dir, **{k: v for k, v in record.items() if k in fields})


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


def _trim_history(path: str, keep_before: int) -> list[str] | None:
    """Drop rows of epochs ≥ ``keep_before`` (they are about to be re-run); return the header."""
    if not io.exists(path):
        return None
    lines = io.read_text(path).splitlines(keepends=True)
    if not lines:
        return None
    rows = list(csv.reader(lines[1:]))
    keep = [
        line for line, row in zip(lines[1:], rows, strict=True) if row and int(row[0]) < keep_before
    ]
    if len(keep) != len(lines) - 1:
        io.write_text_atomic(path, "".join([lines[0], *keep]))
    return next(csv.reader(lines[:1]))


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


def _tf_config() -> dict:
    try:
        return json.loads(os.environ.get("TF_CONFIG") or "{}")
    except json.JSONDecodeError as exc:
        raise InputError(f"TF_CONFIG is not valid JSON: {exc}") from None


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
