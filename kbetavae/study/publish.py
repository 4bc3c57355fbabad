"""Publish finished runs into a report directory: the small files a reader can check.

A sweep directory holds models (megabytes each) beside the evidence. ``publish`` copies the
evidence only, so a report in a repository (``docs/results``) carries every number it quotes::

    <dest>/sweep.json                   the runs' plan, where each run lives, versions
    <dest>/results.csv, results.md      one row per run, per-β statistics
    <dest>/figures/                     every figure of the report
    <dest>/traversal_motion.csv         if ``kbetavae motion`` measured the traversals
    <dest>/runs/<run>/                  config.json, history.csv, metrics.json, done.json,
                                        encoder.npz (if the sweep has the run's model)

``encoder.npz`` is the run's encoder in float16 (:mod:`kbetavae.trained.archive`, 0.46 MB
a run where a trained model.keras is 6 MB): ``kbetavae evaluate <dest>/runs/<run>`` computes every
metric of the encoder again from it, without the model. Its codes differ from the float32
model's in the last bits, so its metrics can differ slightly from the sweep's. With
``from_archive`` each run is evaluated from its archive as it is published (the sweep's
protocol and metrics, the run's seed; a report's run from the archive it brings, unless
it was evaluated so already): metrics.json then holds what ``evaluate`` on the archive
gives, bit for bit on the same machine and encoder formulation, and
``metrics_float32.json`` beside it the sweep's record of the float32 model. The runs of
one seed are evaluated together on one draw of images, rendered once
(7 models in 0.88 of the time of 7 evaluations at 500 points: ``group`` in
docs/benchmarks/2026-12-04-amd-epyc-avx512-bf16-2/bench_eval.json).
Without it metrics.json is the sweep's. Every run of a study should be published alike;
the held-out ELBO (it needs the decoder) stays the sweep's either way.

UDR compares the seeds of a setting, and a report's seeds may come from several sweeps (or
from another report: a published run published again brings its archive along). So each
setting with two or more published seeds is scored over their float16 archives whenever
its score is not over exactly those (:mod:`kbetavae.study.setting_scores`), and every UDR
of a report is alike: its entries say ``"encoders": "archive"``.

Publishing *merges*: the sweep's runs join (or replace, by run name) those already in
``<dest>/runs/``, and the table is re-tabulated over all of them, so a study too long for
one sitting is published seed by seed from sweeps on different days or machines (each run
records its code revision, versions and CPU). Runs of another study (any setting but β
and seed differs, or the metric protocol) are refused before anything is written.

The figures are drawn by :func:`kbetavae.viz.report.publish_figures` (the study layer does
not draw): those that need only run files are redrawn over all published runs, those drawn
from models are the sweep's. Models and SavedModels stay out; ``report.html`` too (it
embeds the figures again, several megabytes). Last, the tables marked in
``<dest>/README.md`` are regenerated (:mod:`kbetavae.study.published`).

The module is long because publishing is one transaction over several kinds of evidence —
the refusal of another study's runs, the per-seed archive evaluation, the merge of run
directories, UDR re-scoring and the table — and each step needs the others' view of which
runs are incoming, kept or replaced.

Example:
    >>> publish("runs/study-s1", "docs/results")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from kbetavae import io as kio
from kbetavae.errors import DamagedFile, InputError
from kbetavae.study import published
from kbetavae.study.collect import collect, find_runs, plan_of
from kbetavae.study.grid import setting_of
from kbetavae.study.motion import MOTION_CSV, read_motion_csv, write_motion_csv
from kbetavae.study.results import (
    PLAN_FILE,
    RESULTS_CSV,
    RESULTS_MD,
    read_plan,
    read_results,
    sweep_run_dirs,
)
from kbetavae.study.setting_scores import score_report
from kbetavae.training import rundir
from kbetavae.training.rundir import copy_records, dir_name, is_run_dir, missing_records

RUNS_DIR = "runs"


def publish(
    sweep_dir: str,
    dest: str,
    from_archive: bool = False,
    say: Callable[[str], None] | None = None,
    metrics: Sequence[str] | None = None,
    code_cache: str | None = None,
) -> list[str]:
    """Merge ``sweep_dir``'s evidence into ``dest`` (see the module docstring); return the
    paths written. Each run whose model.keras the sweep has gets its encoder archive (a
    report's run brings its own), and with ``from_archive`` its metrics.json from that
    archive (``say`` hears one line per seed's runs before they are evaluated: minutes at
    the full protocol), computing ``metrics`` if given (e.g. all six, where the sweep
    computed fewer), else the sweep's, and keeping the archives' codes in ``code_cache``
    (a directory, :mod:`kbetavae.trained.code_cache`) if given. InputError
    if ``sweep_dir`` is not a tabulated sweep, its runs belong to another study than those
    already in ``dest``, or ``metrics`` would leave runs of ``dest`` evaluated otherwise.
    The figures are :func:`kbetavae.viz.report.publish_figures`' (the CLI draws them
    after, as after ``collect``)."""
    if code_cache is not None and not from_archive:
        raise InputError("`code_cache` needs `from_archive`: it keeps the archives' codes")
    if not kio.exists(os.path.join(sweep_dir, RESULTS_CSV)):
        raise InputError(f"{sweep_dir} has no results.csv: not a tabulated sweep")
    runs_dir = os.path.join(dest, RUNS_DIR)
    incoming, _ = find_runs(sweep_dir)
    if not incoming:
        raise InputError(f"{sweep_dir} has no finished runs to publish")
    # A run still training stays out: its files would be half a run's evidence.
    finished = {dir_name(r.run_dir) for r in incoming}
    run_dirs = [
        d for _, _, d in sweep_run_dirs(sweep_dir) if is_run_dir(d) and dir_name(d) in finished
    ]
    names = {dir_name(d) for d in run_dirs}
    kept = [r for r in _published_runs(runs_dir) if dir_name(r.run_dir) not in names]
    if metrics is not None:
        metrics = _check_metrics(metrics, from_archive, kept, incoming)
    # InputError: runs of two studies.
    plan = plan_of([*kept, *incoming], name="check", same_metrics=metrics is None)

    # Every model is read before anything is written: one that cannot be read stops here.
    archives = {d: _archive_of(d) for d in run_dirs if rundir.has_model(d)}
    written = []
    evaluate = _ArchiveEvaluator(sweep_dir, say, metrics, code_cache) if from_archive else None
    pending = []  # published runs to evaluate from their archives
    for run_dir in run_dirs:
        target = os.path.join(runs_dir, dir_name(run_dir))
        archive = archives.get(run_dir)
        if evaluate is not None and evaluate.done(run_dir, target, archive):
            evaluate.say(f"{dir_name(run_dir)}: evaluated from its archive already, kept")
            continue
        written += _publish_run(run_dir, target, archive)
        # A report's run evaluated from its archive as asked comes as it is.
        if evaluate is not None and not (archive is None and evaluate.holds(run_dir)):
            if rundir.has_archive(target) and rundir.is_evaluated(target):
                pending.append(target)
    if pending:
        written += evaluate(pending)
    written += score_report(_published_runs(runs_dir), plan, say)
    name = read_plan(dest).name if kio.exists(os.path.join(dest, PLAN_FILE)) else None
    collect([runs_dir], dest, name=name or read_plan(sweep_dir).name, report=False)
    written += [os.path.join(dest, f) for f in (PLAN_FILE, RESULTS_CSV, RESULTS_MD)]
    motion = _merge_motion(sweep_dir, dest, names)
    written += [motion] if motion else []
    if kio.exists(os.path.join(dest, published.REPORT_FILE)):
        published.update_report(dest)
    return written


def archive_sizes(written: list[str]) -> list[int]:
    """The sizes in bytes of the encoder archives among ``written`` (publish's paths)."""
    return [kio.file_size(p) for p in written if os.path.basename(p) == rundir.ARCHIVE_FILE]


def _archive_of(run_dir: str) -> bytes:
    from kbetavae.trained.archive import archive_bytes
    from kbetavae.trained.load import load_model

    return archive_bytes(load_model(rundir.model_path(run_dir)))


def _publish_run(run_dir: str, target: str, archive: bytes | None) -> list[str]:
    """Copy one run's records into ``target`` (its float32 record too, where it was
    evaluated from its archive before) and write its encoder ``archive`` (None: the sweep
    has no model); the paths written."""
    # Without a model here, an archive published before stays only if it is this training's.
    keep_archive = rundir.same_training(run_dir, target)
    written = copy_records(run_dir, target)
    if rundir.read_float32_metrics(run_dir) is not None:  # a report's run, evaluated so
        written.append(
            kio.copy_atomic(
                rundir.float32_metrics_path(run_dir), rundir.float32_metrics_path(target)
            )
        )
    else:
        kio.remove_file(rundir.float32_metrics_path(target))  # metrics.json is the sweep's again
    if archive is not None:
        kio.write_bytes_atomic(rundir.archive_path(target), archive)
        written.append(rundir.archive_path(target))
    elif rundir.has_archive(run_dir):  # a published run, published again: its own archive
        written.append(kio.copy_atomic(rundir.archive_path(run_dir), rundir.archive_path(target)))
    elif not keep_archive:
        kio.remove_file(rundir.archive_path(target))
    return written


def _check_metrics(metrics: Sequence[str], from_archive: bool, kept, incoming) -> list[str]:
    """``metrics`` checked: known, and every run that will not be evaluated again (those
    already published and kept; incoming runs with neither model nor archive) already
    lists them."""
    from kbetavae.metrics import registry

    metrics = list(registry.check_names(metrics))
    if not from_archive:
        raise InputError("`metrics` needs `from_archive`: only an evaluation computes metrics")
    unchanged = [
        *kept,
        *(
            r
            for r in incoming
            if not (rundir.has_model(r.run_dir) or rundir.has_archive(r.run_dir))
        ),
    ]
    for run in unchanged:
        record = rundir.read_metrics(run.run_dir) if run.result.ok else None
        listed = list((record or {}).get("metrics", metrics))
        if listed != metrics:
            raise InputError(
                f"{run.run_dir} lists {','.join(listed)}, not {','.join(metrics)}, and will "
                "not be evaluated again (no model here); publish its sweep with the same "
                "`metrics`, or leave `metrics` out"
            )
    return metrics


class _ArchiveEvaluator:
    """Evaluates published runs from their archives: under the sweep's protocol, with
    ``metrics`` (else each run's sweep's), the float32 model's record kept in
    metrics_float32.json, the codes in ``code_cache`` if given; ``say`` hears a line per
    group of runs evaluated together."""

    def __init__(
        self,
        sweep_dir: str,
        say: Callable[[str], None] | None,
        metrics: Sequence[str] | None,
        code_cache: str | None = None,
    ) -> None:
        self.plan = read_plan(sweep_dir)
        self.say = say or (lambda line: None)
        self.metrics = list(metrics) if metrics is not None else None
        self.code_cache = code_cache

    def names(self, swept: dict) -> list[str]:
        return self.metrics or list(swept.get("metrics") or self.plan.metrics)

    def holds(self, run_dir: str) -> bool:
        """Whether ``run_dir``'s metrics.json is its archive's evaluation with the metrics
        and protocol asked for, the float32 record kept beside."""
        swept = rundir.read_float32_metrics(run_dir)
        published = rundir.read_metrics(run_dir)
        return (
            swept is not None
            and published is not None
            and "encoder" in published
            and published.get("metrics") == self.names(swept)
            and published.get("protocol") == self.plan.protocol.record()
        )

    def done(self, run_dir: str, target: str, archive: bytes | None) -> bool:
        """Whether ``target`` holds this evaluation already: the same training and archive
        (``archive``, the model's; else ``run_dir``'s own), the sweep's record kept beside,
        the metrics and protocol asked for. A publish that was stopped (minutes a run)
        resumes after the runs it finished."""
        try:
            if archive is None and rundir.has_archive(run_dir):
                archive = kio.read_bytes(rundir.archive_path(run_dir))
            return (
                archive is not None
                and rundir.same_training(run_dir, target)
                and rundir.has_archive(target)
                and kio.read_bytes(rundir.archive_path(target)) == archive
                and rundir.read_float32_metrics(target) == rundir.read_sweep_metrics(run_dir)
                and self.holds(target)
            )
        except DamagedFile:
            return False

    def __call__(self, published_runs: Sequence[str]) -> list[str]:
        """Evaluate the published runs from their archives, those of one seed (and metrics)
        together on one draw of images; the paths written."""
        from kbetavae.study.evaluation import evaluate_archives

        groups: dict[tuple[int, tuple[str, ...]], list[tuple[str, dict]]] = {}
        for run_dir in published_runs:
            swept = rundir.read_sweep_metrics(run_dir)
            key = (rundir.read_config(run_dir).seed, tuple(self.names(swept)))
            groups.setdefault(key, []).append((run_dir, swept))
        # One study, one source: publish refused runs of another before anything was written.
        data = self.plan.base.open_data()
        written = []
        for (seed, names), members in groups.items():
            run_names = ", ".join(dir_name(run_dir) for run_dir, _ in members)
            whose = "its encoder archive" if len(members) == 1 else "their encoder archives"
            self.say(f"evaluating {run_names} from {whose} (seed {seed}, one draw)")

            def keep(k: int, record: dict, _note: str, members=members) -> None:
                # Each run is written as soon as its metrics are: a publish stopped in a
                # group's last run (minutes each) resumes after the runs before it. The
                # float32 record first: a kill between the two writes leaves metrics.json
                # the sweep's, and publishing again evaluates the run again.
                run_dir, swept = members[k]
                written.append(rundir.write_float32_metrics(run_dir, swept))
                written.append(rundir.write_metrics(run_dir, record))
                self.say(f"{dir_name(run_dir)}: evaluated")

            run_dirs = [run_dir for run_dir, _ in members]
            results = evaluate_archives(
                run_dirs,
                data,
                list(names),
                self.plan.protocol,
                seed,
                on_result=keep,
                code_cache=self.code_cache,
            )
            # Again with the group's final timing (each run's share of the whole group).
            for (run_dir, _), (record, _) in zip(members, results, strict=True):
                rundir.write_metrics(run_dir, record)
        return sorted(set(written))


def missing_run_files(results_dir: str) -> list[str]:
    """The run files a published report lacks: every row of its results.csv needs
    ``runs/<run>/config.json`` and ``done.json``, and a finished run also ``history.csv``
    and ``metrics.json`` (run names from its sweep.json)."""
    listed = {dir_name(run_dir) for _, _, run_dir in sweep_run_dirs(results_dir)}
    missing = []
    for row in read_results(results_dir):
        name = rundir.seed_run_name(setting_of(row), int(row["seed"]))
        if name not in listed:
            missing.append(f"{name}: not in sweep.json")
            continue
        for file in missing_records(
            os.path.join(results_dir, RUNS_DIR, name), finished=row.get("status") == "done"
        ):
            missing.append(f"{RUNS_DIR}/{name}/{file}")
    return missing


def _published_runs(runs_dir: str):
    return find_runs(runs_dir)[0] if kio.is_dir(runs_dir) else []


def _merge_motion(sweep_dir: str, dest: str, names: set[str]) -> str | None:
    """``<dest>/traversal_motion.csv`` with the sweep's rows of the published runs
    (``names``) replacing their old ones, ordered by β, seed and latent; None when the
    sweep measured no motion. Rows of runs not published stay out (a sweep published
    while some of its runs were unfinished copied them, again at every publish)."""
    incoming = os.path.join(sweep_dir, MOTION_CSV)
    if not kio.exists(incoming):
        return None
    target = os.path.join(dest, MOTION_CSV)
    rows = read_motion_csv(target) if kio.exists(target) else []
    rows = [row for row in rows if row["run"] not in names] + [
        row for row in read_motion_csv(incoming) if row["run"] in names
    ]
    rows.sort(key=lambda r: (float(r["beta"]), int(r["seed"]), int(r["latent"])))
    write_motion_csv(rows, target)
    return target
