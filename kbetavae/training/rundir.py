"""The run directory: the one home of its format, its name, and its readers and writers.

::

    <run>/config.json   the TrainConfig, package versions, git revision
    <run>/history.csv   one row per epoch; a resumed run keeps exactly one row per epoch
    <run>/backup/       resume state while the run is unfinished
    <run>/model.keras   the trained model (runs that finished without NaN)
    <run>/done.json     written last: status "done" or "failed", epochs, steps, final metrics;
                        a run directory with done.json is finished and never trained again
    <run>/metrics.json  the evaluation (``kbetavae.metrics.evaluate``), once evaluated
    <run>/tensorboard/  with ``TrainConfig(tensorboard=True)``

The run's name (its directory under a sweep) is :func:`run_name`; ``kbetavae train`` and
``kbetavae sweep`` both use it. Every write is atomic (local or ``gs://``).
"""

from __future__ import annotations

import csv
import dataclasses
import io as _io
import math
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from kbetavae import io
from kbetavae.errors import InputError
from kbetavae.provenance import provenance
from kbetavae.training.config import TrainConfig
from kbetavae.training.interrupts import deferred_interrupt

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
MODEL_FILE = "model.keras"
DONE_FILE = "done.json"
METRICS_FILE = "metrics.json"
BACKUP_DIR = "backup"
# Keras' BackupAndRestore: the epochs a backup holds, read back on resume.
BACKUP_METADATA = "training_metadata.json"
TENSORBOARD_DIR = "tensorboard"


@dataclasses.dataclass
class TrainResult:
    """The outcome of ``train``: the run's ``done.json``.

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
    model: Any = dataclasses.field(default=None, repr=False, compare=False)

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


def dir_name(run_dir: str) -> str:
    """The run's name as its directory gives it (``runs/t/beta=4_seed=0/`` -> ``beta=4_seed=0``),
    local or ``gs://``."""
    return os.path.basename(run_dir.rstrip("/"))


def run_name(config: TrainConfig) -> str:
    """The run's directory name: ``beta=4_seed=0`` for the β-VAE; other objectives lead with
    their name and main weight (``btcvae_beta=6_seed=0``, ``factorvae_gamma=10_seed=0``,
    and ``capacity=25_gamma=1000_seed=0`` as Burgess et al. name their runs)."""
    args, seed = config.objective_args, config.seed
    if config.objective == "beta":
        return f"beta={config.beta:g}_seed={seed}"
    if config.objective == "capacity":
        return f"capacity={args['capacity_max']:g}_gamma={args['gamma']:g}_seed={seed}"
    weight = _MAIN_WEIGHTS.get(config.objective, "beta")
    value = config.beta if weight == "beta" else args[weight]
    return f"{config.objective}_{weight}={value:g}_seed={seed}"


# Each objective's main weight (kbetavae.model.objectives' classes say the same; read
# here without importing TensorFlow). tests/training/test_rundir.py keeps the two equal.
_MAIN_WEIGHTS = {
    "btcvae": "beta",
    "dipvae_i": "lambda_od",
    "dipvae_ii": "lambda_od",
    "factorvae": "gamma",
}


def is_finished(run_dir: str) -> bool:
    """Whether the run has its ``done.json`` (it is never trained again)."""
    return io.exists(os.path.join(run_dir, DONE_FILE))


def backup_path(run_dir: str, backup_dir: str | os.PathLike | None = None) -> str:
    """Where a run's resume backup lives: ``backup_dir`` if given (Vertex AI's checkpoint
    directory), else ``<run_dir>/backup``."""
    return os.fspath(backup_dir) if backup_dir else os.path.join(run_dir, BACKUP_DIR)


def backup_epochs(backup_dir: str | os.PathLike) -> int:
    """How many epochs the resume backup in ``backup_dir`` holds: where a rerun of an
    interrupted run starts (0: no backup, so it starts afresh)."""
    path = os.path.join(os.fspath(backup_dir), BACKUP_METADATA)
    if not io.exists(path):
        return 0
    try:
        return int(io.read_json(path).get("epoch", 0))
    except (ValueError, TypeError, AttributeError):
        return 0  # damaged: the restore, not this line, reports it


def resume_words(epochs_done: int, epochs: int) -> str:
    """How a progress display says that a run resumes from its backup."""
    return f"resuming from epoch {epochs_done + 1}/{epochs} ({epochs_done} done before)"


def is_evaluated(run_dir: str) -> bool:
    return io.exists(os.path.join(run_dir, METRICS_FILE))


# -- config.json ---------------------------------------------------------------------------


def read_config(run_dir: str | os.PathLike) -> TrainConfig | None:
    """The ``TrainConfig`` recorded in a run's ``config.json`` (None without one)."""
    path = os.path.join(os.fspath(run_dir), CONFIG_FILE)
    if not io.exists(path):
        return None
    record = io.read_json(path)
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise InputError(f"{path} is not a kbetavae run config (no 'config' object)")
    return TrainConfig.from_dict(record["config"])


def write_config(run_dir: str, config: TrainConfig) -> None:
    """Record ``config`` (with provenance) unless the run has it already; InputError if the
    directory holds a run of another config."""
    if check_same_config(run_dir, config):
        return
    record = {"config": config.to_dict(), **provenance()}
    io.write_json_atomic(os.path.join(run_dir, CONFIG_FILE), record)


def check_same_config(run_dir: str, config: TrainConfig) -> bool:
    """True if ``run_dir`` records ``config``, False if it records none; InputError naming
    the differing settings if it records another."""
    stored = read_config(run_dir)
    if stored is None:
        return False
    if stored != config:
        new, old = config.to_dict(), stored.to_dict()
        changed = sorted(k for k, v in new.items() if old.get(k) != v)
        raise InputError(
            f"run directory {run_dir} holds a run with a different config "
            f"({', '.join(changed)}); use another run directory or delete it"
        )
    return True


# -- history.csv ---------------------------------------------------------------------------


def read_history(run_dir: str | os.PathLike) -> list[dict[str, float]]:
    """The rows of a run's ``history.csv`` as dicts of floats (columns with "NA" omitted)."""
    path = os.path.join(os.fspath(run_dir), HISTORY_FILE)
    if not io.exists(path):
        return []
    rows = []
    for row in csv.DictReader(_io.StringIO(io.read_text(path))):
        rows.append({k: float(v) for k, v in row.items() if v not in ("", "NA", None)})
    return rows


def history_lines(path: str, keep_before: int) -> list[str]:
    """The header and the rows of epochs before ``keep_before`` (later ones are re-run)."""
    if not io.exists(path):
        return []
    lines = io.read_text(path).splitlines(keepends=True)
    rows = zip(lines[1:], csv.reader(lines[1:]), strict=True)
    return lines[:1] + [line for line, row in rows if row and int(row[0]) < keep_before]


def csv_line(values: Sequence) -> str:
    buffer = _io.StringIO()
    csv.writer(buffer).writerow(values)  # the excel dialect Keras' CSVLogger writes
    return buffer.getvalue()


# -- done.json and model.keras -------------------------------------------------------------


def read_result(run_dir: str | os.PathLike) -> TrainResult | None:
    """The ``TrainResult`` of a finished run, from its ``done.json`` (None if unfinished)."""
    run_dir = os.fspath(run_dir)
    path = os.path.join(run_dir, DONE_FILE)
    if not io.exists(path):
        return None
    record = io.read_json(path)
    fields = {f.name for f in dataclasses.fields(TrainResult)} - {"model", "run_dir"}
    return TrainResult(run_dir=run_dir, **{k: v for k, v in record.items() if k in fields})


def write_result(result: TrainResult) -> None:
    """``done.json``: the run is finished (written last)."""
    record = {**result.to_dict(), "finished_at": datetime.now(timezone.utc).isoformat()}
    io.write_json_atomic(os.path.join(result.run_dir, DONE_FILE), _json_safe(record))


def outcome(model: Any, run_dir: str, rows: list[dict], seconds: float) -> TrainResult:
    """The ``TrainResult`` of a fit that logged ``rows`` (one per epoch): done, or failed
    in the first epoch whose loss is NaN or infinite."""
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


def finish(model: Any, run_dir: str, seconds: float) -> TrainResult:
    """The end of a run as its chief writes it: ``model.keras`` (if it did not fail), then
    ``done.json``."""
    result = outcome(model, run_dir, read_history(run_dir), seconds)
    if result.ok:
        save_model_atomic(model, result.model_path)
    write_result(result)
    return result


def save_model_atomic(model: Any, path: str) -> None:
    """``model.save(path)`` that never leaves a partial file (local or ``gs://``)."""
    # Keras insists on the .keras suffix, so save under a temporary directory, then move
    # the bytes into place atomically.
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, MODEL_FILE)
        with deferred_interrupt():  # Ctrl-C inside h5py can deadlock the exit
            model.save(local)
        with open(local, "rb") as handle:
            io.write_bytes_atomic(path, handle.read())


def _json_safe(value):
    """NaN and infinity as strings, so done.json stays strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value
