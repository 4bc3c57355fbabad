"""Shared test set-up: quiet TensorFlow, CPU only, and a tiny replica source."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
# One encoder formulation for every test and CLI subprocess, whichever is fastest on the
# machine running them: codes (and the values tests compare) then do not depend on the CPU
# the suite lands on. tests/trained/test_encoder_choice.py tests the choice itself.
os.environ.setdefault("KBETAVAE_ENCODER", "xla-taps-64")

import pytest  # noqa: E402

# The files that take minutes (pytest --durations on the 2-core EPYC, 2026-12-02), longest
# first. ``make test`` hands files to its two xdist workers in collection order
# (--dist loadfile --no-loadscope-reorder), so these start first and the run does not end
# with one worker idle while the other finishes a long file. Order only: every test runs.
LONG_FILES = (
    "tests/cli/test_faults_cli.py",
    "tests/cli/test_sweep_cli.py",
    "tests/cli/test_sweep_jobs_cli.py",
    "tests/training/test_fused.py",
    "tests/model/test_objectives.py",
    "tests/training/test_loop.py",
    "tests/cli/test_progress_cli.py",
    "tests/study/test_sweep.py",
    "tests/model/test_inference.py",
    "tests/model/test_vae.py",
    "tests/study/test_collect.py",
    "tests/study/test_claims.py",
    "tests/training/test_multiworker.py",
    "tests/data/test_replica.py",
)


def pytest_collection_modifyitems(items):
    """Long files first (a stable sort: files stay whole, the rest keep their order)."""
    rank = {path: i for i, path in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


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


@pytest.fixture(scope="session")
def grid_sweep(tmp_path_factory):
    """The sweep directory of tests/grid_sweep.py's tiny two-objective grid, trained once
    per test session (the CLI test and the browser test read it)."""
    from .grid_sweep import run_grid_sweep

    tmp = tmp_path_factory.mktemp("grid")
    done = run_grid_sweep(tmp)
    assert done.returncode == 0, done.stderr[-3000:]
    return tmp / "runs" / "grid"
