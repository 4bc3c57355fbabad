"""The run directory: the one home of its format, its name, and its readers and writers.

::

    <run>/config.json   the TrainConfig, package versions, git revision
    <run>/history.csv   one row per epoch; a resumed run keeps exactly one row per epoch
    <run>/backup/       resume state while the run is unfinished
    <run>/model.keras   the trained model (runs that finished without NaN)
    <run>/done.json     written last: status "done" or "failed", epochs, steps, final metrics,
                        seconds (wall) and cpu_seconds (CPU) of training; a run directory
                        with done.json is finished and never trained again
    <run>/metrics.json  the evaluation (``kbetavae.metrics.evaluate``), once evaluated
    <run>/tensorboard/  with ``TrainConfig(tensorboard=True)``

and, in a published run (``kbetavae publish``, which keeps no model.keras)::

    <run>/encoder.npz           the encoder's weights in float16 (:mod:`kbetavae.trained.archive`)
    <run>/metrics_float32.json  after ``publish --from-archive``: the sweep's metrics.json
                                (from the float32 model), metrics.json being the archive's

and a run's SavedModel, outside the run directory (:func:`export_dir`)::

    <saved_models>[/<sweep>]/<run>/<version>/   TF Serving's layout; version 1 first

The run's name (its directory under a sweep) is :func:`run_name`; ``kbetavae train`` and
``kbetavae sweep`` both use it. Every write is atomic (local or ``gs://``). Other modules
reach these files only through this module's paths, readers and writers
(tests/test_architecture.py keeps it so).

Every reader here checks what it reads: a file that exists but cannot be what it should
be (empty, cut short, not JSON, rows of the wrong width; a finished run without its model)
raises :class:`~kbetavae.errors.DamagedFile` naming the file and the repair: rerun the
sweep with ``--redo <run>`` (:func:`repair_hint`). :func:`check_run` reads them all.

The module is long because it is the one home of the format: each file's name, reader,
writer and checks.
"""

from __future__ import annotations

import csv
import dataclasses
import io as _io
import json
import math
import os
import shutil
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from kbetavae import io
from kbetavae.errors import DamagedFile, InputError
from kbetavae.model import catalog
from kbetavae.provenance import provenance
from kbetavae.training.clock import Elapsed
from kbetavae.training.config import TrainConfig
from kbetavae.training.interrupts import deferred_interrupt

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
MODEL_FILE = "model.keras"
DONE_FILE = "done.json"
METRICS_FILE = "metrics.json"
# A published run's encoder weights (float16), what re-evaluation needs without the model.
ARCHIVE_FILE = "encoder.npz"
# A published run re-evaluated from its archive keeps the float32 model's record here.
FLOAT32_METRICS_FILE = "metrics_float32.json"
BACKUP_DIR = "backup"
# Keras' BackupAndRestore: the epochs a backup holds, read back on resume.
BACKUP_METADATA = "training_metadata.json"
TENSORBOARD_DIR = "tensorboard"
# The version directory of a first export (TF Serving serves the highest number).
SAVED_MODEL_VERSION = "1"
# Beside a SavedModel's TF Serving directory, never inside it (it would be read as a model
# version): what ``kbetavae evaluate`` writes for an exported model.
EXPORTED_METRICS_SUFFIX = "_" + METRICS_FILE


@dataclasses.dataclass
class TrainResult:
    """The outcome of ``train``: the run's ``done.json``.

    ``seconds`` is the wall time of training (from building the model to its last epoch,
    summed over the legs of a resumed run); ``cpu_seconds`` the CPU time (user + system,
    all threads) the training process spent over the same span
    (:mod:`kbetavae.training.clock`). For a member of a fused group both are the group's:
    its members trained together, in one step. ``cpu_seconds`` is None in a ``done.json``
    written before it was recorded. ``model`` is the trained model when this call trained
    it; for a run finished earlier it is None (load ``model_path`` with
    ``keras.models.load_model``).
    """

    run_dir: str
    status: str  # "done" or "failed"
    epochs: int
    steps: int
    metrics: dict[str, float]
    reason: str | None = None
    seconds: float | None = None
    cpu_seconds: float | None = None
    model: Any = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == "done"

    @property
    def model_path(self) -> str:
        return model_path(self.run_dir)

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
    and ``capacity=25_gamma=1000_seed=0`` as Burgess et al. name their runs), then any
    argument away from its default (``btcvae_beta=6_estimator=mss_seed=0``): one name per
    (objective, arguments, seed), :func:`kbetavae.model.catalog.run_label`."""
    return seed_run_name(setting_name(config), config.seed)


def seed_run_name(setting: str, seed: int) -> str:
    """The directory name of ``setting``'s run at ``seed`` (a results row names both)."""
    return f"{setting}_seed={seed}"


def setting_name(config: TrainConfig) -> str:
    """The run's name without its seed: the same for every seed of one setting."""
    # Completed with the objective's defaults, as config.objective_args is.
    defaults = config.replace(objective_args={}).objective_args if config.objective_args else {}
    values = {"beta": config.beta, **config.objective_args}
    return catalog.run_label(config.objective, values, defaults)


def is_finished(run_dir: str) -> bool:
    """Whether the run has its ``done.json`` (it is never trained again)."""
    return io.exists(os.path.join(run_dir, DONE_FILE))


def is_run_dir(path: str) -> bool:
    """Whether ``path`` is a run directory: it has its ``config.json`` (written first)."""
    return io.exists(os.path.join(path, CONFIG_FILE))


def find_run_dirs(directory: str, max_depth: int) -> list[str]:
    """The run directories at ``directory`` or up to ``max_depth`` levels below it (those
    holding a ``config.json``; it may be another program's, so read it with care)."""
    found = []
    for depth in range(max_depth + 1):
        pattern = os.path.join(*["*"] * depth, CONFIG_FILE)
        found += [os.path.dirname(path) for path in io.glob(directory, pattern)]
    return found


# A run's records: what a published report keeps of it (no model, no resume state).
RECORD_FILES = (CONFIG_FILE, HISTORY_FILE, METRICS_FILE, DONE_FILE)


def copy_records(run_dir: str, target_dir: str) -> list[str]:
    """Copy the run's records that exist into ``target_dir`` (atomically); the paths
    written."""
    return [
        io.copy_atomic(os.path.join(run_dir, file), os.path.join(target_dir, file))
        for file in RECORD_FILES
        if io.exists(os.path.join(run_dir, file))
    ]


def missing_records(run_dir: str, finished: bool) -> list[str]:
    """The records a run lacks: ``config.json`` and ``done.json``, and (``finished``: a
    run that did not fail) ``history.csv`` and ``metrics.json``."""
    files = (CONFIG_FILE, DONE_FILE) + ((HISTORY_FILE, METRICS_FILE) if finished else ())
    return [file for file in files if not io.exists(os.path.join(run_dir, file))]


def model_path(run_dir: str) -> str:
    """The run's trained model, ``<run_dir>/model.keras``."""
    return os.path.join(run_dir, MODEL_FILE)


def has_model(run_dir: str) -> bool:
    return io.exists(model_path(run_dir))


def archive_path(run_dir: str) -> str:
    """The published run's encoder archive, ``<run_dir>/encoder.npz``."""
    return os.path.join(run_dir, ARCHIVE_FILE)


def has_archive(run_dir: str) -> bool:
    return io.exists(archive_path(run_dir))


def history_path(run_dir: str) -> str:
    """The run's ``history.csv`` (written by the training's CSV logger)."""
    return os.path.join(run_dir, HISTORY_FILE)


def export_dir(
    saved_models: str | os.PathLike,
    run: str,
    sweep: str | None = None,
    version: int | str | None = SAVED_MODEL_VERSION,
) -> str:
    """Where run ``run`` is exported: ``<saved_models>/<sweep>/<run>/<version>`` for a run
    of sweep ``sweep``, ``<saved_models>/<run>/<version>`` for a run trained on its own;
    ``version=None``: the TF Serving model directory that holds every version."""
    parts = [*([sweep] if sweep else []), run, *([str(version)] if version is not None else [])]
    return os.path.join(os.fspath(saved_models), *parts)


def exported_metrics_path(saved_model_dir: str) -> str:
    """Where the evaluation of a SavedModel goes: beside its TF Serving model directory.

    ``saved_models/s/beta=4_seed=0/1`` -> ``saved_models/s/beta=4_seed=0_v1_metrics.json``;
    an unversioned SavedModel ``exported/`` -> ``exported_metrics.json``.
    """
    path = saved_model_dir.rstrip("/")
    name = os.path.basename(path)
    if name.isdigit():
        return f"{os.path.dirname(path)}_v{name}{EXPORTED_METRICS_SUFFIX}"
    return f"{path}{EXPORTED_METRICS_SUFFIX}"


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
    return io.exists(metrics_path(run_dir))


# -- damaged files --------------------------------------------------------------------------


def repair_hint(run_dir: str, file: str) -> str:
    """What to do about a damaged ``file`` of the run in ``run_dir``: evaluate it again
    (metrics.json), publish it again (a published run's archive), or train it again, in
    each case unless a copy can be restored."""
    if file in (ARCHIVE_FILE, FLOAT32_METRICS_FILE):
        return (
            "publish the run again from its sweep (`kbetavae publish <sweep> <report>` "
            "writes it from the sweep's model.keras), or restore it from a copy"
        )
    if file == METRICS_FILE:
        return (
            "delete it and rerun the same `kbetavae sweep` command (it evaluates the run "
            "again, without training), or restore it from a copy"
        )
    return (
        f"retrain the run: rerun the same `kbetavae sweep` command with --redo "
        f"{dir_name(run_dir)}, or restore the file from a copy"
    )


def _damaged(run_dir: str, file: str, problem: str) -> DamagedFile:
    return DamagedFile(os.path.join(run_dir, file), problem, repair_hint(run_dir, file))


def damaged_archive(run_dir: str, problem: str) -> DamagedFile:
    """The error of a run's encoder.npz that cannot be read (its reader is
    :mod:`kbetavae.trained.archive`, which knows the format)."""
    return _damaged(run_dir, ARCHIVE_FILE, problem)


def _read_record(run_dir: str, file: str) -> dict | None:
    """The JSON object in ``run_dir/file`` (None if there is no such file)."""
    path = os.path.join(run_dir, file)
    if not io.exists(path):
        return None
    try:
        text = io.read_text(path)
        if not text.strip():
            raise _damaged(run_dir, file, "empty")
        record = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError (cut mid-character)
        if isinstance(exc, DamagedFile):
            raise
        raise _damaged(run_dir, file, f"not JSON: {exc}") from None
    if not isinstance(record, dict):
        raise _damaged(run_dir, file, f"a JSON {type(record).__name__}, not an object")
    return record


def remove_temporaries(run_dir: str) -> None:
    """Delete the temporary files a killed atomic write left in ``run_dir`` (local only;
    call it only while no other process writes there, e.g. holding the run's claim)."""
    if io.is_remote(run_dir):
        return
    for path in io.glob(run_dir, io.TEMPORARY_PATTERN):
        os.unlink(path)


def discard(run_dir: str, keep: Sequence[str] = ()) -> None:
    """Delete a run's files so that it trains afresh (``--redo``); entries named in
    ``keep`` stay (a claim's lock file, which must outlive its holders)."""
    if io.is_remote(run_dir) or not keep:
        io.remove_tree(run_dir)
        return
    for entry in os.listdir(run_dir) if os.path.isdir(run_dir) else ():
        path = os.path.join(run_dir, entry)
        if entry in keep:
            continue
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)


def check_run(run_dir: str | os.PathLike, need_model: bool = True) -> None:
    """Read every file of a run directory; DamagedFile for the first that is damaged.

    Besides each reader's checks: a finished run's ``history.csv`` has the epochs its
    ``done.json`` records, and (``need_model``) a finished run that did not fail has its
    ``model.keras``. A missing file is not damage where the run may not have written it
    yet; commands that only read a run's records (report, publish) pass
    ``need_model=False``: published runs keep no models.
    """
    run_dir = os.fspath(run_dir)
    read_config(run_dir)
    rows = read_history(run_dir)
    result = read_result(run_dir)
    read_metrics(run_dir)
    if result is None:
        return
    if len(rows) != result.epochs:
        problem = f"{len(rows)} epochs where {DONE_FILE} records {result.epochs}"
        raise _damaged(run_dir, HISTORY_FILE, problem)
    if need_model and result.ok and not io.exists(result.model_path):
        raise _damaged(run_dir, MODEL_FILE, f"missing, though {DONE_FILE} says the run is done")


# -- config.json ---------------------------------------------------------------------------


def read_machine(run_dir: str | os.PathLike) -> dict | None:
    """The machine ``config.json`` records the run was trained on (``{"cpu", "cores"}``,
    :func:`kbetavae.provenance.machine`); None without a config or a record of it."""
    record = _read_record(os.fspath(run_dir), CONFIG_FILE)
    return None if record is None else record.get("machine")


def read_config(run_dir: str | os.PathLike) -> TrainConfig | None:
    """The ``TrainConfig`` recorded in a run's ``config.json`` (None without one)."""
    run_dir = os.fspath(run_dir)
    record = _read_record(run_dir, CONFIG_FILE)
    if record is None:
        return None
    if not isinstance(record.get("config"), dict):
        raise _damaged(run_dir, CONFIG_FILE, "no 'config' object")
    return TrainConfig.from_dict(record["config"])


def config_of_model(model_file_or_dir: str) -> TrainConfig | None:
    """The ``TrainConfig`` of the run directory holding a model (a run directory or its
    ``model.keras``); None for a model that is not in a run directory."""
    path = model_file_or_dir
    return read_config(path if io.is_dir(path) else os.path.dirname(path))


def data_choice(
    config: TrainConfig | None,
    source: str | None = None,
    data: str | None = None,
    painting: str | None = None,
) -> tuple[str, str, str | None]:
    """The ``(source, data, painting)`` to open for a model: each one given, else its run's
    (``config``, from :func:`config_of_model`), else ``TrainConfig``'s (plain dSprites on
    the replica): a colour run is evaluated and traversed on colour images by default."""
    base = config or TrainConfig()
    return source or base.source, data or base.data, painting or base.painting


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
    return [row for _, row in _history(history_path(os.fspath(run_dir)))]


def history_lines(path: str, keep_before: int) -> list[str]:
    """The header and the rows of epochs before ``keep_before`` (later ones are re-run)."""
    rows = _history(path)
    if not rows:
        return []
    header = io.read_text(path).splitlines(keepends=True)[:1]
    return header + [line for line, row in rows if row["epoch"] < keep_before]


def _history(path: str) -> list[tuple[str, dict[str, float]]]:
    """(line, row of floats) per epoch of ``history.csv``; DamagedFile unless every line
    is whole: the writer ends each with a newline and gives it the header's width."""
    if not io.exists(path):
        return []
    run_dir = os.path.dirname(path)
    try:
        text = io.read_text(path)
    except UnicodeDecodeError:
        raise _damaged(run_dir, HISTORY_FILE, "not text") from None
    if not text.endswith("\n"):
        raise _damaged(run_dir, HISTORY_FILE, "empty" if not text else "its last line is cut")
    lines = text.splitlines(keepends=True)
    header = next(csv.reader(lines[:1]))
    if header[:1] != ["epoch"]:
        raise _damaged(run_dir, HISTORY_FILE, "no 'epoch' header")
    rows = []
    parsed = zip(lines[1:], csv.reader(lines[1:]), strict=True)
    for number, (line, cells) in enumerate(parsed, start=2):
        if len(cells) != len(header):
            problem = f"line {number} has {len(cells)} fields, the header {len(header)}"
            raise _damaged(run_dir, HISTORY_FILE, problem)
        try:
            row = {k: float(v) for k, v in zip(header, cells, strict=True) if v not in ("", "NA")}
        except ValueError:
            raise _damaged(run_dir, HISTORY_FILE, f"line {number} is not numbers") from None
        rows.append((line, row))
    return rows


def csv_line(values: Sequence) -> str:
    buffer = _io.StringIO()
    csv.writer(buffer).writerow(values)  # the excel dialect Keras' CSVLogger writes
    return buffer.getvalue()


# -- done.json and model.keras -------------------------------------------------------------


def read_result(run_dir: str | os.PathLike) -> TrainResult | None:
    """The ``TrainResult`` of a finished run, from its ``done.json`` (None if unfinished)."""
    run_dir = os.fspath(run_dir)
    record = _read_record(run_dir, DONE_FILE)
    if record is None:
        return None
    required = ("status", "epochs", "steps", "metrics")
    if any(key not in record for key in required) or record["status"] not in ("done", "failed"):
        raise _damaged(run_dir, DONE_FILE, f"not a run's outcome ({', '.join(required)})")
    fields = {f.name for f in dataclasses.fields(TrainResult)} - {"model", "run_dir"}
    return TrainResult(run_dir=run_dir, **{k: v for k, v in record.items() if k in fields})


def same_training(run_dir: str, other: str) -> bool:
    """Whether two directories hold the same finished training: equal ``done.json``
    records (its ``finished_at`` tells two trainings of one run apart); False if either
    has none or a damaged one."""
    try:
        record = _read_record(run_dir, DONE_FILE)
        return record is not None and record == _read_record(other, DONE_FILE)
    except DamagedFile:
        return False


# -- metrics.json ----------------------------------------------------------------------------


def metrics_path(run_dir: str) -> str:
    """The run's evaluation, ``<run_dir>/metrics.json``."""
    return os.path.join(run_dir, METRICS_FILE)


def read_metrics(run_dir: str | os.PathLike) -> dict | None:
    """The evaluation record of a run, its ``metrics.json`` (None if not evaluated)."""
    return _read_record(os.fspath(run_dir), METRICS_FILE)


def write_metrics(run_dir: str, record: dict) -> str:
    """Write the run's evaluation record (atomically); return the path written."""
    path = metrics_path(run_dir)
    io.write_json_atomic(path, record)
    return path


def float32_metrics_path(run_dir: str) -> str:
    """The float32 model's record of a run re-evaluated from its archive."""
    return os.path.join(run_dir, FLOAT32_METRICS_FILE)


def read_float32_metrics(run_dir: str) -> dict | None:
    """The float32 model's record kept beside an archive's metrics.json (None if none)."""
    return _read_record(os.fspath(run_dir), FLOAT32_METRICS_FILE)


def read_sweep_metrics(run_dir: str | os.PathLike) -> dict | None:
    """The evaluation the run's sweep made of its float32 model: ``metrics_float32.json``
    where ``publish --from-archive`` kept it, else ``metrics.json`` (None if neither)."""
    record = read_float32_metrics(os.fspath(run_dir))
    return record if record is not None else read_metrics(run_dir)


def write_float32_metrics(run_dir: str, record: dict) -> str:
    """Keep the float32 model's record beside the archive's metrics.json; the path."""
    path = float32_metrics_path(run_dir)
    io.write_json_atomic(path, record)
    return path


def write_result(result: TrainResult) -> None:
    """``done.json``: the run is finished (written last)."""
    record = {**result.to_dict(), "finished_at": datetime.now(timezone.utc).isoformat()}
    io.write_json_atomic(os.path.join(result.run_dir, DONE_FILE), _json_safe(record))


def outcome(model: Any, run_dir: str, rows: list[dict], elapsed: Elapsed) -> TrainResult:
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
        seconds=round(elapsed.seconds, 3),
        cpu_seconds=round(elapsed.cpu_seconds, 3),
        model=model,
    )


def finish(model: Any, run_dir: str, elapsed: Elapsed) -> TrainResult:
    """The end of a run as its chief writes it: ``model.keras`` (if it did not fail), then
    ``done.json``."""
    return finish_together([model], [run_dir], elapsed)[0]


def finish_together(
    models: Sequence[Any], run_dirs: Sequence[str], elapsed: Elapsed
) -> list[TrainResult]:
    """:func:`finish` for runs trained together (a fused group): every model first, then
    every ``done.json``. A kill while the models are written leaves the whole group
    unfinished, so its rerun restores the group's backup; once one member has its
    ``done.json``, the others form a new group that this backup no longer fits."""
    results = [
        outcome(model, run_dir, read_history(run_dir), elapsed)
        for model, run_dir in zip(models, run_dirs, strict=True)
    ]
    for model, result in zip(models, results, strict=True):
        if result.ok:
            save_model_atomic(model, result.model_path)
    for result in results:
        write_result(result)
    return results


def save_model_atomic(model: Any, path: str) -> None:
    """``model.save(path)`` that never leaves a partial file (local or ``gs://``)."""

    def save(local: str) -> None:
        with deferred_interrupt():  # Ctrl-C inside h5py can deadlock the exit
            model.save(local)

    io.write_file_atomic(path, save)


def _json_safe(value):
    """NaN and infinity as strings, so done.json stays strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value
