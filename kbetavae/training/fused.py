"""``train_group(configs, run_dirs)``: the runs of one seed trained together, one fused step.

Each member is built as :func:`kbetavae.training.loop.train` builds it
(``keras.utils.set_random_seed(seed)`` then ``BetaVAE(...)``, compiled with its own Adam),
trained by :class:`~kbetavae.model.fused.FusedVAE` on the batches the seed's runs share,
and finished as ``train`` finishes a run: its run directory holds ``config.json``, its
own ``history.csv``, ``model.keras`` and ``done.json``
(:mod:`kbetavae.training.rundir`). The group's resume backup is one
:class:`~kbetavae.training.callbacks.AtomicBackupAndRestore` of the fused model (every
member's weights, Adam state, noise state and whether it is still alive), so a group
killed with ``kill -9`` resumes where an uninterrupted one would be.

A member whose loss becomes NaN fails alone: its ``done.json`` says
``"loss became NaN or infinite in epoch E"`` as ``train`` would, and the others go on.

Example:
    >>> configs = [TrainConfig(beta=b, seed=0, epochs=1, subset=256) for b in (1.0, 4.0)]
    >>> results = train_group(configs, ["runs/g/beta=1_seed=0", "runs/g/beta=4_seed=0"])
    >>> [r.status for r in results]  # doctest: +SKIP
    ['done', 'done']
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

import keras

from kbetavae import io
from kbetavae.errors import InputError
from kbetavae.model import catalog
from kbetavae.model.fused import FusedVAE, member_logs
from kbetavae.model.vae import BetaVAE
from kbetavae.training import rundir
from kbetavae.training.callbacks import (
    AtomicBackupAndRestore,
    PipelineEpoch,
    ResumableCSVLogger,
)
from kbetavae.training.clock import Stopwatch
from kbetavae.training.config import TrainConfig
from kbetavae.training.loop import datasets, dtype_policy
from kbetavae.training.rundir import TrainResult

# In a group's backup directory: the names of its members, one a line.
MEMBERS_FILE = "members.txt"


def can_fuse(configs: Sequence[TrainConfig]) -> bool:
    """True if ``configs`` may share one fused step: same settings but the objective's (name,
    β, arguments), each objective fusable (:mod:`kbetavae.model.catalog`: none with an
    adversary). TensorBoard logs (one writer per model) need separate runs."""
    if len(configs) < 2:
        return False
    shared = [_without_objective(c) for c in configs]
    if any(s != shared[0] for s in shared) or configs[0].tensorboard:
        return False
    return all(catalog.facts(c.objective).fusable for c in configs)


def train_group(
    configs: Sequence[TrainConfig],
    run_dirs: Sequence[str | os.PathLike],
    *,
    source=None,
    member_callbacks: Sequence[Sequence[keras.callbacks.Callback]] | None = None,
    verbose: str | int = 0,
    backup_dir: str | os.PathLike | None = None,
) -> list[TrainResult]:
    """Train (or resume, or return the finished) runs of ``configs`` in ``run_dirs`` together.

    Args:
        configs: the members' configs; equal except for their objectives (:func:`can_fuse`).
        run_dirs: one run directory per config.
        source: the ``GroundTruthData`` to train on (default: open ``configs[0]``'s data).
        member_callbacks: per member, Keras callbacks that see that member as
            ``self.model`` and its own logs (``loss``, ``kl`` …), as under ``train``.
        verbose: passed to ``fit``.
        backup_dir: the group's resume backup (default :func:`group_backup_dir`), removed
            when the group finishes.

    Returns one ``TrainResult`` per member, in order; finished members are read, not trained.
    """
    configs = list(configs)
    run_dirs = [os.fspath(d) for d in run_dirs]
    if len(configs) != len(run_dirs) or not configs:
        raise InputError("configs and run_dirs must be non-empty and of the same length")
    if not all(isinstance(c, TrainConfig) for c in configs):
        raise InputError("configs must be TrainConfigs")
    if any(_without_objective(c) != _without_objective(configs[0]) for c in configs):
        raise InputError("configs of a fused group must differ in their objective only")
    member_callbacks = list(member_callbacks or [[] for _ in configs])
    backup = os.fspath(backup_dir or group_backup_dir(run_dirs))
    for run_dir in run_dirs:
        io.check_reachable(run_dir, "run directory")
    results: list[TrainResult | None] = []
    for config, run_dir in zip(configs, run_dirs, strict=True):
        finished = rundir.is_finished(run_dir)
        if finished:
            rundir.check_same_config(run_dir, config)
        results.append(rundir.read_result(run_dir) if finished else None)
    todo = [k for k, result in enumerate(results) if result is None]
    if todo:
        trained = _train_members(
            [configs[k] for k in todo],
            [run_dirs[k] for k in todo],
            source,
            [member_callbacks[k] for k in todo],
            verbose,
            backup,
        )
        for k, result in zip(todo, trained, strict=True):
            results[k] = result
    return results


def _train_members(configs, run_dirs, source, member_callbacks, verbose, backup):
    config = configs[0]
    epoch = PipelineEpoch()
    train_data, validation_data = datasets(config, source, 1, epoch.variable)
    for member_config, run_dir in zip(configs, run_dirs, strict=True):
        rundir.write_config(run_dir, member_config)
    # Which runs the backup holds, so that retraining one (sweep --redo) can drop it.
    members = "".join(os.path.basename(d.rstrip("/")) + "\n" for d in run_dirs)
    io.write_text_atomic(os.path.join(backup, MEMBERS_FILE), members)
    clock = Stopwatch()
    members = []
    with dtype_policy(config.precision):
        for member_config in configs:
            # As train() does for each run: the member's init is its seed's.
            keras.utils.set_random_seed(member_config.seed)
            member = BetaVAE(**member_config.model_kwargs())
            member.compile(
                keras.optimizers.Adam(member_config.lr),
                jit_compile=config.jit_compile,
                steps_per_execution=config.steps_per_execution,
            )
            members.append(member)
        fused = FusedVAE(members)
        fused.compile(
            jit_compile=config.jit_compile,
            steps_per_execution=config.steps_per_execution,
        )
    views = [
        MemberView(
            k,
            [ResumableCSVLogger(rundir.history_path(run_dir)), *extra],
        )
        for k, (run_dir, extra) in enumerate(zip(run_dirs, member_callbacks, strict=True))
    ]
    restore = AtomicBackupAndRestore(backup)
    fused.fit(
        train_data,
        epochs=config.epochs,
        steps_per_epoch=config.steps_per_epoch,
        validation_data=validation_data,
        # Histories before the backup: an epoch is backed up only once its rows exist.
        callbacks=[epoch, *views, StopWhenAllFailed(), restore],
        verbose=verbose,
        shuffle=False,
    )
    elapsed = restore.before + clock.elapsed()
    results = rundir.finish_together(members, run_dirs, elapsed)  # the group's time
    io.remove_tree(backup)
    parent = os.path.dirname(backup)
    if not io.is_remote(parent) and os.path.isdir(parent) and not os.listdir(parent):
        os.rmdir(parent)  # the last group's backup leaves no empty .fused-backup behind
    return results


class MemberView(keras.callbacks.Callback):
    """Runs ``callbacks`` as if they were in member ``k``'s own ``fit``: ``self.model`` is
    the member, logs are its own. Once the member has failed (NaN), they hear nothing
    more, so its ``history.csv`` ends with the epoch that went NaN, as under ``train``."""

    def __init__(self, k: int, callbacks: Sequence[keras.callbacks.Callback]):
        super().__init__()
        self.k = k
        self.callbacks = list(callbacks)
        self._alive = True

    def set_params(self, params):
        super().set_params(params)
        for callback in self.callbacks:
            callback.set_params(params)

    def set_model(self, model):
        super().set_model(model)
        for callback in self.callbacks:
            callback.set_model(model.members[self.k])

    def _alive_now(self) -> bool:
        return bool(self.model.alive.numpy()[self.k])

    def _call(self, hook: str, *args, logs=None):
        for callback in self.callbacks:
            getattr(callback, hook)(*args, logs=member_logs(logs, self.k))

    def on_train_begin(self, logs=None):
        self._alive = self._alive_now()  # a resumed group restores who is alive
        if self._alive:
            self._call("on_train_begin", logs=logs)

    def on_epoch_begin(self, epoch, logs=None):
        if self._alive:
            self._call("on_epoch_begin", epoch, logs=logs)

    def on_train_batch_begin(self, batch, logs=None):
        if self._alive:
            self._call("on_train_batch_begin", batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        if self._alive:
            self._call("on_train_batch_end", batch, logs=logs)

    def on_epoch_end(self, epoch, logs=None):
        if self._alive:
            self._call("on_epoch_end", epoch, logs=logs)
        self._alive = self._alive_now()

    def on_train_end(self, logs=None):
        if self._alive:
            self._call("on_train_end", logs=logs)


class StopWhenAllFailed(keras.callbacks.Callback):
    """Ends the fused fit once every member has failed: nothing is left to train."""

    def on_train_batch_end(self, batch, logs=None):
        if not self.model.alive.numpy().any():
            self.model.stop_training = True


def group_backup_dir(run_dirs: Sequence[str]) -> str:
    """``<parent of the runs>/.fused-backup/<hash of the run names>``: a group of other
    members (another --max-group, runs finished meanwhile) never restores this backup."""
    dirs = [_stripped(d) for d in run_dirs]
    names = "\n".join(os.path.basename(d) for d in dirs)
    digest = hashlib.sha256(names.encode()).hexdigest()[:12]
    return os.path.join(_backups_root(dirs[0]), digest)


def backups_holding(run_dir: str | os.PathLike) -> list[str]:
    """The group backups that hold ``run_dir``'s weights: a run trained afresh must not
    restore them (its group's other members would resume, it would not)."""
    name = os.path.basename(_stripped(run_dir))
    root = _backups_root(_stripped(run_dir))
    return [
        os.path.dirname(path)
        for path in io.glob(root, f"*/{MEMBERS_FILE}")
        if name in io.read_text(path).splitlines()
    ]


def _stripped(run_dir: str | os.PathLike) -> str:
    # rstrip, not normpath: normpath would turn gs://b/x into gs:/b/x, a local path.
    return os.fspath(run_dir).rstrip("/")


def _backups_root(run_dir: str) -> str:
    return os.path.join(os.path.dirname(run_dir), ".fused-backup")


def _without_objective(config: TrainConfig) -> dict:
    """The settings fused members share: all but the objective's (name, β, arguments)."""
    record = config.to_dict()
    for key in ("objective", "beta", "objective_args"):
        record.pop(key)
    return record
