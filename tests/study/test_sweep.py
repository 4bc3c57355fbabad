"""The sweep library: plan validation, NaN handling, the results table."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from kbetavae.errors import InputError
from kbetavae.study.plan import SweepPlan, run_groups
from kbetavae.study.results import read_results, results_markdown
from kbetavae.study.sweep import Progress, run_sweep, training_passes
from kbetavae.training import rundir
from kbetavae.viz.report import render_sweep_figures


class _Poison(Progress):
    """Turns the weights of the β = 4 run into NaN after batch ``after`` of each epoch."""

    def __init__(self, after: int):
        self.after = after

    def run_started(self, index, total, config, status):
        if config.beta != 4.0:
            return []
        after = self.after

        class Poison(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                if batch >= after:
                    for weight in self.model.trainable_weights:
                        weight.assign(np.full(weight.shape, np.nan, weight.dtype))

        return [Poison()]


def test_a_nan_run_is_recorded_as_failed_and_the_sweep_goes_on(tmp_path):
    # 256 images, batch 32: 8 steps, one execution of 8 steps per epoch. Weights poisoned
    # after epoch 1 make epoch 2's loss NaN, which TerminateOnNaN catches.
    plan = SweepPlan.of(name="nan", betas=(4.0, 1.0), epochs=2, subset=256, eval_points=100)
    rows = run_sweep(plan, tmp_path / "runs", tmp_path / "sm", progress=_Poison(after=0))
    assert [(r["beta"], r["status"]) for r in rows] == [(4.0, "failed"), (1.0, "done")]
    assert rows[0]["reason"].startswith("loss became NaN")  # caught in training
    assert math.isfinite(rows[1]["mig"])
    stored = read_results(str(tmp_path / "runs" / "nan"))
    assert [r["status"] for r in stored] == ["failed", "done"]
    assert not (tmp_path / "sm" / "nan" / "beta=4_seed=0").exists()  # nothing exported
    render_sweep_figures(str(tmp_path / "runs" / "nan"))  # drawn from the failed + done rows
    assert (tmp_path / "runs" / "nan" / "figures" / "metrics_vs_beta.png").is_file()


def test_a_model_that_cannot_be_evaluated_is_a_failed_row_not_a_crash(tmp_path):
    # Poisoned after the last batch: training logged finite losses, but the encoder
    # now returns NaN, which the metrics refuse.
    plan = SweepPlan.of(name="late", betas=(4.0, 1.0), epochs=1, subset=256, eval_points=100)
    rows = run_sweep(plan, tmp_path / "runs", tmp_path / "sm", progress=_Poison(after=7))
    assert rows[0]["status"] == "failed" and rows[0]["reason"].startswith("evaluation:")
    assert "non-finite" in rows[0]["reason"] and rows[1]["status"] == "done"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"betas": (-1.0,)}, "betas values must be finite numbers >= 0"),
        ({"betas": (float("nan"),)}, "betas values must be finite"),
        ({"betas": (1.0, 1.0)}, "repeated"),
        ({"seeds": (-2,)}, "seeds must be integers"),
        ({"metrics": ("mig", "beauty")}, "metrics: unknown beauty"),
        ({"name": "../x"}, "name must be a plain directory name"),
        ({"epochs": 0}, "epochs"),
        ({"objective": "capacity", "betas": (1.0, 4.0)}, "does not use β"),
    ],
)
def test_bad_plans_are_refused_with_the_option_named(kwargs, message):
    with pytest.raises(InputError, match=message):
        SweepPlan.of(**kwargs)


def test_summary_gives_mean_and_sd_over_finished_seeds_only():
    rows = [
        {"beta": 1.0, "seed": 0, "status": "done", "mig": 0.2},
        {"beta": 1.0, "seed": 1, "status": "done", "mig": 0.4},
        {"beta": 1.0, "seed": 2, "status": "failed", "mig": None},
    ]
    text = results_markdown(rows, ["beta", "seed", "status", "mig"])
    # mean 0.3, sample sd of (0.2, 0.4) = 0.1414; the failed seed is counted, not averaged
    assert "| 1 | 2/3 | 0.3000 ± 0.1414 [" in text


def test_plan_round_trips_through_its_record():
    plan = SweepPlan.of(betas=(1.0, 4.0), seeds=(0, 1), metrics=("mig", "sap"), epochs=3)
    assert SweepPlan.from_dict(plan.to_dict()) == plan


def test_training_passes_count_a_fused_group_once_and_skip_finished_runs(tmp_path):
    """Three βs × two seeds fuse into one group per seed. Seed 0 has one run finished: its
    two others still fuse, one pass; seed 1 has all three to train, one pass. Unfused, the
    five unfinished runs are five passes."""
    plan = SweepPlan(name="t", betas=(1.0, 4.0, 8.0), seeds=(0, 1))
    configs = plan.configs()
    finished = tmp_path / rundir.run_name(configs[0])
    finished.mkdir()
    (finished / rundir.DONE_FILE).write_text("{}")
    assert training_passes(run_groups(configs), str(tmp_path)) == 2
    assert training_passes([[c] for c in configs], str(tmp_path)) == 5


class _StopInEpoch2(Progress):
    """Stands in for Ctrl-C after the group's first backup (the first member reports the
    group's epochs: only its callbacks run)."""

    def run_started(self, index, total, config, status):
        class Stop(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                if epoch == 1:
                    raise KeyboardInterrupt

        return [Stop()] if config.beta == 1.0 else []


def test_redo_of_a_member_of_an_interrupted_group_trains_it_afresh(tmp_path):
    """Both runs stop after epoch 1, their group's backup holding both. ``--redo`` of the
    β = 4 run drops that backup (backups_holding), so both retrain from the start and end
    equal to an uninterrupted sweep; restored, β = 4 would have resumed weights it no
    longer has the history of."""
    from kbetavae.training.fused import backups_holding

    plan = SweepPlan.of(name="r", betas=(1.0, 4.0), epochs=2, subset=256, eval_points=100)
    run_sweep(plan, tmp_path / "whole", tmp_path / "sm1")
    with pytest.raises(KeyboardInterrupt):
        run_sweep(plan, tmp_path / "runs", tmp_path / "sm2", progress=_StopInEpoch2())
    redone = tmp_path / "runs" / "r" / "beta=4_seed=0"
    assert len(backups_holding(redone)) == 1
    run_sweep(plan, tmp_path / "runs", tmp_path / "sm2", redo=["beta=4_seed=0"])
    assert backups_holding(redone) == []
    for name in ("beta=1_seed=0", "beta=4_seed=0"):
        history = [tmp_path / d / "r" / name / rundir.HISTORY_FILE for d in ("whole", "runs")]
        assert history[1].read_text() == history[0].read_text()


class _OtherSweepScores(Progress):
    """When the second run starts, rewrites the first run's ``metrics.json`` as a second
    sweep on the same directory does when it scores a setting (UDR) after this sweep kept
    the first run's row."""

    def __init__(self, first_run):
        self.first_run = first_run

    def run_started(self, index, total, config, status):
        if index == 1:
            record = rundir.read_metrics(str(self.first_run))
            rundir.write_metrics(
                str(self.first_run), {**record, "mig": {**record["mig"], "score": 0.123}}
            )
        return []


def test_the_table_reads_what_another_sweep_wrote_since_the_row_was_kept(tmp_path):
    """Two sweeps at once: the last results.csv once kept a run's row from before the other
    sweep added its setting's UDR (seen in tests/cli/test_faults_cli.py). Each table is now
    read again from the runs' files, so the first run's metric changed on disk while the
    second run trained reaches the final table."""
    plan = SweepPlan.of(name="two", betas=(1.0, 4.0), epochs=1, subset=256, eval_points=100)
    first = tmp_path / "runs" / "two" / "beta=1_seed=0"
    run_sweep(
        plan, tmp_path / "runs", tmp_path / "sm", progress=_OtherSweepScores(first), fuse=False
    )
    assert [r["mig"] for r in read_results(str(tmp_path / "runs" / "two"))][0] == 0.123


class _Labels(Progress):
    """Records what the sweep says the epochs are about when each epoch ends."""

    def __init__(self):
        self.label, self.epochs = None, []

    def focus(self, label):
        self.label = label

    def run_started(self, index, total, config, status):
        progress = self

        class Record(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                progress.epochs.append(progress.label)

        return [Record()]


def test_runs_trained_one_by_one_report_their_own_epochs(tmp_path):
    """A group that cannot fuse (FactorVAE's, or fuse=False) trains its runs one by one;
    each run's epochs are labelled with that run, not the group's last announced one."""
    plan = SweepPlan.of(name="one", betas=(1.0, 4.0), epochs=1, subset=256, eval_points=100)
    progress = _Labels()
    run_sweep(plan, tmp_path / "runs", tmp_path / "sm", progress=progress, fuse=False)
    assert progress.epochs == ["[1/2] beta=1_seed=0", "[2/2] beta=4_seed=0"]


def test_a_sweep_stopped_in_a_groups_evaluation_keeps_the_members_evaluated(tmp_path, monkeypatch):
    """Ctrl-C while the second member's metrics are computed: the first member's
    metrics.json is written already, and the resumed sweep evaluates the second only."""
    import importlib

    # The package exports the function `evaluate`, which hides the module of that name.
    evaluate_module = importlib.import_module("kbetavae.metrics.evaluate")
    evaluate_with = evaluate_module._evaluate_with
    calls, stop_at = [], [2]

    def counted(*args, **kwargs):
        calls.append(1)
        if len(calls) == stop_at[0]:
            raise KeyboardInterrupt
        return evaluate_with(*args, **kwargs)

    monkeypatch.setattr(evaluate_module, "_evaluate_with", counted)
    plan = SweepPlan.of(name="e", betas=(1.0, 4.0), epochs=1, subset=256, eval_points=100)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(plan, tmp_path / "runs", tmp_path / "sm")
    first, second = (tmp_path / "runs" / "e" / name for name in ("beta=1_seed=0", "beta=4_seed=0"))
    assert rundir.is_evaluated(str(first)) and not rundir.is_evaluated(str(second))
    kept = (first / rundir.METRICS_FILE).read_bytes()
    calls.clear()
    stop_at[0] = 0  # the stop has been: no call raises now
    rows = run_sweep(plan, tmp_path / "runs", tmp_path / "sm")
    assert len(calls) == 1  # the second member alone was evaluated
    assert [r["status"] for r in rows] == ["done", "done"]
    assert (first / rundir.METRICS_FILE).read_bytes() == kept
