"""kbetavae.io: remote paths through tf.io.gfile, and buckets that do not answer fail fast.

No test contacts a real bucket: an unreachable or silent gs:// is a stand-in for
tf.io.gfile that fails as TensorFlow's GCS client does, or never answers.
"""

import os
import subprocess
import sys
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


def test_a_full_disk_names_the_file_and_keeps_the_previous_one(tmp_path, monkeypatch):
    import errno

    from kbetavae import faults

    path = tmp_path / "results.csv"
    kio.write_text_atomic(path, "old\n")
    monkeypatch.setattr(faults, "_FAULT", faults.parse("enospc:write/results.csv"))
    monkeypatch.setattr(faults, "_reached", 0)
    with pytest.raises(OSError) as caught:
        kio.write_text_atomic(path, "new\n")
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(path)
    assert path.read_text() == "old\n" and sorted(tmp_path.iterdir()) == [path]


def test_a_kill_while_writing_leaves_the_previous_file_whole(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("old\n")
    code = f"from kbetavae import io; io.write_text_atomic({str(path)!r}, 'new\\n')"
    env = {**os.environ, "KBETAVAE_FAULT": "kill:write/history.csv"}
    done = subprocess.run([sys.executable, "-c", code], env=env, timeout=120)
    assert done.returncode == -9 and path.read_text() == "old\n"


@pytest.mark.parametrize("spec", ["kill", "explode:write/x", "kill:write/x:0", "enospc:"])
def test_a_malformed_fault_is_an_error_not_a_fault_never_injected(spec):
    from kbetavae import faults

    with pytest.raises(ValueError, match="KBETAVAE_FAULT"):
        faults.parse(spec)


def test_a_fault_fires_at_the_nth_matching_point_only(monkeypatch):
    from kbetavae import faults

    assert faults.parse("kill:write/*.png:3") == ("kill", "write/*.png", 3)
    monkeypatch.setattr(faults, "_FAULT", faults.parse("enospc:write/*.png:2"))
    monkeypatch.setattr(faults, "_reached", 0)
    faults.checkpoint("write/a.png")
    faults.checkpoint("write/report.html")  # does not match: not counted
    with pytest.raises(OSError):
        faults.checkpoint("write/b.png")
    faults.checkpoint("write/c.png")  # once only


def test_writable_checks_at_once_on_one_directory_all_pass(tmp_path):
    """Two sweeps starting together check one --out; with one fixed probe name, one
    check removed the probe of the other and refused with "not writable (No such file or
    directory)" (seen in CI). Eight threads × 200 checks each gave that error within a
    few rounds before the fix."""
    out = str(tmp_path / "runs")
    errors: list[str] = []

    def check() -> None:
        for _ in range(200):
            try:
                kio.check_writable(out, "--out")
            except InputError as exc:
                errors.append(str(exc))

    threads = [threading.Thread(target=check) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert os.listdir(out) == []
