"""``--jobs N``: N processes share one sweep's runs, each with its share of the cores.

The calling process leads: it checks the sweep's input, starts N - 1 workers
(multiprocessing "spawn": fresh interpreters, whose TensorFlow thread pools are sized
before TensorFlow starts) and then works as the N-th. Every process walks the same fused
groups in the same order and trains only the runs it can claim
(:mod:`kbetavae.study.claims`), so the claim lock divides the work and no run is trained
twice. Workers skip what others hold and end; the lead waits for every run it did not
train (training it itself if its worker died), then for the workers, and it alone writes
``results.csv``. A worker whose lead is gone (Ctrl-C, ``kill``) stops within a second
(the workers: :mod:`kbetavae.study.workers`).

When it pays: N processes beat one fused step only with more cores than one fused step
keeps busy. On a 2-core CPU fusing wins: two jobs (fused groups of 4 and 3 βs, one thread
each) trained 0.90x as fast as one fused group of 7 (benchmarks/bench_fused.py ``jobs_2``,
docs/benchmarks/2026-12-02-amd-epyc/).

When the runs are done, the report is drawn (:func:`kbetavae.study.report.build_report`):
figures, the traversals' motion, ``report.html``.

Example:
    >>> rows = run_sweep_jobs(SweepPlan.of(betas=(1.0, 4.0)), "runs", jobs=2)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from kbetavae import io as kio
from kbetavae.errors import InputError
from kbetavae.provenance import record_execution
from kbetavae.study.plan import SweepPlan, max_group_for_jobs
from kbetavae.study.report import build_report, check_traverse_beta
from kbetavae.study.sweep import RUNS_ROOT, SAVED_MODELS_ROOT, Progress, prepare_sweep, run_sweep
from kbetavae.study.workers import Workers, limit_threads
from kbetavae.validation import check_int

logger = logging.getLogger(__name__)


def check_jobs(jobs) -> int:
    """``jobs`` as an int >= 1 (InputError naming ``jobs``); a one-line warning when
    there are more jobs than CPU cores."""
    jobs = check_int("jobs", jobs, minimum=1)
    cores = os.cpu_count() or 1
    if jobs > cores:
        logger.warning(
            "--jobs %d is more than the %d CPU cores: the jobs will take turns on them", jobs, cores
        )
    return jobs


def threads_per_job(jobs: int, cores: int | None = None) -> int:
    """Intra-op threads for each of ``jobs`` processes sharing ``cores`` (default: this
    machine's): an equal share, at least one.

    Example:
        >>> threads_per_job(2, cores=8), threads_per_job(3, cores=2)
        (4, 1)
    """
    jobs = check_int("jobs", jobs, minimum=1)
    cores = check_int("cores", cores if cores is not None else os.cpu_count() or 1, minimum=1)
    return max(1, cores // jobs)


def run_sweep_jobs(
    plan: SweepPlan,
    out: str | os.PathLike = RUNS_ROOT,
    saved_models: str | os.PathLike = SAVED_MODELS_ROOT,
    *,
    jobs: int = 1,
    force: bool = False,
    progress: Progress | None = None,
    fuse: bool = True,
    max_group: int | None = None,
    redo: Sequence[str] = (),
    report: bool = True,
    traverse_beta: float | None = None,
) -> list[dict]:
    """Run (or resume) the sweep ``plan`` in ``jobs`` processes, then (``report``) draw its
    report; return the results rows.

    As :func:`kbetavae.study.sweep.run_sweep` (which ``jobs=1`` is), with the work divided
    by claims. Without ``max_group``, a plan with fewer fused groups than jobs has its
    groups cut so that every job has one (:func:`max_group_for_jobs`). Each process trains
    with ``threads_per_job(jobs)`` intra-op threads, recorded (with ``jobs``) in its runs'
    ``config.json``; neither changes a run's name or config. ``traverse_beta``: the β of
    the report's traversal figure (InputError before anything is trained if it is not
    swept; :func:`~kbetavae.study.report.build_report`).
    """
    check_traverse_beta(traverse_beta, plan.betas)
    progress = progress or Progress()
    rows = _run_jobs(
        plan, out, saved_models, check_jobs(jobs), force, progress, fuse, max_group, redo
    )
    if report:
        sweep_dir = os.path.join(os.fspath(out), plan.name)
        build_report(sweep_dir, traverse_beta, motion=True, progress=progress)
    return rows


def _run_jobs(plan, out, saved_models, jobs, force, progress, fuse, max_group, redo) -> list[dict]:
    if jobs == 1:
        return run_sweep(
            plan,
            out,
            saved_models,
            force=force,
            progress=progress,
            fuse=fuse,
            max_group=max_group,
            redo=redo,
        )
    out, saved_models = os.fspath(out), os.fspath(saved_models)
    if kio.is_remote(out):
        raise InputError(
            "jobs needs a local `out`: jobs divide the runs with file locks, which a bucket "
            "does not have; run one sweep per machine with `jobs` 1"
        )
    threads = threads_per_job(jobs)
    record_execution(jobs=jobs, threads_per_job=limit_threads(threads))
    if fuse and max_group is None:
        max_group = max_group_for_jobs(plan.configs(), jobs)
    # All input is checked (and sweep.json written) before any worker starts.
    prepare_sweep(plan, out, saved_models, force, max_group, redo=redo)
    progress.jobs_started(jobs, threads)
    settings = {"force": force, "fuse": fuse, "max_group": max_group}
    with Workers(jobs, threads, (plan, out, saved_models, settings), progress) as workers:
        rows = run_sweep(plan, out, saved_models, progress=progress, share="lead", **settings)
        workers.wait()
    return rows
