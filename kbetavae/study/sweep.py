"""A sweep: train, evaluate and export every run of a plan, resumably; tabulate as it goes.

Every step leaves a file behind that says it is done (``done.json``, ``metrics.json``, the
SavedModel directory), so rerunning the same sweep skips what is finished and resumes an
interrupted training from its last epoch. A run whose loss becomes NaN is recorded as
failed and the sweep goes on. The sweep directory's files are
:mod:`kbetavae.study.results`'s; figures and the report are drawn by the caller
(``kbetavae sweep`` does) from those files.

The module is long because one resumable loop holds the whole life of a run in a sweep:
the plan on disk, claims (shared with ``--jobs`` workers), fused groups, evaluation and
export.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from kbetavae import io as kio
from kbetavae.cloud import SAVED_MODELS_DIR
from kbetavae.errors import DamagedFile, InputError
from kbetavae.provenance import provenance
from kbetavae.study.claims import (
    CLAIM_FILE,
    REPORT_CLAIM_FILE,
    holder,
    try_claim,
    wait_for_claim,
)
from kbetavae.study.evaluation import evaluate_models
from kbetavae.study.plan import SweepPlan, group_label, run_groups
from kbetavae.study.results import (
    PLAN_FILE,
    RUNS_KEY,
    read_plan_record,
    run_row,
    write_results,
)
from kbetavae.trained.load import load_model
from kbetavae.training import rundir
from kbetavae.training.cluster import is_multi_worker, read_tf_config
from kbetavae.validation import check_int

logger = logging.getLogger(__name__)
SHARES = ("alone", "lead", "worker")
# Where sweeps and their exports go unless told (kbetavae sweep's --out, --saved-models).
RUNS_ROOT = "runs"
SAVED_MODELS_ROOT = SAVED_MODELS_DIR


# How a run's status at the start of a sweep is said, by every progress display.
STATUS_WORDS = {"finished": "already finished", "trained": "already trained", "running": "training"}


class Progress:
    """Hooks a sweep calls so a front end can show where it is; the default says nothing."""

    def sweep_started(self, plan: SweepPlan, todo: int, passes: int | None = None) -> None:
        """``todo`` runs to finish; ``passes`` training passes among them (a fused group
        trains its members in one pass; None: one per run)."""

    def run_started(self, index: int, total: int, config, status: str) -> list:
        """Return extra Keras callbacks for this run's training. ``status``: "finished"
        (nothing to do), "trained" (evaluation or export left) or "running"."""
        return []

    def resumed(self, epochs_done: int, epochs: int) -> None:
        """The run just started resumes from a backup of ``epochs_done`` of its epochs."""

    def focus(self, label: str) -> None:
        """What the following stages and epochs are about (a run, or a fused group)."""

    def stage(self, message: str) -> None: ...

    def note(self, text: str) -> None:
        """Something to know that is no error (the traversal figure is of another β than
        asked); logged as a warning unless a front end shows it."""
        logger.warning("%s", text)

    def evaluation(self, done: int, total: int) -> None:
        """Images encoded so far in this run's evaluation, of ``total`` expected."""

    def run_finished(self, row: dict) -> None: ...

    def jobs_started(self, jobs: int, threads: int) -> None:
        """The sweep is shared by ``jobs`` processes of ``threads`` intra-op threads each."""

    def job_line(self, job: int, text: str) -> None:
        """A line from worker process ``job`` (2 … N; this process is job 1)."""


def run_sweep(
    plan: SweepPlan,
    out: str | os.PathLike = RUNS_ROOT,
    saved_models: str | os.PathLike = SAVED_MODELS_ROOT,
    *,
    force: bool = False,
    progress: Progress | None = None,
    fuse: bool = True,
    max_group: int | None = None,
    share: str = "alone",
    redo: Sequence[str] = (),
) -> list[dict]:
    """Run (or resume) the sweep ``plan`` under ``out``; return the results rows.

    Refuses (InputError) to reuse a sweep directory that holds another plan unless
    ``force``; with ``force`` the runs whose settings changed are started afresh.

    With ``fuse`` (the default) the runs of one seed train together in one fused step
    (:func:`kbetavae.training.fused.train_group`), at most ``max_group`` at a time (default:
    all the seed's βs); runs that cannot be fused (an objective with an adversary,
    TensorBoard logs) train one by one. Each run is claimed (:mod:`kbetavae.study.claims`)
    while this process works on it: a run another sweep holds is skipped, then waited
    for at the end, so two sweeps of one ``--name`` never train a run twice.

    ``share`` says who else works on the sweep: ``"alone"`` (any other process is a
    surprise, said in a warning), ``"lead"`` (the lead of ``--jobs`` workers, which waits
    for their runs without warning) or ``"worker"`` (one of those workers: it skips held
    runs without waiting and leaves ``results.csv`` to the lead;
    :mod:`kbetavae.study.jobs`).

    ``redo`` names runs (``beta=4_seed=0``) to train afresh: their files and export are
    deleted first (the repair of a damaged run, :func:`kbetavae.training.rundir.check_run`).
    """
    if share not in SHARES:
        raise InputError(f"share must be one of {SHARES}, got {share!r}")
    progress = progress or Progress()
    sweep_dir, data = prepare_sweep(plan, out, saved_models, force, max_group, redo=redo)
    configs = plan.configs()
    todo = sum(
        not rundir.is_evaluated(os.path.join(sweep_dir, rundir.run_name(c))) for c in configs
    )
    groups = run_groups(configs, max_group) if fuse else [[c] for c in configs]
    progress.sweep_started(plan, todo, training_passes(groups, sweep_dir))
    sweep = _Sweep(plan, sweep_dir, os.fspath(saved_models), data, progress, force, configs)
    sweep.write_table = share != "worker"
    # Others' runs are expected when sharing: said at INFO, not as a warning.
    say = logger.warning if share == "alone" else logger.info
    waiting = []
    for group in groups:
        claims, mine = [], []
        for config in group:
            claim = try_claim(sweep.run_dir(config))
            if claim is None:
                waiting.append(config)
                say(
                    "%s is being worked on by %s; it is waited for at the end",
                    rundir.run_name(config),
                    holder(sweep.run_dir(config)),
                )
            else:
                claims.append(claim)
                mine.append(config)
                # Held, so no other process writes here: a killed writer's leftovers go.
                rundir.remove_temporaries(sweep.run_dir(config))
        try:
            sweep.run_group(mine)
        finally:
            for claim in claims:
                claim.release()
    if share == "worker":
        return sweep.ordered_rows()
    for config in waiting:
        say("waiting for %s (held by %s)", rundir.run_name(config), holder(sweep.run_dir(config)))
        with wait_for_claim(sweep.run_dir(config)):
            # Finished by its holder by now, so read; trained here if its holder died.
            sweep.run_group([config])
    return sweep.ordered_rows()


def prepare_sweep(
    plan: SweepPlan,
    out: str | os.PathLike,
    saved_models: str | os.PathLike,
    force: bool = False,
    max_group: int | None = None,
    redo: Sequence[str] = (),
) -> tuple[str, object]:
    """Check everything about a sweep's input before anything is trained (its runs' files
    too: DamagedFile for a damaged one not in ``redo``), record its plan in ``sweep.json``
    and discard the runs to ``redo``; return the sweep directory and the data."""
    if max_group is not None:
        check_int("max_group", max_group, minimum=1)
    sweep_dir = os.path.join(os.fspath(out), plan.name)
    # Everything that can be wrong with the input is checked before anything is written.
    if is_multi_worker(read_tf_config()):
        raise InputError(
            "kbetavae sweep runs in one process; with TF_CONFIG naming several workers, run "
            "`kbetavae train` on each worker per (β, seed), then `kbetavae collect` the runs"
        )
    data = plan.base.open_data()
    if plan.base.subset > data.num_images:
        raise InputError(
            f"subset {plan.base.subset} is larger than the dataset ({data.num_images} images)"
        )
    created = kio.check_writable_all(
        [(os.fspath(out), "out"), (os.fspath(saved_models), "saved_models")]
    )
    try:
        names = [rundir.run_name(c) for c in plan.configs()]
        for name in redo:
            if name not in names:
                raise InputError(f"redo {name} is not a run of this sweep ({', '.join(names)})")
        for name in names:
            if name not in redo:
                rundir.check_run(os.path.join(sweep_dir, name))
        _claim_sweep_dir(sweep_dir, plan, force)
    except InputError:
        kio.remove_created(created)  # refused: no empty --out or --saved-models is left
        raise
    for name in redo:
        _redo(os.path.join(sweep_dir, name), rundir.export_dir(saved_models, name, plan.name, None))
    if kio.is_remote(sweep_dir):
        logger.warning(
            "runs under %s are not claimed (no file locks on a bucket): do not run two "
            "sweeps of one --name at once",
            sweep_dir,
        )
    return sweep_dir, data


def training_passes(groups: list[list], sweep_dir: str) -> int:
    """How many ``fit`` calls the groups still need, as :meth:`_Sweep.run_group` makes
    them: one for a group's unfinished members if they fuse, else one per member."""
    passes = 0
    for group in groups:
        left = [
            c for c in group if not rundir.is_finished(os.path.join(sweep_dir, rundir.run_name(c)))
        ]
        if len(left) > 1:
            from kbetavae.training.fused import can_fuse  # TensorFlow: only with work left

            passes += 1 if can_fuse(left) else len(left)
        else:
            passes += len(left)
    return passes


class _Sweep:
    """One sweep's runs: train a group, evaluate and export its members, keep the rows."""

    def __init__(self, plan, sweep_dir, saved_models, data, progress, force, configs):
        self.plan, self.sweep_dir, self.saved_models = plan, sweep_dir, saved_models
        self.data, self.progress, self.force = data, progress, force
        self.configs = list(configs)
        self.index = {rundir.run_name(c): i for i, c in enumerate(configs)}
        self.rows: dict[int, dict] = {}
        self.write_table = True

    def run_dir(self, config) -> str:
        return os.path.join(self.sweep_dir, rundir.run_name(config))

    def export_dir(self, config) -> str:
        return rundir.export_dir(self.saved_models, rundir.run_name(config), self.plan.name)

    def ordered_rows(self) -> list[dict]:
        return [self.rows[i] for i in sorted(self.rows)]

    def run_group(self, configs: list) -> None:
        from kbetavae.trained.export import is_exported
        from kbetavae.training.fused import can_fuse, group_backup_dir, train_group
        from kbetavae.training.loop import train

        if not configs:
            return
        total = len(self.index)
        if self.force:
            for config in configs:
                _discard_if_changed(self.run_dir(config), config, self.export_dir(config))
        unfinished = [k for k, c in enumerate(configs) if not rundir.is_finished(self.run_dir(c))]
        fused = len(unfinished) > 1 and can_fuse([configs[k] for k in unfinished])
        # The backup a resumed run restores: its group's when fused, else its own.
        group_backup = (
            group_backup_dir([self.run_dir(configs[k]) for k in unfinished]) if fused else None
        )
        callbacks = []
        for config in configs:
            run_dir = self.run_dir(config)
            if rundir.is_evaluated(run_dir) and is_exported(self.export_dir(config)):
                status = "finished"
            elif rundir.is_finished(run_dir):
                status = "trained"
            else:
                status = "running"
            index = self.index[rundir.run_name(config)]
            callbacks.append(self.progress.run_started(index, total, config, status))
            if status == "running":
                done = rundir.backup_epochs(group_backup or rundir.backup_path(run_dir))
                if done:
                    self.progress.resumed(done, config.epochs)
        results = {}
        if fused:
            members = [configs[k] for k in unfinished]
            self.progress.focus(group_label(members))
            # One member reports the group's epochs (they are the same steps for all).
            trained = train_group(
                members,
                [self.run_dir(c) for c in members],
                source=self.data,
                member_callbacks=[callbacks[k] if k == unfinished[0] else [] for k in unfinished],
            )
            results = dict(zip(unfinished, trained, strict=True))
        # Finished runs are read back by train, unfusable ones trained one by one.
        for k, config in enumerate(configs):
            if k not in results:
                # The epochs reported next are this run's, not the group's last announced.
                index = self.index[rundir.run_name(config)]
                self.progress.focus(f"[{index + 1}/{total}] {rundir.run_name(config)}")
                results[k] = train(
                    config,
                    self.run_dir(config),
                    source=self.data,
                    callbacks=callbacks[k],
                    verbose=0,
                )
        records = self._evaluate(configs, results)
        for k, config in enumerate(configs):
            index = self.index[rundir.run_name(config)]
            self.progress.focus(f"[{index + 1}/{total}] {rundir.run_name(config)}")
            row = self._export(config, results[k], records.get(k))
            self.rows[index] = row
            self._write_table()
            self.progress.run_finished(row)
        self._score_settings()

    def _score_settings(self) -> None:
        """UDR for every setting whose last seed just settled, into its runs' files; the
        table then reads them (:meth:`_write_table`)."""
        from kbetavae.study.setting_scores import UDR_POINTS, ready_settings, score_setting

        for run_dirs in ready_settings(self.plan.configs(), self.run_dir):
            self.progress.stage(f"UDR over {len(run_dirs)} seeds")
            score_setting(run_dirs, self.data, min(UDR_POINTS, self.plan.eval_points))
            self._write_table()

    def _write_table(self) -> None:
        """results.csv from this sweep's rows, each evaluated run's read again from its files
        under the sweep's report claim: a second sweep on the same directory may have scored
        a setting (UDR) since this one kept the row, and the last table written must have it
        (a stale in-memory row once undid it, seen in test_faults_cli's two sweeps at once)."""
        if not self.write_table:
            return
        with wait_for_claim(self.sweep_dir, poll_seconds=0.2, file=REPORT_CLAIM_FILE):
            for index, row in self.rows.items():
                if row["status"] == "done":
                    config = self.configs[index]
                    self.rows[index] = run_row(config, rundir.read_result(self.run_dir(config)))
            write_results(self.sweep_dir, self.ordered_rows())

    def _evaluate(self, configs: list, results: dict) -> dict[int, InputError]:
        """Write ``metrics.json`` of every trained member that lacks one; the members are
        evaluated together (:func:`evaluate_models`: shared draws, each image rendered
        once, the encoder compiled once), or one by one when that fails (e.g. NaN codes
        from weights that diverged at the end), so one member's error stays its own.
        Returns the members whose evaluation failed, with the error."""
        todo = [
            k
            for k, result in results.items()
            if result.ok and not rundir.is_evaluated(result.run_dir)
        ]
        if not todo:
            return {}
        models = {k: results[k].model or load_model(results[k].model_path) for k in todo}
        members = [configs[k] for k in todo]
        self.progress.focus(group_label(members) if len(todo) > 1 else rundir.run_name(members[0]))
        self.progress.stage("evaluating")
        try:
            self._write_records(todo, models, configs, results)
            return {}
        except InputError as exc:
            if len(todo) == 1:
                return {todo[0]: exc}
        failed: dict[int, InputError] = {}
        for k in todo:
            if rundir.is_evaluated(results[k].run_dir):  # written before the group failed
                continue
            try:
                self._write_records([k], models, configs, results)
            except InputError as exc:
                failed[k] = exc
        return failed

    def _write_records(self, members: list[int], models: dict, configs: list, results: dict):
        # Each member is written as soon as its metrics are (minutes each at the full
        # protocol): a sweep stopped during a group's evaluation resumes after them.
        def keep(index: int, record: dict) -> None:
            rundir.write_metrics(results[members[index]].run_dir, record)

        records = evaluate_models(
            [models[k] for k in members],
            self.data,
            self.plan,
            configs[members[0]],
            progress=self.progress.evaluation,
            on_record=keep,
        )
        for k, record in zip(members, records, strict=True):
            # Again with the group's final timing (each member's share of the whole group).
            rundir.write_metrics(results[k].run_dir, record)

    def _export(self, config, result, failed: InputError | None) -> dict:
        from kbetavae.trained.export import export_saved_model, is_exported

        if not result.ok:
            return run_row(config, result)
        if failed is not None:
            row = run_row(config, result)
            return {**row, "status": "failed", "reason": f"evaluation: {failed}"}
        export_dir = self.export_dir(config)
        if not is_exported(export_dir):
            model = result.model or load_model(result.model_path)
            self.progress.stage("exporting SavedModel")
            export_saved_model(model, export_dir)
        return run_row(config, result)


# -- the plan on disk --------------------------------------------------------------------


def _claim_sweep_dir(sweep_dir: str, plan: SweepPlan, force: bool) -> None:
    path = os.path.join(sweep_dir, PLAN_FILE)
    if kio.exists(path):
        try:
            record = read_plan_record(sweep_dir)
        except DamagedFile:
            if not force:
                raise
            record = {}  # --force writes the plan again; runs are kept if their config matches
        if RUNS_KEY in record:
            raise InputError(
                f"{sweep_dir} holds runs merged by `kbetavae collect`, not a sweep; "
                "sweep into another `name` (and collect again to merge the results)"
            )
        stored = _stored_plan(record)
        if stored == plan:
            return
        if not force:
            raise InputError(
                f"sweep {plan.name!r} in {os.path.dirname(sweep_dir)} was planned with other "
                f"settings ({', '.join(_changed_settings(stored, plan))}); rerun with the same "
                "options, another `name`, or `force` to replace the changed runs"
            )
    kio.write_json_atomic(path, {"plan": plan.to_dict(), **provenance()})


def _redo(run_dir: str, export_dir: str) -> None:
    """Delete a run's files and its export under its claim, so that it trains afresh."""
    claim = try_claim(run_dir)
    if claim is None:
        raise InputError(
            f"redo {rundir.dir_name(run_dir)}: the run is being worked on by "
            f"{holder(run_dir)}; let it finish or stop it first"
        )
    from kbetavae.training.fused import backups_holding

    with claim:
        rundir.discard(run_dir, keep=(CLAIM_FILE,))
        kio.remove_tree(export_dir)
        # An interrupted group's backup holds this run's weights: its members retrain
        # from the start with it (the group resumed without it would be another group).
        for backup in backups_holding(run_dir):
            kio.remove_tree(backup)


def _discard_if_changed(run_dir: str, config, export_dir: str) -> None:
    """With --force: a run directory trained with other settings is started afresh."""
    try:
        changed = rundir.read_config(run_dir) not in (None, config)
    except InputError:
        changed = True
    if changed:
        kio.remove_tree(run_dir)
        kio.remove_tree(export_dir)


def _stored_plan(record: dict) -> SweepPlan | None:
    try:
        return SweepPlan.from_dict(record.get("plan", {}))
    except InputError:
        return None  # written by another version: treated as a different plan


def _changed_settings(stored: SweepPlan | None, plan: SweepPlan) -> list[str]:
    """The flag-like names of the settings in which two plans differ."""
    if stored is None:
        return ["an unreadable plan"]
    old, new = _flat(stored), _flat(plan)
    return sorted(k for k in new if old.get(k) != new[k])


def _flat(plan: SweepPlan) -> dict:
    record = plan.to_dict()
    return {**record.pop("base"), **record}
