"""The run directory's name and records: one definition, readable across versions."""

from __future__ import annotations

import pytest

from kbetavae.errors import InputError
from kbetavae.model.objectives import OBJECTIVES
from kbetavae.training import TrainConfig, rundir


@pytest.mark.parametrize(
    ("config", "name"),
    [
        (TrainConfig(beta=4.0, seed=1), "beta=4_seed=1"),
        (TrainConfig(objective="capacity"), "capacity=25_gamma=1000_seed=0"),
        (TrainConfig(objective="btcvae", beta=6.0), "btcvae_beta=6_seed=0"),
        (
            TrainConfig(objective="factorvae", objective_args={"gamma": 20}),
            "factorvae_gamma=20_seed=0",
        ),
        (
            TrainConfig(objective="dipvae_ii", objective_args={"lambda_od": 5}),
            "dipvae_ii_lambda_od=5_seed=0",
        ),
    ],
)
def test_a_run_is_named_by_its_objective_and_main_weight(config, name):
    assert rundir.run_name(config) == name


def test_the_names_main_weights_are_the_objectives_own():
    for key, cls in OBJECTIVES.items():
        if key not in ("beta", "capacity"):
            assert rundir._MAIN_WEIGHTS[key] == cls.main_weight, key


def test_a_config_round_trips_and_a_different_one_is_refused(tmp_path):
    config = TrainConfig(objective="capacity", objective_args={"gamma": 10})
    rundir.write_config(str(tmp_path), config)
    assert rundir.read_config(str(tmp_path)) == config
    rundir.write_config(str(tmp_path), config)  # the same config again: fine
    with pytest.raises(InputError, match="different config \\(objective_args\\)"):
        rundir.check_same_config(str(tmp_path), config.replace(objective_args={"gamma": 11}))


def test_a_config_written_before_objective_args_reads_the_same(tmp_path):
    legacy = {
        **{k: v for k, v in TrainConfig().to_dict().items() if k != "objective_args"},
        "objective": "capacity",
        "gamma": 500.0,
        "capacity_min": 0.0,
        "capacity_max": 10.0,
        "capacity_steps": 1000,
    }
    config = TrainConfig.from_dict(legacy)
    assert config.objective_args["gamma"] == 500.0 and config.objective_args["capacity_max"] == 10.0


def test_backup_epochs_reads_the_keras_epoch_marker(tmp_path):
    from kbetavae.training.rundir import BACKUP_METADATA, backup_epochs, backup_path

    backup = backup_path(str(tmp_path))
    assert backup == str(tmp_path / "backup") and backup_epochs(backup) == 0
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / BACKUP_METADATA).write_text('{"epoch": 3, "batch": -1}')
    assert backup_epochs(backup) == 3
    (tmp_path / "backup" / BACKUP_METADATA).write_text("{")  # damaged: the restore says so
    assert backup_epochs(backup) == 0
    assert backup_path(str(tmp_path), "gs://b/ckpt/run") == "gs://b/ckpt/run"
