"""Shared test set-up: quiet TensorFlow, CPU only, and a tiny replica source."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Tests never touch the network: the dSprites download host is always 'unreachable'."""
    from kbetavae.data import tfds_source

    monkeypatch.setattr(tfds_source, "host_reachable", lambda *args, **kwargs: False)


VERTEX_VARIABLES = (
    "AIP_MODEL_DIR",
    "AIP_CHECKPOINT_DIR",
    "AIP_TENSORBOARD_LOG_DIR",
    "CLOUD_ML_JOB_ID",
    "CLOUD_ML_TRIAL_ID",
)


@pytest.fixture
def off_vertex(monkeypatch):
    """No Vertex AI variables, whatever the machine running the tests has set."""
    for name in VERTEX_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_hypertune(monkeypatch):
    """A stand-in for cloudml-hypertune's ``hypertune`` module; returns the reports made."""
    import sys
    import types

    reports = []

    class HyperTune:
        def report_hyperparameter_tuning_metric(
            self, hyperparameter_metric_tag, metric_value, global_step=None
        ):
            reports.append((hyperparameter_metric_tag, metric_value, global_step))

    monkeypatch.setitem(sys.modules, "hypertune", types.SimpleNamespace(HyperTune=HyperTune))
    return reports
