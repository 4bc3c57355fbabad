"""Merge finished runs from many jobs into one results table (``kbetavae collect``).

A Vertex AI hyperparameter-tuning job trains each (β, seed) in a trial of its own; local
``kbetavae train`` jobs, sweeps and other machines leave run directories too. ``collect``
finds the runs under the directories it is given (local or ``gs://``; each a run directory,
a sweep directory, a merged set, or a job's root with runs up to three levels down), checks
that they belong to one study, and writes what a local sweep over them would have written,
with the sweep's own results layer (:mod:`kbetavae.study.results`), then draws the figures
and the report as after a sweep (:func:`kbetavae.study.report.build_report`)::

    <out>/sweep.json            the plan the runs span, and where each run lives
    <out>/results.csv, .md      one row per (setting, seed) as a sweep orders them; per setting
    <out>/figures/              as a sweep's
    <out>/report.html           as a sweep's: every table and figure on one page

The runs are not copied: ``sweep.json`` lists their directories, which the figures (and
``kbetavae plot``) read; those inside ``<out>`` are listed relative to it, so the set can
move (``kbetavae publish`` keeps a report's runs in ``<out>/runs/``).

Example:
    >>> merged = collect(["gs://bucket/job-123"], "gs://bucket/study")  # doctest: +SKIP
    >>> len(merged.rows), merged.unfinished
    (14, [])
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from typing import Any

from kbetavae import io as kio
from kbetavae.errors import InputError
from kbetavae.metrics.protocol import DEFAULT_CLASSIFIER
from kbetavae.provenance import provenance
from kbetavae.study.grid import Setting, setting_order
from kbetavae.study.plan import SweepPlan
from kbetavae.study.report import Report, build_report
from kbetavae.study.results import (
    PLAN_FILE,
    RUNS_KEY,
    read_plan_record,
    run_row,
    setting_columns,
    sweep_run_dirs,
    write_results,
)
from kbetavae.training import rundir
from kbetavae.training.config import TrainConfig
from kbetavae.training.rundir import (
    CONFIG_FILE,
    TrainResult,
    find_run_dirs,
    read_config,
    read_metrics,
    read_result,
)

# How far below a given directory runs are looked for: 0 a run directory, 1 a sweep, 3 a
# Vertex AI job's root (<job>/<trial>/model/<run>/).
MAX_DEPTH = 3
# TrainConfig fields that differ between the runs of one study (a grid's settings differ in
# their objective and its arguments).
VARYING = ("beta", "seed", "objective", "objective_args")


@dataclasses.dataclass(frozen=True)
class Run:
    """One finished run found by :func:`find_runs`."""

    run_dir: str
    config: TrainConfig
    result: TrainResult


@dataclasses.dataclass
class Collected:
    """What :func:`collect` wrote: the table's rows, the runs it left out, the report."""

    out: str
    plan: SweepPlan
    rows: list[dict]
    unfinished: list[str]
    report: Report | None = None


def collect(
    sources: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    name: str | None = None,
    *,
    report: bool = True,
    traverse_beta: float | None = None,
) -> Collected:
    """Merge the finished runs under ``sources`` into a results table in ``out``; the
    plan's ``name`` defaults to ``out``'s last component. With ``report``, then draw the
    figures and ``report.html`` (``traverse_beta``: the traversal figure's β, as
    :func:`~kbetavae.study.report.build_report` takes it).

    Raises InputError, before anything is written, when a source cannot be read or holds
    no finished run, when two runs share a (β, seed), or when the runs differ in a setting
    other than β and seed or in their metric protocol.
    """
    sources = [os.fspath(source) for source in sources]
    out = os.fspath(out)
    if not sources:
        raise InputError("collect needs at least one run, sweep or job directory")
    for source in sources:
        kio.check_reachable(source, "directory")
        if not kio.exists(source):
            raise InputError(f"{source} does not exist (expected runs, a sweep or a job)")
        if not kio.is_dir(source):
            raise InputError(f"{source} is not a directory (expected runs, a sweep or a job)")

    runs: list[Run] = []
    unfinished: list[str] = []
    for source in sources:
        found, left = find_runs(source)
        if not found and not left:
            raise InputError(
                f"{source} holds no runs (a run directory has {CONFIG_FILE}; looked "
                f"{MAX_DEPTH} levels down)"
            )
        runs += found
        unfinished += left
    runs = _unique(runs)
    if not runs:
        raise InputError(
            f"no finished runs under {', '.join(sources)} ({len(unfinished)} unfinished)"
        )
    plan = plan_of(runs, name=name or _plain_name(out))
    kio.check_writable(out, "out")  # the last check: a local out is created by it

    score_settings(runs, plan)
    rows = [run_row(run.config, run.result) for run in runs]
    record = {
        "plan": plan.to_dict(),
        RUNS_KEY: [
            {"beta": run.config.beta, "seed": run.config.seed, "run_dir": _under(run.run_dir, out)}
            for run in runs
        ],
        "sources": [_under(source, out) for source in sources],
        **provenance(),
    }
    kio.write_json_atomic(os.path.join(out, PLAN_FILE), record)
    write_results(out, rows)
    drawn = build_report(out, traverse_beta) if report else None
    return Collected(out=out, plan=plan, rows=rows, unfinished=unfinished, report=drawn)


def find_runs(directory: str) -> tuple[list[Run], list[str]]:
    """The finished runs at or below ``directory``, and the unfinished run directories.

    A merged set (a ``sweep.json`` that lists its runs) gives its listed runs.
    """
    plan_path = os.path.join(directory, PLAN_FILE)
    if kio.exists(plan_path) and RUNS_KEY in read_plan_record(directory):
        run_dirs = [run_dir for _, _, run_dir in sweep_run_dirs(directory)]
    else:
        run_dirs = find_run_dirs(directory, MAX_DEPTH)
    runs, unfinished = [], []
    for run_dir in run_dirs:
        run_dir = run_dir if kio.is_remote(run_dir) else os.path.abspath(run_dir)
        try:
            config = read_config(run_dir)
        except InputError:
            continue  # a config.json of something else
        result = read_result(run_dir)
        if config is None or result is None:
            unfinished.append(run_dir)
        else:
            runs.append(Run(run_dir=run_dir, config=config, result=result))
    return runs, unfinished


def plan_of(runs: Sequence[Run], name: str, same_metrics: bool = True) -> SweepPlan:
    """The sweep plan the runs span: their β and seed values and their shared settings.

    The metric protocol comes from the runs' ``metrics.json``: all must agree, and list the
    same metrics unless ``same_metrics`` is False (runs about to be evaluated again alike;
    the plan then has the first run's).
    """
    first = runs[0].config.to_dict()
    for run in runs[1:]:
        for field, value in run.config.to_dict().items():
            if field not in VARYING and value != first[field]:
                raise InputError(
                    f"the runs differ in {field} ({first[field]!r} in {runs[0].run_dir}, "
                    f"{value!r} in {run.run_dir}); collect the runs of one study at a time"
                )
    protocols: dict[str, tuple[tuple[str, ...], str]] = {}
    for run in runs:
        record = read_metrics(run.run_dir) if run.result.ok else None
        if record is not None:
            protocol = json.dumps(record.get("protocol"), sort_keys=True)
            protocols[run.run_dir] = (tuple(record.get("metrics", ())), protocol)
    settings: dict[str, Any] = {}
    if protocols:
        (first_dir, first_protocol), *rest = protocols.items()
        key = (lambda p: p) if same_metrics else (lambda p: p[1])
        other = next((d for d, p in rest if key(p) != key(first_protocol)), None)
        if other is not None:
            raise InputError(
                f"the runs were evaluated with different metrics or protocols ({first_dir} "
                f"and {other}); evaluate them alike (kbetavae evaluate --metrics --eval-points)"
            )
        metrics, protocol = first_protocol
        protocol = json.loads(protocol)
        settings = {
            "metrics": metrics,
            "eval_points": protocol["num_points"],
            "zdiff_classifier": protocol.get("zdiff_classifier", DEFAULT_CLASSIFIER),
        }
    base = runs[0].config
    grid = {rundir.setting_name(run.config): Setting.of_config(run.config) for run in runs}
    if all(run.config.objective == base.objective for run in runs) and all(
        run.config.objective_args == base.objective_args for run in runs
    ):  # a β sweep, as before grids
        grid_settings: dict[str, Any] = {"betas": tuple(sorted({r.config.beta for r in runs}))}
    else:
        grid_settings = {"settings": tuple(grid[k] for k in sorted(grid, key=_order(runs)))}
    return SweepPlan(
        base=base,
        seeds=tuple(sorted({run.config.seed for run in runs})),
        name=name,
        **grid_settings,
        **settings,
    )


def _order(runs: Sequence[Run]):
    """Sort key of setting names: as results rows order them (objective, then weight)."""
    rows = {rundir.setting_name(r.config): setting_columns(r.config) for r in runs}
    return lambda name: setting_order(rows[name])


def score_settings(runs: Sequence[Run], plan: SweepPlan) -> None:
    """UDR for every setting with at least two evaluated seeds that lacks it (the models of
    the runs must be there)."""
    from kbetavae.study.setting_scores import (
        UDR_POINTS,
        evaluated_by_setting,
        scorable,
        score_setting,
    )

    ready = [dirs for dirs in evaluated_by_setting(runs).values() if scorable(dirs)]
    if ready:
        data = plan.base.open_data()
        for run_dirs in ready:
            score_setting(run_dirs, data, min(UDR_POINTS, plan.eval_points))


def _unique(runs: list[Run]) -> list[Run]:
    """Runs ordered by (setting, seed) as a sweep lists them; the same directory found twice
    counts once, two directories with one (setting, seed) are an error."""
    by_key: dict[tuple, Run] = {}
    for run in runs:
        key = (*setting_order(setting_columns(run.config)), run.config.seed)
        other = by_key.get(key)
        if other is not None and _same_dir(other.run_dir, run.run_dir):
            continue
        if other is not None:
            raise InputError(
                f"two runs of {rundir.run_name(run.config)}: {other.run_dir} and "
                f"{run.run_dir}; collect one of them"
            )
        by_key[key] = run
    return [by_key[key] for key in sorted(by_key)]


def _same_dir(a: str, b: str) -> bool:
    if kio.is_remote(a) or kio.is_remote(b):
        return a.rstrip("/") == b.rstrip("/")
    return os.path.realpath(a) == os.path.realpath(b)


def _under(path: str, out: str) -> str:
    """``path`` relative to ``out`` when it lies inside it (a published set moves with its
    runs: :func:`kbetavae.study.results.sweep_run_dirs` reads it back), else as given."""
    if kio.is_remote(path) or kio.is_remote(out):
        return path
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(out))
    return path if relative.startswith(os.pardir) else relative


def _plain_name(out: str) -> str:
    """The plan's name: the last component of ``out`` (``collected`` if it has none)."""
    name = os.path.basename(out.rstrip("/") if kio.is_remote(out) else os.path.abspath(out))
    return name if name and not name.startswith(".") else "collected"
