"""``kbetavae train`` as a Vertex AI job or hyperparameter-tuning trial runs it."""

import json
import sys

import pytest
import typer
from typer.testing import CliRunner

import kbetavae.training
import kbetavae.training.loop
from cli.main import app
from kbetavae.study import trial

runner = CliRunner()


def parse_train_args(args: list[str]) -> dict:
    """The parameter values ``kbetavae train ARGS`` would run with (nothing runs)."""
    command = typer.main.get_command(app).commands["train"]
    return command.make_context("train", list(args)).params


@pytest.fixture
def fake_train(monkeypatch):
    """Replace training with a recorder that returns a finished run at once."""
    calls = []

    def train(config, run_dir, **kwargs):
        calls.append({"config": config, "run_dir": run_dir, **kwargs})
        return kbetavae.training.TrainResult(run_dir, "done", 1, 8, {"loss": 1.0})

    monkeypatch.setattr(kbetavae.training.loop, "train", train)
    return calls


@pytest.fixture
def no_evaluation(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("nothing is evaluated or exported here")

    monkeypatch.setattr(trial, "evaluate_run", refuse)
    monkeypatch.setattr(trial, "export_run", refuse)


def test_equals_style_flags_parse_like_spaced_ones():
    spaced = parse_train_args(["--beta", "4.0", "--seed", "1", "--batch-size", "64"])
    vertex = parse_train_args(["--beta=4.0", "--seed=1", "--batch-size=64"])
    assert vertex == spaced
    assert (vertex["beta"], vertex["seed"], vertex["batch_size"]) == (4.0, 1, 64)


def test_integers_in_float_notation_are_accepted():
    # Vertex AI may pass tuned integer parameters as "2.0".
    params = parse_train_args(["--seed=2.0", "--epochs=10.0", "--subset=50000"])
    assert (params["seed"], params["epochs"], params["subset"]) == (2, 10, 50_000)
    assert isinstance(params["seed"], int)


def test_fractional_integer_flag_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["train", "--seed=1.5", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "'1.5' is not an integer" in result.output
    assert not any(tmp_path.iterdir())


def test_a_trial_trains_into_aip_dirs_evaluates_reports_and_exports(
    tmp_path, off_vertex, monkeypatch, fake_hypertune
):
    model_dir, checkpoint_dir = tmp_path / "model", tmp_path / "checkpoints"
    monkeypatch.setenv("AIP_MODEL_DIR", f"{model_dir}/")
    monkeypatch.setenv("AIP_CHECKPOINT_DIR", f"{checkpoint_dir}/")
    monkeypatch.setenv("CLOUD_ML_TRIAL_ID", "3")
    # Appended by Vertex AI to the spec's args, as --<parameterId>=<value>.
    args = ["train", "--epochs=1", "--subset=256", "--eval-points=200", "--metrics=mig", "-q"]
    args += ["--beta=4.0", "--seed=1"]

    result = runner.invoke(app, args)

    assert result.exit_code == 0, result.output
    run_dir = model_dir / "beta=4_seed=1"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    steps = json.loads((run_dir / "done.json").read_text())["steps"]
    assert steps == 8  # 256 images / batch 32, one epoch
    assert fake_hypertune == [("mig", pytest.approx(metrics["mig"]["score"]), steps)]
    assert metrics["protocol"]["num_points"] == 200 and metrics["seed"] == 1
    assert (model_dir / "saved_models" / "beta=4_seed=1" / "1" / "saved_model.pb").is_file()
    # Backups went to AIP_CHECKPOINT_DIR (and were cleared when the run finished).
    assert checkpoint_dir.is_dir() and not (run_dir / "backup").exists()

    # A restarted trial neither retrains nor re-evaluates, and reports the same value again.
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert fake_hypertune[1] == fake_hypertune[0]
    assert json.loads((run_dir / "metrics.json").read_text()) == metrics


def test_local_run_neither_evaluates_nor_exports_by_default(
    tmp_path, off_vertex, fake_train, no_evaluation
):
    result = runner.invoke(app, ["train", "--beta=2", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (call,) = fake_train
    assert call["run_dir"] == str(tmp_path / "beta=2_seed=0")
    assert call["backup_dir"] is None  # training's default: <run_dir>/backup


def test_trial_without_cloudml_hypertune_warns_and_succeeds(
    tmp_path, off_vertex, monkeypatch, fake_train
):
    monkeypatch.setenv("CLOUD_ML_TRIAL_ID", "4")
    monkeypatch.setitem(sys.modules, "hypertune", None)  # `import hypertune` fails
    monkeypatch.setattr(trial, "evaluate_run", lambda result, plan: {"mig": {"score": 0.5}})

    result = runner.invoke(app, ["train", "--out", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert "mig 0.500" in result.output
    assert "cloudml-hypertune is not installed" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--hypertune-metric", "accuracy"], "--hypertune-metric must be one of mig, zdiff"),
        (["--evaluate", "--metrics", "mig,bogus"], "--metrics: unknown bogus; choose from mig"),
        (["--evaluate", "--eval-points", "10"], "--eval-points must be at least 100, got 10"),
    ],
)
def test_bad_evaluation_options_fail_before_training(
    tmp_path, off_vertex, fake_train, args, message
):
    result = runner.invoke(app, ["train", "--out", str(tmp_path), *args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert not fake_train and not any(tmp_path.iterdir())
