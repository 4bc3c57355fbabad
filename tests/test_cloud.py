"""Vertex AI environment and hyperparameter-tuning reports (kbetavae.cloud)."""

import sys

import pytest

from kbetavae import cloud
from kbetavae.errors import InputError


def test_trial_environment_gives_per_trial_output_dirs(off_vertex, monkeypatch):
    base = "gs://bucket/hpt/7"
    monkeypatch.setenv("AIP_MODEL_DIR", f"{base}/model/")
    monkeypatch.setenv("AIP_CHECKPOINT_DIR", f"{base}/checkpoints/")
    monkeypatch.setenv("AIP_TENSORBOARD_LOG_DIR", f"{base}/logs/")
    monkeypatch.setenv("CLOUD_ML_TRIAL_ID", "7")

    env = cloud.VertexEnvironment.from_environ()

    assert env.on_vertex and env.trial_id == "7"
    assert env.out_root() == f"{base}/model/"
    assert env.backup_dir("beta=4_seed=0") == f"{base}/checkpoints/beta=4_seed=0"
    assert env.saved_models_root() == f"{base}/model/saved_models"
    assert env.tensorboard_dir == f"{base}/logs/"


def test_a_job_id_alone_means_vertex_without_output_dirs(off_vertex, monkeypatch):
    monkeypatch.setenv("CLOUD_ML_JOB_ID", "123")
    env = cloud.VertexEnvironment.from_environ()
    assert env.on_vertex
    assert (env.out_root(), env.backup_dir("r"), env.saved_models_root()) == ("runs", None, None)


def test_off_vertex_defaults_are_local(off_vertex):
    env = cloud.VertexEnvironment.from_environ()
    assert not env.on_vertex
    assert env.out_root() == "runs" and env.backup_dir("r") is None
    assert env.saved_models_root() is None


def test_empty_variables_count_as_unset():
    env = cloud.VertexEnvironment.from_environ({"AIP_MODEL_DIR": "", "CLOUD_ML_JOB_ID": ""})
    assert not env.on_vertex and env.model_dir is None


def test_report_metric_hands_tag_value_and_step_to_hypertune(fake_hypertune):
    assert cloud.report_metric("mig", 0.25, global_step=1563) is True
    assert fake_hypertune == [("mig", 0.25, 1563)]


def test_report_metric_without_hypertune_reports_nothing(monkeypatch):
    monkeypatch.setitem(sys.modules, "hypertune", None)  # makes `import hypertune` fail
    assert cloud.report_metric("mig", 0.25, global_step=1) is False


def test_objective_value_reads_any_results_column():
    record = {
        "mig": {"score": 0.31},
        "dci": {"disentanglement": 0.4, "completeness": 0.5, "informativeness": 0.9},
    }
    assert cloud.objective_value(record, "mig") == pytest.approx(0.31)
    assert cloud.objective_value(record, "dci_completeness") == pytest.approx(0.5)
    assert cloud.metric_to_compute("dci_completeness") == "dci"
    assert cloud.metric_to_compute("zdiff") == "zdiff"


def test_objective_value_without_that_score_is_an_input_error():
    with pytest.raises(InputError, match="no finite zdiff score"):
        cloud.objective_value({"mig": {"score": 0.3}}, "zdiff")


def test_unknown_hypertune_metric_lists_the_choices():
    with pytest.raises(InputError, match="hypertune_metric must be one of mig, zdiff"):
        cloud.check_hypertune_metric("accuracy")
