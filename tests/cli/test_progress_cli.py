"""Sweep progress as a user sees it: plain piped lines, evaluation progress, Ctrl-C, resume."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

from cli.progress import TerminalProgress
from kbetavae.study.plan import SweepPlan
from kbetavae.training.config import TrainConfig

from .terminal import sigint_as_from_a_terminal

KBETAVAE = [sys.executable, "-m", "cli.main"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
SWEEP = ["sweep", "--out", "runs", "--saved-models", "sm", "--name", "t", "--betas", "1"]
TINY = ["--epochs", "1", "--subset", "256", "--batch-size", "32", "--eval-points", "100"]


def test_ctrl_c_keeps_the_run_says_how_to_resume_and_the_resume_skips_training(tmp_path):
    command = [*KBETAVAE, *SWEEP, *TINY]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        cwd=tmp_path,
        preexec_fn=sigint_as_from_a_terminal,
    )
    trained = tmp_path / "runs" / "t" / "beta=1_seed=0" / "done.json"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None and not trained.exists():
        time.sleep(0.05)
    assert process.poll() is None, process.communicate()[1][-3000:]
    process.send_signal(signal.SIGINT)  # during the evaluation, which follows done.json
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)  # pressed again while the first is handled
    out, err = process.communicate(timeout=300)
    assert process.returncode == 130, err[-3000:]
    assert err.count("kbetavae: interrupted") == 1, err[-3000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith("kbetavae: interrupted; 0 finished run(s) are kept in runs/t")
    assert last.endswith("kbetavae " + " ".join(SWEEP + TINY))
    assert "Traceback" not in err and "\x1b" not in out + err
    assert not (trained.parent / "metrics.json").exists()

    rerun = subprocess.run(
        command, capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=900
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    log = rerun.stderr
    assert "[1/1] beta=1_seed=0: already trained" in log and ": training" not in log
    # Piped, progress is plain lines: evaluation milestones, no escape sequences.
    assert "beta=1_seed=0: evaluating, " in log and " images" in log
    assert "\x1b" not in rerun.stdout + log


def _display(**plan_options) -> tuple[TerminalProgress, io.StringIO]:
    stream = io.StringIO()
    display = TerminalProgress(stream=stream)
    plan = SweepPlan(name="t", betas=(1.0, 4.0), seeds=(0,), **plan_options)
    display.sweep_started(plan, todo=2)
    return display, stream


def test_a_small_sweep_with_the_full_protocol_says_once_how_to_be_quick():
    display, stream = _display(base=TrainConfig(subset=2000))
    display.stage("evaluating")
    assert stream.getvalue().count("note: ") == 1
    assert "trades precision for time" in stream.getvalue()
    _, quick = _display(base=TrainConfig(subset=2000), eval_points=1000)
    _, large = _display(base=TrainConfig(subset=50_000))
    assert "--eval-points" not in quick.getvalue() + large.getvalue()


def test_the_eta_counts_the_evaluations_left():
    display, stream = _display(base=TrainConfig(subset=2000), eval_points=1000)
    display.steps_per_epoch, display.steps_done, display.train_seconds = 100, 100, 10.0
    display.passes_left = 1  # the first run's training pass is over
    assert display.eta(0).endswith("+ evaluation")  # not timed yet: said, not hidden
    display.label = "[1/2] beta=1_seed=0"
    display.stage("evaluating")
    display.eval_started -= 60.0  # as if a minute ago
    display.evaluation(500, 1000)
    # Half done in 60 s: 60 s left here, then 10 epochs x 100 steps at 10 steps/s and a
    # 120 s evaluation for the second run.
    hours, minutes, seconds = map(int, display.eta(0).split(":"))
    assert abs(hours * 3600 + minutes * 60 + seconds - (60 + 100 + 120)) <= 2
    assert "evaluating, 500/1,000 images  sweep ETA" in stream.getvalue()


def test_the_eta_trains_a_fused_group_once_and_evaluates_each_member():
    """Seven βs fused in one pass of 10 epochs x 100 steps at 10 steps/s. During the first
    epoch's end 9 epochs are left: 900 steps, 90 s, and no other pass (the six others train
    in the same steps), then 7 evaluations not yet timed. After the pass, evaluating the
    first member at 60 s per model with half done: 30 s here and 6 x 60 s for the others."""
    stream = io.StringIO()
    display = TerminalProgress(stream=stream)
    plan = SweepPlan(name="t", betas=(0.5, 1, 2.5, 5, 7.5, 10, 50), seeds=(0,))
    display.sweep_started(plan, todo=7, passes=1)
    display.steps_per_epoch, display.steps_done, display.train_seconds = 100, 100, 10.0
    display.training = True
    assert display.eta(900) == "0:01:30 + evaluation"
    display.training, display.passes_left = False, 0
    display.eval_seconds = [60.0]
    display.label = "[1/7] beta=0.5_seed=0"
    display.stage("evaluating")
    display.evaluation(500, 1000)
    hours, minutes, seconds = map(int, display.eta(0).split(":"))
    assert abs(hours * 3600 + minutes * 60 + seconds - (30 + 6 * 60)) <= 2


def test_the_header_and_a_resumed_run_use_words_in_their_number():
    stream = io.StringIO()
    display = TerminalProgress(stream=stream)
    plan = SweepPlan(name="t", betas=(4.0,), seeds=(0,), base=TrainConfig(epochs=1))
    display.sweep_started(plan, todo=1)
    display.run_started(0, 1, plan.configs()[0], "running")
    display.resumed(1, 3)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "sweep t: 1 run (1 to do), 1 epoch each"
    assert lines[-1] == "[1/1] beta=4_seed=0: resuming from epoch 2/3 (1 done before)"
    many = io.StringIO()
    plan = SweepPlan(name="t", betas=(1.0, 4.0), base=TrainConfig(epochs=2))
    TerminalProgress(stream=many).sweep_started(plan, todo=2)
    assert many.getvalue().startswith("sweep t: 2 runs (2 to do), 2 epochs each\n")


def test_a_finished_run_shows_the_scores_of_every_metric_the_registry_names():
    from kbetavae.metrics import registry

    registry.register(registry.MetricSpec("spread", "Code spread (toy)", lambda x: {"score": 0}))
    try:
        display, stream = _display()
        display.label = "[1/2] beta=1_seed=0"
        display.run_finished({"status": "done", "mig": 0.25, "spread": 0.5, "loss": 3.0})
    finally:
        registry.unregister("spread")
    line = stream.getvalue().splitlines()[-1]
    assert line == "[1/2] beta=1_seed=0: done — mig 0.250, spread 0.500"


def test_a_note_names_the_commands_flag_for_the_setting():
    stream = io.StringIO()
    display = TerminalProgress(stream=stream, flags={"traverse_beta": "--traverse-beta"})
    display.note("traverse_beta 5 has no finished run to draw")
    assert stream.getvalue() == "note: --traverse-beta 5 has no finished run to draw\n"
