"""``kbetavae train``: one run from the command line, and one-line errors for bad input."""

import dataclasses
import inspect
import json

import pytest
from typer.testing import CliRunner

from cli import sweep as sweep_commands
from cli import train as train_commands
from cli.main import app
from kbetavae.training import TrainConfig

runner = CliRunner()
TINY = ["--epochs", "1", "--subset", "64", "--batch-size", "32", "--quiet"]


def test_train_writes_a_run_named_after_beta_and_seed(tmp_path):
    result = runner.invoke(
        app, ["train", "--beta", "4", "--seed", "1", "--out", str(tmp_path), *TINY]
    )
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "beta=4_seed=1"
    assert f"{run_dir}: done after 1 epoch " in result.output
    config = json.loads((run_dir / "config.json").read_text())["config"]
    assert (config["beta"], config["seed"], config["subset"]) == (4.0, 1, 64)
    assert (run_dir / "model.keras").exists() and (run_dir / "done.json").exists()


def test_train_honours_name_objective_and_precision(tmp_path):
    args = [
        "train",
        "--objective",
        "capacity",
        "--objective-args",
        "capacity_max=5,gamma=100",
        "--precision",
        "mixed_bfloat16",
        "--out",
        str(tmp_path),
        "--name",
        "cap",
        *TINY,
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "cap" / "config.json").read_text())["config"]
    assert config["objective"] == "capacity"
    assert (config["objective_args"]["capacity_max"], config["objective_args"]["gamma"]) == (5, 100)
    assert config["precision"] == "mixed_bfloat16"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--beta", "-1"], "beta must be a finite number >= 0, got -1.0"),
        (["--beta", "nan"], "beta must be a finite number >= 0, got nan"),
        (["--epochs", "0"], "epochs must be an integer >= 1, got 0"),
        (["--latent-dim", "0"], "--latent-dim must be an integer >= 1, got 0"),
        (["--objective", "elbo"], "objective must be one of"),
        (["--precision", "fp16"], "precision must be one of"),
        (["--source", "nowhere.txt"], "unknown source 'nowhere.txt'"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, args, message):
    result = runner.invoke(app, ["train", "--out", str(tmp_path), *args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kbetavae: error: ") and message in lines[0]
    assert not any(tmp_path.iterdir())  # nothing written for bad input


@pytest.mark.parametrize("command", [train_commands.train, sweep_commands.sweep])
def test_cli_defaults_are_the_train_config_defaults(command):
    defaults = dataclasses.asdict(TrainConfig())
    renamed = {"jit": "jit_compile"}
    checked = 0
    for name, parameter in inspect.signature(command).parameters.items():
        field = renamed.get(name, name)
        if field in defaults and field != "objective_args":
            default = getattr(parameter.default, "default", parameter.default)
            if command is sweep_commands.sweep and name == "objective":
                # the sweep's --objective is a repeatable grid spec: none given means the
                # base objective with --betas, which must be TrainConfig's
                assert default is None
                default = sweep_commands._grid([], None, None)[0]
            assert default == defaults[field], name
            checked += 1
    assert checked >= 9
