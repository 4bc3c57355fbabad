"""The worker processes of ``--jobs N`` (:mod:`kbetavae.study.jobs`): jobs 2 … N, each
a spawned interpreter that trains the runs it can claim and sends its progress lines to
the lead through a pipe of its own; the lead stops them when it stops.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import sys
import threading
import time

from kbetavae.provenance import record_execution
from kbetavae.study.sweep import STATUS_WORDS, Progress, run_sweep
from kbetavae.training.rundir import resume_words, run_name

logger = logging.getLogger(__name__)
# Seconds a worker gets to end after SIGTERM before it is killed.
STOP_SECONDS = 10.0


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


class Workers:
    """Jobs 2 … N as spawned processes; their lines reach ``progress.job_line``.

    Each worker writes its lines into a pipe of its own. A shared ``multiprocessing.Queue``
    hung the lead at exit after Ctrl-C (once in CI, at 2338e66): a worker terminated
    while it held the queue's cross-process write lock left it held for good, so the lead's
    own ``put`` blocked its feeder thread, which the interpreter joins at exit. With one
    pipe per worker, nothing a worker holds when it dies can stop the lead or another
    worker: its pipe just ends (EOF) for the lead's reader.
    """

    def __init__(self, jobs: int, threads: int, sweep_args: tuple, progress: Progress, target=None):
        context = multiprocessing.get_context("spawn")
        self.progress = progress
        self.failed: set[int] = set()
        self.processes: dict[int, multiprocessing.Process] = {}
        self._readers: list = []
        self._writers: list = []
        for job in range(2, jobs + 1):
            reader, writer = context.Pipe(duplex=False)
            self.processes[job] = context.Process(
                target=target or _work,
                args=(job, jobs, threads, os.getpid(), writer, *sweep_args),
                name=f"kbetavae-job-{job}",
                daemon=True,  # ended with the lead, whatever ends it
            )
            self._readers.append(reader)
            self._writers.append(writer)
        self.reader = threading.Thread(target=self._read, name="kbetavae-job-lines", daemon=True)

    def __enter__(self) -> Workers:
        for process, writer in zip(self.processes.values(), self._writers, strict=True):
            process.start()
            writer.close()  # the worker has its copy; the pipe ends when the worker does
        self.reader.start()
        return self

    def _read(self) -> None:
        """Pass every worker's lines on until each worker's pipe has ended."""
        open_readers = list(self._readers)
        while open_readers:
            for reader in multiprocessing.connection.wait(open_readers):
                try:
                    job, kind, text = reader.recv()
                except (EOFError, OSError):  # the worker ended (a cut line ends it too)
                    open_readers.remove(reader)
                    reader.close()
                    continue
                if kind == "failed":
                    self.failed.add(job)
                    text = f"failed ({text}); job 1 finishes its runs"
                self.progress.job_line(job, text)

    def wait(self) -> None:
        """Wait for every worker to end; a worker that failed is said in one line."""
        for process in self.processes.values():
            process.join()
        self.reader.join(timeout=STOP_SECONDS)  # the workers' last lines, "failed" among them
        for job, process in self.processes.items():
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
        self.reader.join(timeout=STOP_SECONDS)


def _work(job, jobs, threads, lead_pid, lines, plan, out, saved_models, settings) -> None:
    """A worker process: train the runs it can claim, then end (exit 1 on an error).
    ``lines``: the sending end of its pipe to the lead."""
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
        lines.send((job, "failed", f"{type(exc).__name__}: {message}"))
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
        self.lines.send((self.job, "line", text))

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
