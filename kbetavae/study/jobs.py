"""``--jobs N``: N processes share one sweep's runs, each with its share of the cores.

The calling process leads: it checks the sweep's input, starts N - 1 workers
(multiprocessing "spawn": fresh interpreters, whose TensorFlow thread pools are sized
before TensorFlow starts) and then works as the N-th. Every process walks the same fused
groups in the same order and trains only the runs it can claim
(:mod:`kbetavae.study.claims`), so the claim lock divides the work and no run is trained
twice. Workers skip what others hold and end; the lead waits for every run it did not
train (training it itself if its worker died), then for the workers, and it alone writes
``results.csv``. A worker whose lead is gone (Ctrl-C, ``kill``) stops within a second.

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
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Sequence

from kbetavae import io as kio
from kbetavae.errors import InputError
from kbetavae.provenance import record_execution
from kbetavae.study.plan import SweepPlan, max_group_for_jobs
from kbetavae.study.report import build_report, check_traverse_beta
from kbetavae.study.sweep import (
    RUNS_ROOT,
    SAVED_MODELS_ROOT,
    STATUS_WORDS,
    Progress,
    prepare_sweep,
    run_sweep,
)
from kbetavae.training.rundir import resume_words, run_name
from kbetavae.validation import check_int

logger = logging.getLogger(__name__)
# Seconds a worker gets to end after SIGTERM before it is killed.
STOP_SECONDS = 10.0


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


def limit_threads(threads: int) -> int:
    """Size this process's thread pools to ``threads``: TensorFlow's intra-op pool and the
    BLAS/OpenMP pools numpy and scikit-learn use in evaluation. Returns the intra-op
    threads TensorFlow will use (0: its default, when it was already running here)."""
    # OpenMP reads this when its library loads (scikit-learn's, later in evaluation);
    # threadpoolctl limits the pools already loaded.
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import tensorflow as tf
    from threadpoolctl import threadpool_limits

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow already ran an op in this process
        logger.warning(
            "TensorFlow already runs in this process: its threads stay as they are, not %d",
            threads,
        )
    threadpool_limits(limits=threads)
    return tf.config.threading.get_intra_op_parallelism_threads()


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
    with _Workers(jobs, threads, (plan, out, saved_models, settings), progress) as workers:
        rows = run_sweep(plan, out, saved_models, progress=progress, share="lead", **settings)
        workers.wait()
    return rows


class _Workers:
    """Jobs 2 … N as spawned processes; their lines reach ``progress.job_line``."""

    def __init__(self, jobs: int, threads: int, sweep_args: tuple, progress: Progress):
        context = multiprocessing.get_context("spawn")
        self.progress = progress
        self.lines = context.Queue()
        self.failed: set[int] = set()
        self.processes = {
            job: context.Process(
                target=_work,
                args=(job, jobs, threads, os.getpid(), self.lines, *sweep_args),
                name=f"kbetavae-job-{job}",
                daemon=True,  # ended with the lead, whatever ends it
            )
            for job in range(2, jobs + 1)
        }
        self.reader = threading.Thread(target=self._read, name="kbetavae-job-lines", daemon=True)

    def __enter__(self) -> _Workers:
        self.reader.start()
        for process in self.processes.values():
            process.start()
        return self

    def _read(self) -> None:
        while (item := self.lines.get()) is not None:
            job, kind, text = item
            if kind == "failed":
                self.failed.add(job)
                text = f"failed ({text}); job 1 finishes its runs"
            self.progress.job_line(job, text)

    def wait(self) -> None:
        """Wait for every worker to end; a worker that failed is said in one line."""
        for job, process in self.processes.items():
            process.join()
            if process.exitcode != 0 and job not in self.failed:
                self.progress.job_line(job, f"ended with exit code {process.exitcode}")

    def __exit__(self, *exc) -> None:
        # Reached early on Ctrl-C or an error in the lead: no worker outlives it.
        for process in self.processes.values():
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + STOP_SECONDS
        for process in self.processes.values():
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        self.lines.put(None)
        self.reader.join(timeout=STOP_SECONDS)


def _work(job, jobs, threads, lead_pid, lines, plan, out, saved_models, settings) -> None:
    """A worker process: train the runs it can claim, then end (exit 1 on an error)."""
    _end_with_lead(lead_pid)
    try:
        record_execution(jobs=jobs, threads_per_job=limit_threads(threads))
        run_sweep(
            plan, out, saved_models, progress=_LineProgress(job, lines), share="worker", **settings
        )
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the lead says it
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - one line to the lead, who takes over the runs
        message = (str(exc).splitlines() or [""])[0]
        lines.put((job, "failed", f"{type(exc).__name__}: {message}"))
        sys.exit(1)


def _end_with_lead(lead_pid: int) -> None:
    """Exit as soon as the lead is gone (killed without the chance to stop its workers)."""

    def watch() -> None:
        while os.getppid() == lead_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="kbetavae-lead-watch", daemon=True).start()


class _LineProgress(Progress):
    """A worker's progress as plain lines to the lead: runs, stages and epochs."""

    def __init__(self, job: int, lines):
        self.job, self.lines, self.label = job, lines, ""

    def say(self, text: str) -> None:
        self.lines.put((self.job, "line", text))

    def run_started(self, index: int, total: int, config, status: str) -> list:
        self.label = f"[{index + 1}/{total}] {run_name(config)}"
        self.say(f"{self.label}: {STATUS_WORDS[status]}")
        return [_epoch_lines(self)] if status == "running" else []

    def resumed(self, epochs_done: int, epochs: int) -> None:
        self.say(f"{self.label}: {resume_words(epochs_done, epochs)}")

    def focus(self, label: str) -> None:
        self.label = label

    def stage(self, message: str) -> None:
        self.say(f"{self.label}: {message}")

    def run_finished(self, row: dict) -> None:
        reason = f" ({row['reason']})" if row.get("reason") else ""
        self.say(f"{self.label}: {row['status']}{reason}")


def _epoch_lines(progress: _LineProgress):
    """A Keras callback saying each finished epoch (Keras imported here, in the worker)."""
    import keras

    class _EpochLines(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            loss = (logs or {}).get("loss", float("nan"))
            epochs = self.params["epochs"]
            progress.say(f"{progress.label}: epoch {epoch + 1}/{epochs} loss {loss:.2f}")

    return _EpochLines()
