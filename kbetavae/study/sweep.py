"""A sweep: train, evaluate and export every run of a plan, resumably; tabulate as it goes.

Every step leaves a file behind that says it is done (``done.json``, ``metrics.json``, the
SavedModel directory), so rerunning the same sweep skips what is finished and resumes an
interrupted training from its last epoch. A run whose loss becomes NaN is recorded as
failed and the sweep goes on. The sweep directory's files are
:mod:`kbetavae.study.results`'s; figures and the report are drawn by the caller
(``kbetavae sweep`` does) from those files.
"""

from __future__ import annotations

import os

from kbetavae import io as kio
from kbetavae.errors import InputError
from kbetavae.export import SAVED_MODEL_VERSION
from kbetavae.models_io import graph_encoder, load_model
from kbetavae.provenance import provenance
from kbetavae.study.plan import SweepPlan
from kbetavae.study.results import PLAN_FILE, RUNS_KEY, run_row, write_results
from kbetavae.training import rundir
from kbetavae.training.cluster import is_multi_worker, read_tf_config


class Progress:
    """Hooks a sweep calls so a front end can show where it is; the default says nothing."""

    def sweep_started(self, plan: SweepPlan, todo: int) -> None: ...

    def run_started(self, index: int, total: int, config, status: str) -> list:
        """Return extra Keras callbacks for this run's training. ``status``: "finished"
        (nothing to do), "trained" (evaluation or export left) or "running"."""
        return []

    def stage(self, message: str) -> None: ...

    def evaluation(self, done: int, total: int) -> None:
        """Images encoded so far in this run's evaluation, of ``total`` expected."""

    def run_finished(self, row: dict) -> None: ...


def run_sweep(
    plan: SweepPlan,
    out: str | os.PathLike = "runs",
    saved_models: str | os.PathLike = "saved_models",
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> list[dict]:
    """Run (or resume) the sweep ``plan`` under ``out``; return the results rows.

    Refuses (InputError) to reuse a sweep directory that holds another plan unless
    ``force``; with ``force`` the runs whose settings changed are started afresh.
    """
    from kbetavae.data import open_source

    progress = progress or Progress()
    sweep_dir = os.path.join(os.fspath(out), plan.name)
    export_root = os.path.join(os.fspath(saved_models), plan.name)
    # Everything that can be wrong with the input is checked before anything is written.
    if is_multi_worker(read_tf_config()):
        raise InputError(
            "kbetavae sweep runs in one process; with TF_CONFIG naming several workers, run "
            "`kbetavae train` on each worker per (β, seed), then `kbetavae collect` the runs"
        )
    data = open_source(plan.base.source)
    if plan.base.subset > data.num_images:
        raise InputError(
            f"--subset {plan.base.subset} is larger than the dataset ({data.num_images} images)"
        )
    kio.check_writable(os.fspath(out), "--out")
    kio.check_writable(os.fspath(saved_models), "--saved-models")
    _claim_sweep_dir(sweep_dir, plan, force)

    configs = plan.configs()
    todo = sum(
        not rundir.is_evaluated(os.path.join(sweep_dir, rundir.run_name(c))) for c in configs
    )
    progress.sweep_started(plan, todo)
    rows = []
    for index, config in enumerate(configs):
        name = rundir.run_name(config)
        run_dir = os.path.join(sweep_dir, name)
        export_dir = os.path.join(export_root, name, SAVED_MODEL_VERSION)
        if force:
            _discard_if_changed(run_dir, config, export_dir)
        row = _run_one(plan, config, run_dir, export_dir, data, progress, index, len(configs))
        rows.append(row)
        write_results(sweep_dir, rows)
        progress.run_finished(row)
    return rows


def _run_one(plan, config, run_dir, export_dir, data, progress, index, total) -> dict:
    from kbetavae.export import export_saved_model, is_exported
    from kbetavae.training.loop import train

    metrics_path = os.path.join(run_dir, rundir.METRICS_FILE)
    if kio.exists(metrics_path) and is_exported(export_dir):
        status = "finished"
    elif rundir.is_finished(run_dir):
        status = "trained"
    else:
        status = "running"
    callbacks = progress.run_started(index, total, config, status)
    result = train(config, run_dir, source=data, callbacks=callbacks, verbose=0)
    if not result.ok:
        return run_row(config, result)
    model = result.model
    if not kio.exists(metrics_path):
        model = model or load_model(result.model_path)
        progress.stage("evaluating")
        try:
            record = evaluate_model(
                model, data, plan, seed=config.seed, progress=progress.evaluation
            )
        except InputError as exc:  # e.g. NaN codes from weights that diverged at the end
            return {**run_row(config, result), "status": "failed", "reason": f"evaluation: {exc}"}
        kio.write_json_atomic(metrics_path, record)
    if not is_exported(export_dir):
        model = model or load_model(result.model_path)
        progress.stage("exporting SavedModel")
        export_saved_model(model, export_dir)
    return run_row(config, result)


def evaluate_model(model, data, plan: SweepPlan, seed: int, progress=None) -> dict:
    """The sweep's metrics of one model, as stored in ``metrics.json``; ``progress`` as
    :func:`kbetavae.metrics.evaluate` takes it."""
    from kbetavae.metrics import evaluate

    metrics = tuple(plan.metrics)
    encode = graph_encoder(model)
    return evaluate(
        encode, data, metrics=metrics, seed=seed, progress=progress, **plan.metric_sizes()
    )


# -- the plan on disk --------------------------------------------------------------------


def _claim_sweep_dir(sweep_dir: str, plan: SweepPlan, force: bool) -> None:
    path = os.path.join(sweep_dir, PLAN_FILE)
    if kio.exists(path):
        record = kio.read_json(path)
        if RUNS_KEY in record:
            raise InputError(
                f"{sweep_dir} holds runs merged by `kbetavae collect`, not a sweep; "
                "sweep into another --name (and collect again to merge the results)"
            )
        stored = _stored_plan(record)
        if stored == plan:
            return
        if not force:
            raise InputError(
                f"sweep {plan.name!r} in {os.path.dirname(sweep_dir)} was planned with other "
                f"settings ({', '.join(_changed_settings(stored, plan))}); rerun with the same "
                "options, another --name, or --force to replace the changed runs"
            )
    kio.write_json_atomic(path, {"plan": plan.to_dict(), **provenance()})


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
