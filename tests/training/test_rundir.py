"""The run directory's name and records: one definition, readable across versions."""

from __future__ import annotations

import pytest

from kbetavae.errors import InputError
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


def test_an_argument_away_from_its_default_joins_the_name_and_defaults_keep_old_names():
    mss = TrainConfig(objective="btcvae", beta=6.0, objective_args={"estimator": "mss"})
    assert rundir.run_name(mss) == "btcvae_beta=6_estimator=mss_seed=0"
    # Given at their defaults, arguments leave the name as it was before grids.
    assert (
        rundir.run_name(TrainConfig(objective="btcvae", beta=6.0, objective_args={"alpha": 1}))
        == "btcvae_beta=6_seed=0"
    )
    assert rundir.run_name(TrainConfig(objective="dipvae_i")) == "dipvae_i_lambda_od=1_seed=0"
    capacity = TrainConfig(objective="capacity", objective_args={"capacity_steps": 5})
    assert rundir.run_name(capacity) == "capacity=25_gamma=1000_capacity_steps=5_seed=0"
    assert rundir.setting_name(capacity.replace(seed=3)) == rundir.setting_name(capacity)


def test_a_config_round_trips_and_a_different_one_is_refused(tmp_path):
    config = TrainConfig(objective="capacity", objective_args={"gamma": 10})
    rundir.write_config(str(tmp_path), config)
    assert rundir.read_config(str(tmp_path)) == config
    rundir.write_config(str(tmp_path), config)  # the same config again: fine
    with pytest.raises(InputError, match="different config \\(objective_args\\)"):
        rundir.check_same_config(str(tmp_path), config.replace(objective_args={"gamma": 11}))


def test_a_model_opens_its_runs_data_unless_told_otherwise(tmp_path):
    colour = TrainConfig(seed=7, data="color-dsprites")
    rundir.write_config(str(tmp_path), colour)
    config = rundir.config_of_model(str(tmp_path / rundir.MODEL_FILE))
    assert config.seed == 7
    assert rundir.data_choice(config) == ("replica", "color-dsprites", None)
    assert rundir.data_choice(config, data="dsprites") == ("replica", "dsprites", None)
    # a model outside a run directory (a SavedModel version): plain dSprites on the replica
    assert rundir.config_of_model(str(tmp_path / "exported" / "1")) is None
    assert rundir.data_choice(None) == ("replica", "dsprites", None)


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


# -- damaged files -------------------------------------------------------------------------


def _finished_run(tmp_path, epochs: int = 2):
    """A finished run's files as training writes them (the model file a stand-in)."""
    run = tmp_path / "beta=4_seed=0"
    run.mkdir()
    rundir.write_config(str(run), TrainConfig(beta=4.0, seed=0, epochs=epochs))
    lines = [rundir.csv_line(["epoch", "kl", "loss"])]
    lines += [rundir.csv_line([e, 1.5, 200.0 - e]) for e in range(epochs)]
    (run / rundir.HISTORY_FILE).write_text("".join(lines))
    (run / rundir.MODEL_FILE).write_bytes(b"model")
    result = rundir.TrainResult(str(run), "done", epochs, 10 * epochs, {"loss": 199.0}, None, 1.0)
    rundir.write_result(result)
    return run


def test_a_done_json_written_before_cpu_seconds_reads_without_it(tmp_path):
    run = tmp_path / "beta=4_seed=0"
    run.mkdir()
    old = '{"status": "done", "epochs": 2, "steps": 8, "metrics": {"loss": 1.5}, "seconds": 3.2}'
    (run / rundir.DONE_FILE).write_text(old)
    result = rundir.read_result(str(run))
    assert (result.status, result.seconds, result.cpu_seconds) == ("done", 3.2, None)
    assert result.to_dict()["cpu_seconds"] is None


def test_a_whole_run_passes_its_check(tmp_path):
    run = _finished_run(tmp_path)
    rundir.check_run(str(run))
    assert [row["epoch"] for row in rundir.read_history(str(run))] == [0.0, 1.0]
    assert rundir.history_lines(str(run / rundir.HISTORY_FILE), keep_before=1)[1].startswith("0,")


@pytest.mark.parametrize(
    ("file", "damage", "problem"),
    [
        (rundir.HISTORY_FILE, lambda b: b[:-5], "its last line is cut"),
        (rundir.HISTORY_FILE, lambda b: b[: b.rindex(b"1,")], "1 epochs where done.json records 2"),
        (rundir.HISTORY_FILE, lambda b: b"", "empty"),
        (rundir.HISTORY_FILE, lambda b: b.replace(b"1.5", b"1,5", 1), "line 2 has 4 fields"),
        (rundir.CONFIG_FILE, lambda b: b[: len(b) // 2], "not JSON: "),
        (rundir.CONFIG_FILE, lambda b: b"[]", "a JSON list, not an object"),
        (rundir.DONE_FILE, lambda b: b"", "empty"),
        (rundir.DONE_FILE, lambda b: b'{"status": "done"}', "not a run's outcome"),
        (rundir.MODEL_FILE, None, "missing, though done.json says the run is done"),
    ],
)
def test_a_damaged_file_is_named_with_the_flag_that_retrains_its_run(
    tmp_path, file, damage, problem
):
    from kbetavae.errors import DamagedFile

    run = _finished_run(tmp_path)
    path = run / file
    if damage is None:
        path.unlink()
    else:
        path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DamagedFile) as caught:
        rundir.check_run(str(run))
    assert caught.value.path == str(path) and caught.value.problem.startswith(problem)
    assert "--redo beta=4_seed=0" in str(caught.value)


def test_a_damaged_metrics_file_says_delete_it_and_rerun(tmp_path):
    from kbetavae.errors import DamagedFile

    run = _finished_run(tmp_path)
    (run / rundir.METRICS_FILE).write_text('{"mig": {"sco')
    with pytest.raises(DamagedFile, match="delete it and rerun the same `kbetavae sweep`"):
        rundir.read_metrics(str(run))


def test_an_unfinished_run_without_a_model_is_not_damaged(tmp_path):
    run = _finished_run(tmp_path)
    (run / rundir.DONE_FILE).unlink()
    (run / rundir.MODEL_FILE).unlink()
    rundir.check_run(str(run))


def test_discard_keeps_only_the_named_entries(tmp_path):
    run = _finished_run(tmp_path)
    (run / "backup").mkdir()
    (run / "backup" / "epoch-1.weights.h5").write_bytes(b"w")
    (run / ".claim").write_text("{}")
    rundir.discard(str(run), keep=(".claim",))
    assert [p.name for p in run.iterdir()] == [".claim"]


def test_remove_temporaries_deletes_what_a_killed_write_left_only(tmp_path):
    run = _finished_run(tmp_path)
    (run / ".tmp-abc123").write_bytes(b"half")
    rundir.remove_temporaries(str(run))
    assert sorted(p.name for p in run.iterdir()) == sorted(
        [rundir.CONFIG_FILE, rundir.HISTORY_FILE, rundir.MODEL_FILE, rundir.DONE_FILE]
    )


def test_the_sweeps_record_is_the_float32_one_where_publish_kept_it(tmp_path):
    """A sweep's run has only metrics.json, its sweep's record; a run published from its
    archive keeps that record as metrics_float32.json beside the archive's metrics.json."""
    run = str(tmp_path)
    assert rundir.read_sweep_metrics(run) is None
    rundir.write_metrics(run, {"mig": {"score": 0.2}})
    assert rundir.read_sweep_metrics(run) == {"mig": {"score": 0.2}}
    rundir.write_float32_metrics(run, {"mig": {"score": 0.3}})
    assert rundir.read_sweep_metrics(run) == {"mig": {"score": 0.3}}
    assert rundir.read_metrics(run) == {"mig": {"score": 0.2}}
