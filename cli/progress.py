"""Progress of a sweep on the terminal: which run, which epoch, and an ETA."""

from __future__ import annotations

import sys
import time

import keras
import typer

from kbetavae.study.plan import SweepPlan
from kbetavae.study.sweep import Progress
from kbetavae.training.rundir import run_name


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class TerminalProgress(Progress):
    """Prints one line per stage; on a terminal, a live status line while training.

    The ETA counts the optimiser steps left in the sweep at the speed measured so far
    (evaluation time is estimated from the runs already evaluated).
    """

    def __init__(self, quiet: bool = False, stream=None):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.live = not quiet and self.stream.isatty()
        self.started = time.monotonic()
        self.steps_done = 0
        self.train_seconds = 0.0
        self.steps_per_epoch: int | None = None
        self.eval_seconds: list[float] = []

    def _say(self, text: str) -> None:
        if self.live:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        self.stream.flush()

    def sweep_started(self, plan: SweepPlan, todo: int) -> None:
        self.plan, self.todo_runs = plan, todo
        self.remaining_runs = todo
        self._say(
            f"sweep {plan.name}: {len(plan.betas) * len(plan.seeds)} runs "
            f"({todo} to do), {plan.base.epochs} epochs each"
        )

    def run_started(self, index: int, total: int, config, status: str) -> list:
        self.label = f"[{index + 1}/{total}] {run_name(config)}"
        self._say(f"{self.label}: {'already finished' if status == 'finished' else 'training'}")
        return [] if status == "finished" else [_EpochReporter(self)]

    def stage(self, message: str) -> None:
        self._stage_started = time.monotonic()
        self._stage = message
        self._say(f"{self.label}: {message}")

    def run_finished(self, row: dict) -> None:
        if getattr(self, "_stage", None) == "evaluating" and row.get("eval_seconds"):
            self.eval_seconds.append(float(row["eval_seconds"]))
        self._stage = None
        self.remaining_runs = max(0, self.remaining_runs - 1)
        scores = ", ".join(
            f"{k} {row[k]:.3f}"
            for k in ("mig", "zdiff", "modularity")
            if isinstance(row.get(k), float)
        )
        self._say(
            f"{self.label}: {row['status']}"
            + (f" — {scores}" if scores else "")
            + (f" ({row['reason']})" if row.get("reason") else "")
        )

    def eta(self, steps_left_in_run: int) -> float | None:
        if not self.steps_done or not self.steps_per_epoch:
            return None
        rate = self.steps_done / self.train_seconds
        later_runs = max(0, self.remaining_runs - 1)
        steps = steps_left_in_run + later_runs * self.plan.base.epochs * self.steps_per_epoch
        evals = (self.eval_seconds[-1] if self.eval_seconds else 0.0) * self.remaining_runs
        return steps / rate + evals


class _EpochReporter(keras.callbacks.Callback):
    """Feeds the terminal display from inside ``fit``."""

    def __init__(self, display: TerminalProgress):
        super().__init__()
        self.display = display
        self._last_draw = 0.0

    def on_train_begin(self, logs=None):
        self.display.steps_per_epoch = self.params.get("steps") or self.display.steps_per_epoch
        self._tick = time.monotonic()

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
        if self.display.live and now - self._last_draw > 0.5:
            self._last_draw = now
            steps = self.params.get("steps") or 0
            left = (self.params["epochs"] - self.epoch - 1) * steps + max(0, steps - batch - 1)
            eta = self.display.eta(left)
            self.display.stream.write(
                f"\r\033[K{self.display.label}: epoch {self.epoch + 1}/{self.params['epochs']}"
                f" step {batch + 1}/{steps} loss {logs.get('loss', float('nan')):.2f}"
                + (f"  sweep ETA {_clock(eta)}" if eta is not None else "")
            )
            self.display.stream.flush()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        steps = self.params.get("steps") or 0
        eta = self.display.eta((self.params["epochs"] - epoch - 1) * steps)
        self.display._say(
            f"{self.display.label}: epoch {epoch + 1}/{self.params['epochs']} "
            f"loss {logs.get('loss', float('nan')):.2f} "
            f"reconstruction {logs.get('reconstruction', float('nan')):.2f} "
            f"kl {logs.get('kl', float('nan')):.2f}"
            + (f" — sweep ETA {_clock(eta)}" if eta is not None else "")
        )


def echo_summary(rows: list[dict], sweep_dir: str) -> None:
    done = sum(r.get("status") == "done" for r in rows)
    typer.echo(
        f"{done}/{len(rows)} runs finished; results in {sweep_dir}/results.md, "
        f"figures in {sweep_dir}/figures/"
    )
