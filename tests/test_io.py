"""kbetavae.io: remote paths through tf.io.gfile, and buckets that do not answer fail fast.

No test contacts a real bucket: an unreachable or silent gs:// is a stand-in for
tf.io.gfile that fails as TensorFlow's GCS client does, or never answers.
"""

import threading
import time
import uuid

import pytest
import tensorflow as tf

from kbetavae import io as kio
from kbetavae.errors import InputError

# What TensorFlow's GCS filesystem raises without network (seen on this machine).
NO_NETWORK = (
    "Error executing an HTTP request: libcurl code 6 meaning 'Could not resolve hostname', "
    "error details: Could not resolve host: www.googleapis.com\n"
    "\t when reading metadata of gs://kbetavae-study/runs"
)


class UnreachableBucket:
    """tf.io.gfile whose every call fails as GCS does without network or credentials."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise tf.errors.FailedPreconditionError(None, None, NO_NETWORK)

        return fail


class SilentBucket:
    """tf.io.gfile whose calls never answer (until released at the end of the test)."""

    def __init__(self):
        self.release = threading.Event()

    def __getattr__(self, name):
        return lambda *args, **kwargs: self.release.wait(60)


@pytest.fixture
def unreachable(monkeypatch):
    monkeypatch.setattr(kio, "_gfile", UnreachableBucket)


@pytest.fixture
def silent(monkeypatch):
    bucket = SilentBucket()
    monkeypatch.setattr(kio, "_gfile", lambda: bucket)
    monkeypatch.setenv(kio.STORAGE_TIMEOUT_ENV, "0.3")
    yield bucket
    bucket.release.set()


def test_an_unreachable_bucket_is_one_line_naming_the_path_and_the_cause(unreachable):
    with pytest.raises(InputError) as raised:
        kio.check_reachable("gs://kbetavae-study/runs", "--out")
    message = str(raised.value)
    assert message.startswith("--out gs://kbetavae-study/runs is not reachable: ")
    assert "Could not resolve host" in message and "\n" not in message


def test_a_silent_bucket_fails_after_the_timeout_instead_of_hanging(silent):
    started = time.monotonic()
    with pytest.raises(InputError, match=r"not reachable: no answer within 0.3 s"):
        kio.check_reachable("gs://kbetavae-study/runs", "run directory")
    assert time.monotonic() - started < 5


def test_local_paths_are_not_probed(unreachable, tmp_path):
    kio.check_reachable(tmp_path / "runs", "--out")  # no gfile call, no error


def test_ram_paths_round_trip_list_and_delete_like_a_bucket():
    root = f"ram://kbetavae-io-{uuid.uuid4().hex[:8]}"
    kio.write_json_atomic(f"{root}/sweep/beta=1_seed=0/config.json", {"config": {}})
    kio.write_bytes_atomic(f"{root}/sweep/beta=4_seed=0/config.json", b"{}")
    kio.check_reachable(root, "--out")
    assert kio.read_json(f"{root}/sweep/beta=1_seed=0/config.json") == {"config": {}}
    assert kio.glob(f"{root}/sweep", "*/config.json") == [
        f"{root}/sweep/beta=1_seed=0/config.json",
        f"{root}/sweep/beta=4_seed=0/config.json",
    ]
    assert kio.is_dir(f"{root}/sweep") and not kio.is_dir(f"{root}/nothing")
    kio.remove_tree(f"{root}/sweep")  # needs the parents the writes created
    assert not kio.exists(f"{root}/sweep/beta=1_seed=0/config.json")


def test_glob_takes_a_local_directory_literally(tmp_path):
    runs = tmp_path / "study[1]"
    (runs / "beta=4_seed=0").mkdir(parents=True)
    (runs / "beta=4_seed=0" / "config.json").write_text("{}")
    assert kio.glob(runs, "*/config.json") == [str(runs / "beta=4_seed=0" / "config.json")]


def test_a_refused_writable_check_removes_the_directories_it_made(tmp_path):
    (tmp_path / "a-file").write_text("")
    out, kept = tmp_path / "runs" / "deep", tmp_path / "existing"
    kept.mkdir()
    with pytest.raises(InputError, match="--saved-models .*a-file/sm is not writable"):
        blocked = str(tmp_path / "a-file" / "sm")
        kio.check_writable_all(
            [(str(out), "--out"), (str(kept), "--kept"), (blocked, "--saved-models")]
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "existing"]
    created = kio.check_writable_all([(str(out), "--out")])
    assert out.is_dir() and created == [(str(tmp_path / "runs"), str(out))]
    kio.remove_created(created)
    assert not (tmp_path / "runs").exists()
