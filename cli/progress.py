"""Progress of a sweep on the terminal: which run, which stage, and an ETA that counts
evaluation as well as training.

Lines go through a Rich console: on a terminal a live bar shows the current epoch or
evaluation; piped, the console writes plain lines without escape sequences, and progress
within a stage is a few milestone lines.

The module is long because one display serves the three things a user waits for —
epochs, evaluation and the sweep's ETA over both — on terminals and in pipes alike.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator

import rich.progress
import typer
from rich.console import Console

from cli.common import as_flags, count
from kbetavae import io as kio
from kbetavae.metrics import registry
from kbetavae.metrics.inputs import ACTIVE_KL_NATS
from kbetavae.metrics.protocol import FULL_POINTS
from kbetavae.study.plan import SweepPlan
from kbetavae.study.results import REPORT_FILE
from kbetavae.study.sweep import STATUS_WORDS, Progress
from kbetavae.training.rundir import resume_words, run_name

# Below this many training images the full evaluation protocol outweighs training.
SMALL_SUBSET = 10_000
# Piped output: one line per this fraction of an evaluation.
MILESTONE = 0.25


def clock(seconds: float) -> str:
    """``h:mm:ss`` of a duration."""
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def console_for(stream=None) -> Console:
    """A console writing plain text (no markup, no wrapping) to ``stream`` (stderr)."""
    return Console(
        file=stream or sys.stderr, highlight=False, markup=False, emoji=False, soft_wrap=True
    )


def live_bar(console: Console) -> rich.progress.Progress:
    """A transient bar: description, bar, n/total, and a free-text detail."""
    return rich.progress.Progress(
        rich.progress.TextColumn("{task.description}"),
        rich.progress.BarColumn(),
        rich.progress.MofNCompleteColumn(),
        rich.progress.TextColumn("{task.fields[detail]}"),
        console=console,
        transient=True,
    )


def chunked(description: str, total: int, chunk: int, stream=None) -> Iterator[int]:
    """The start offsets of ``total`` items in ``chunk``s, with a live bar on a terminal
    (piped: one line saying what is being done)."""
    console = console_for(stream)
    starts = range(0, total, chunk)
    if not console.is_terminal:
        console.print(f"{description}: {total:,} images")
        yield from starts
        return
    with live_bar(console) as bar:
        task = bar.add_task(description, total=total, detail="images")
        for start in starts:
            yield start
            bar.update(task, completed=min(total, start + chunk))


class TerminalProgress(Progress):
    """Prints one line per stage; on a terminal, a live bar while training or evaluating.

    The ETA counts the optimiser steps left at the speed measured so far, plus the
    evaluations left at the duration of the last one (or, during the first, at its speed
    so far); before any evaluation has been timed it says "+ evaluation".
    """

    def __init__(self, quiet: bool = False, stream=None, flags: dict[str, str] | None = None):
        self.console = console_for(stream)
        self.flags = flags or {}  # the command's flags, for the settings a note names
        self.live = not quiet and self.console.is_terminal
        self.bar = live_bar(self.console) if self.live else None
        self.task = None
        self.label = ""
        self.steps_done = 0
        self.train_seconds = 0.0
        self.steps_per_epoch: int | None = None
        self.eval_seconds: list[float] = []
        self.eval_started: float | None = None
        self.eval_fraction = 0.0
        self.finished = 0
        self.passes_left = 0
        self.training = False
        self.jobs = 1
        self.job_prefix = ""
        self._last_draw = 0.0
        self._milestone = 0

    def say(self, text: str) -> None:
        """One log line (above the live bar, if there is one)."""
        self.console.print(text)

    def sweep_started(self, plan: SweepPlan, todo: int, passes: int | None = None) -> None:
        self.plan, self.todo_runs = plan, todo
        self.remaining_runs = todo
        self.passes_left = todo if passes is None else passes
        self.say(
            f"sweep {plan.name}: {count(len(plan.configs()), 'run')} "
            f"({todo} to do), {count(plan.base.epochs, 'epoch')} each"
        )
        if todo and plan.base.subset < SMALL_SUBSET and plan.eval_points >= FULL_POINTS:
            self.say(
                f"note: the full evaluation protocol (--eval-points {plan.eval_points}) costs "
                f"minutes per model on a CPU, more than training on {plan.base.subset} images; "
                "a smaller --eval-points (e.g. 1000) trades precision for time"
            )
        if self.bar is not None:
            self.bar.start()
            self.task = self.bar.add_task("", total=None, detail="")

    def jobs_started(self, jobs: int, threads: int) -> None:
        self.jobs = jobs
        self.job_prefix = "job 1: "
        self.say(f"{count(jobs, 'job')} of {count(threads, 'thread')} each share the runs")

    def job_line(self, job: int, text: str) -> None:
        self.say(f"job {job}: {text}")

    def run_started(self, index: int, total: int, config, status: str) -> list:
        self.label = f"{self.job_prefix}[{index + 1}/{total}] {run_name(config)}"
        self.say(f"{self.label}: {STATUS_WORDS[status]}")
        return [epoch_reporter(self)] if status == "running" else []

    def resumed(self, epochs_done: int, epochs: int) -> None:
        self.say(f"{self.label}: {resume_words(epochs_done, epochs)}")

    def focus(self, label: str) -> None:
        self.label = self.job_prefix + label if label else ""

    def note(self, text: str) -> None:
        self.say(f"note: {as_flags(text, self.flags)}")

    def stage(self, message: str) -> None:
        self._stage = message
        if message == "evaluating":
            self.eval_started = time.monotonic()
            self.eval_fraction = 0.0
            self._milestone = 0
        self.say(f"{self.label}: {message}" if self.label else message)

    def evaluation(self, done: int, total: int) -> None:
        if self.eval_started is None:
            self.stage("evaluating")
        self.eval_fraction = done / total if total else 1.0
        eta = self.eta(0)
        detail = f"images  sweep ETA {eta}" if eta else "images"
        if self.bar is not None:
            self.show(f"{self.label}: evaluating", done, total, detail)
        elif self.eval_fraction >= (self._milestone + 1) * MILESTONE and done < total:
            self._milestone = int(self.eval_fraction / MILESTONE)
            self.say(f"{self.label}: evaluating, {done:,}/{total:,} {detail}")

    def show(self, description: str, completed: int, total: int | None, detail: str) -> None:
        """Redraw the live bar (at most five times a second)."""
        now = time.monotonic()
        if self.bar is None or self.task is None or now - self._last_draw < 0.2:
            return
        self._last_draw = now
        self.bar.update(
            self.task, description=description, completed=completed, total=total, detail=detail
        )

    def run_finished(self, row: dict) -> None:
        if self.eval_started is not None:
            self.eval_seconds.append(time.monotonic() - self.eval_started)
        self.eval_started = None
        self._stage = None
        self.finished += 1
        self.remaining_runs = max(0, self.remaining_runs - 1)
        scores = ", ".join(
            f"{k} {row[k]:.3f}" for k in registry.columns(None) if isinstance(row.get(k), float)
        )
        self.say(
            f"{self.label}: {row['status']}"
            + (f" — {scores}" if scores else "")
            + (f" ({row['reason']})" if row.get("reason") else "")
        )

    def close(self) -> None:
        """Remove the live bar."""
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    def _evaluation_estimate(self) -> float | None:
        """Seconds one evaluation takes: the last one, or the current one's pace."""
        if self.eval_seconds:
            return self.eval_seconds[-1]
        if self.eval_started is not None and self.eval_fraction > 0.02:
            return (time.monotonic() - self.eval_started) / self.eval_fraction
        return None

    def eta(self, steps_left_in_run: int) -> str | None:
        """The time left in the sweep, as ``h:mm:ss`` (``+ evaluation`` while unknown)."""
        if not hasattr(self, "plan"):
            return None
        seconds = 0.0
        # With --jobs the later runs are shared: a rough division, at this job's pace.
        later_runs = max(0, self.remaining_runs - 1) / self.jobs
        # Training is counted in passes: a fused group's step trains all its members.
        later_passes = max(0, self.passes_left - self.training) / self.jobs
        if self.steps_done and self.steps_per_epoch:
            rate = self.steps_done / self.train_seconds
            steps = steps_left_in_run + later_passes * self.plan.base.epochs * self.steps_per_epoch
            seconds += steps / rate
        elif steps_left_in_run or later_passes > 0:
            return None
        per_eval = self._evaluation_estimate()
        if per_eval is None:
            return f"{clock(seconds)} + evaluation"
        if self.eval_started is not None:  # this run is evaluating: what is left of it
            seconds += per_eval * (1 - self.eval_fraction)
        else:  # this run's evaluation is still ahead
            seconds += per_eval
        return clock(seconds + later_runs * per_eval)


def epoch_reporter(display: TerminalProgress):
    """A Keras callback feeding ``display`` from inside ``fit`` (Keras imported here, so
    that commands without training start without TensorFlow)."""
    import keras

    class _EpochReporter(keras.callbacks.Callback):
        """Feeds the terminal display from inside ``fit``."""

        def __init__(self, display: TerminalProgress):
            super().__init__()
            self.display = display

        def on_train_begin(self, logs=None):
            self.display.steps_per_epoch = self.params.get("steps") or self.display.steps_per_epoch
            self.display.training = True
            self._tick = time.monotonic()

        def on_train_end(self, logs=None):
            self.display.training = False
            self.display.passes_left = max(0, self.display.passes_left - 1)

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            self._last_batch = -1

        def on_train_batch_end(self, batch, logs=None):
            # With steps_per_execution > 1 Keras calls this every few steps; count the gap.
            now = time.monotonic()
            self.display.steps_done += batch - self._last_batch
            self._last_batch = batch
            self.display.train_seconds += now - self._tick
            self._tick = now
            if self.display.live:
                steps = self.params.get("steps") or 0
                left = (self.params["epochs"] - self.epoch - 1) * steps + max(0, steps - batch - 1)
                eta = self.display.eta(left)
                self.display.show(
                    f"{self.display.label}: epoch {self.epoch + 1}/{self.params['epochs']}",
                    batch + 1,
                    steps or None,
                    f"loss {(logs or {}).get('loss', float('nan')):.2f}"
                    + (f"  sweep ETA {eta}" if eta else ""),
                )

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            steps = self.params.get("steps") or 0
            eta = self.display.eta((self.params["epochs"] - epoch - 1) * steps)
            self.display.say(
                f"{self.display.label}: epoch {epoch + 1}/{self.params['epochs']} "
                f"loss {logs.get('loss', float('nan')):.2f} "
                f"reconstruction {logs.get('reconstruction', float('nan')):.2f} "
                f"kl {logs.get('kl', float('nan')):.2f}" + (f" — sweep ETA {eta}" if eta else "")
            )

    return _EpochReporter(display)


def echo_summary(rows: list[dict], sweep_dir: str) -> None:
    done = sum(r.get("status") == "done" for r in rows)
    typer.echo(
        f"{done}/{count(len(rows), 'run')} finished; results in {sweep_dir}/results.md, "
        f"figures in {sweep_dir}/figures/"
    )
    report = os.path.join(sweep_dir, REPORT_FILE)
    if kio.exists(report):
        typer.echo(f"report: {report}")


def latent_summary(logs: dict) -> str:
    """``loss … reconstruction … kl … active latents k/z`` of Keras logs; a latent is
    active when its mean KL (the ``kl_i`` logs) exceeds 0.01 nats, as in evaluation."""
    per_latent = [float(v) for k, v in logs.items() if re.fullmatch(r"kl_\d+", k)]
    text = "  ".join(
        f"{key} {float(logs[key]):.2f}" for key in ("loss", "reconstruction", "kl") if key in logs
    )
    if per_latent:
        active = sum(kl > ACTIVE_KL_NATS for kl in per_latent)
        text += f"  active latents {active}/{len(per_latent)}"
    return text


def train_reporter(stream=None):
    """A Keras callback showing ``kbetavae train``'s progress in one short line: a live
    bar on a terminal, a line per epoch always (per-latent KL stays in history.csv)."""
    import keras

    console = console_for(stream)

    class _TrainReporter(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = live_bar(console) if console.is_terminal else None
            self._last_draw = 0.0
            if self.bar is not None:
                self.bar.start()
                self.task = self.bar.add_task("", total=self.params.get("steps"), detail="")

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            now = time.monotonic()
            if self.bar is None or now - self._last_draw < 0.2:
                return
            self._last_draw = now
            self.bar.update(
                self.task,
                description=f"epoch {self.epoch + 1}/{self.params['epochs']}",
                completed=batch + 1,
                detail=latent_summary(logs or {}),
            )

        def on_epoch_end(self, epoch, logs=None):
            summary = latent_summary(logs or {})
            console.print(f"epoch {epoch + 1}/{self.params['epochs']}  {summary}")

        def on_train_end(self, logs=None):
            if self.bar is not None:
                self.bar.stop()

    return _TrainReporter()
