"""Bad cluster and storage input: one clear line, exit code 2, nothing written.

A bucket that cannot be reached is simulated (tests never contact real hosts): tf.io.gfile
is replaced by a stand-in that fails as TensorFlow's GCS client does without network, or
that never answers.
"""

import json
import threading

import pytest
import tensorflow as tf
from typer.testing import CliRunner

from cli.main import app
from kbetavae import io as kio

runner = CliRunner()
TINY = ["--epochs", "1", "--subset", "64", "--quiet"]
SWEEP = ["sweep", "--betas", "1", "--epochs", "1", "--subset", "64", "--quiet"]
NO_NETWORK = (
    "Error executing an HTTP request: libcurl code 6 meaning 'Could not resolve hostname', "
    "error details: Could not resolve host: www.googleapis.com\n\t when reading metadata"
)


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kbetavae: error: "), result.output
    return lines[0]


def two_workers(index: int) -> str:
    cluster = {"worker": ["127.0.0.1:20001", "127.0.0.1:20002"]}
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


@pytest.fixture
def unreachable_bucket(monkeypatch):
    class Unreachable:
        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise tf.errors.FailedPreconditionError(None, None, NO_NETWORK)

            return fail

    monkeypatch.setattr(kio, "_gfile", Unreachable)


@pytest.fixture
def silent_bucket(monkeypatch):
    release = threading.Event()

    class Silent:
        def __getattr__(self, name):
            return lambda *args, **kwargs: release.wait(60)

    monkeypatch.setattr(kio, "_gfile", Silent)
    monkeypatch.setenv(kio.STORAGE_TIMEOUT_ENV, "0.3")
    yield
    release.set()


@pytest.mark.parametrize(
    "tf_config, message",
    [
        ('{"cluster": {"worker": ["127.0.0.1:20001",', "TF_CONFIG is not valid JSON"),
        (two_workers(2), "TF_CONFIG task index 2 is out of range: the cluster has 2 'worker'"),
    ],
)
@pytest.mark.parametrize("command", [["train", *TINY], SWEEP])
def test_a_bad_tf_config_is_one_line_exit_2_and_writes_nothing(
    tmp_path, monkeypatch, off_vertex, command, tf_config, message
):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    monkeypatch.chdir(tmp_path)
    out = ["--out", str(tmp_path / "runs"), "--saved-models", str(tmp_path / "sm")]
    result = runner.invoke(app, [*command, *out])
    assert message in one_error_line(result)
    assert list(tmp_path.iterdir()) == []


def test_a_sweep_is_not_split_across_workers(tmp_path, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", two_workers(0))
    result = runner.invoke(app, [*SWEEP, "--out", str(tmp_path / "runs")])
    assert "run `kbetavae train` on each worker" in one_error_line(result)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "command",
    [
        ["train", *TINY, "--out", "gs://kbetavae-study/runs"],
        [*SWEEP, "--out", "gs://kbetavae-study/runs"],
        ["collect", "gs://kbetavae-study/job-7", "--out", "collected"],
    ],
    ids=["train", "sweep", "collect"],
)
def test_an_unreachable_bucket_is_one_line_exit_2_and_writes_nothing(
    tmp_path, monkeypatch, off_vertex, unreachable_bucket, command
):
    monkeypatch.chdir(tmp_path)
    line = one_error_line(runner.invoke(app, command))
    assert "gs://kbetavae-study/" in line and "is not reachable: " in line
    assert "Could not resolve host" in line
    assert list(tmp_path.iterdir()) == []


def test_a_bucket_that_never_answers_fails_after_the_timeout(
    tmp_path, monkeypatch, off_vertex, silent_bucket
):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train", *TINY, "--out", "gs://kbetavae-study/runs"])
    assert "is not reachable: no answer within 0.3 s" in one_error_line(result)
    assert list(tmp_path.iterdir()) == []


def test_collect_of_a_missing_directory_is_one_line_exit_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["collect", str(tmp_path / "nowhere"), "--out", "merged"])
    assert "nowhere does not exist" in one_error_line(result)
    assert list(tmp_path.iterdir()) == []
