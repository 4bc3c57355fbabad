"""Two workers on loopback ports train one run as a single process would.

Each worker is a real ``kbetavae train`` process with its own TF_CONFIG, so the test covers
what a Vertex AI or Kubeflow job runs: MultiWorkerMirroredStrategy, the sharded pipeline,
the global batch, and the chief writing alone.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

KBETAVAE = [sys.executable, "-m", "cli.main"]
RUN = ["--beta", "4", "--seed", "0", "--epochs", "1", "--subset", "256", "--batch-size", "32"]
# Nothing of the machine's own cluster or Vertex AI job leaks into the workers.
ENV = {
    name: value
    for name, value in os.environ.items()
    if name != "TF_CONFIG" and not name.startswith(("AIP_", "CLOUD_ML_"))
}
ENV.update(TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
# Whole-test bound: three TensorFlow processes start and train 8 steps. A worker whose peer
# died waits in a collective forever, so the deadline, not the workers, ends a failure.
DEADLINE_SECONDS = 600
CHIEF_FILES = ["config.json", "done.json", "history.csv", "model.keras"]


def free_loopback_ports(count: int) -> list[int]:
    """Ports the OS has just handed out on 127.0.0.1 (held together, so they differ)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def start(args: list[str], out: Path, env: dict, home: Path) -> subprocess.Popen:
    """``kbetavae train`` in its own working and temporary directory."""
    (home / "tmp").mkdir(parents=True)
    env = {**env, "TMPDIR": str(home / "tmp")}
    command = [*KBETAVAE, "train", *RUN, "--out", str(out), "--name", "run", "--quiet", *args]
    return subprocess.Popen(
        command, cwd=home, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(processes: dict[str, subprocess.Popen]) -> dict[str, tuple[int, str]]:
    """Wait for every process until the deadline; kill them all if it passes."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    done = {}
    try:
        for name, process in processes.items():
            _, stderr = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
            done[name] = (process.returncode, stderr)
    except subprocess.TimeoutExpired:
        for process in processes.values():
            process.kill()
        pytest.fail(f"the workers did not finish within {DEADLINE_SECONDS} s")
    return done


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("multiworker")
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_loopback_ports(2)]}
    processes = {}
    for index in range(2):
        task = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        env = {**ENV, "TF_CONFIG": json.dumps(task)}
        processes[f"worker{index}"] = start([], tmp / "multi", env, tmp / f"worker{index}")
    processes["single"] = start([], tmp / "single", ENV, tmp / "single_home")
    for name, (code, stderr) in finish(processes).items():
        assert code == 0, f"{name} exited {code}:\n{stderr[-3000:]}"
    return tmp


def test_the_chief_writes_the_run_and_the_other_worker_leaves_nothing(trained):
    assert sorted(os.listdir(trained / "multi")) == ["run"]
    assert sorted(os.listdir(trained / "multi" / "run")) == CHIEF_FILES  # backup/ removed
    # The non-chief's scratch (backups, its model.save) lived under its TMPDIR and is gone.
    assert os.listdir(trained / "worker1" / "tmp") == []
    assert sorted(os.listdir(trained / "worker1")) == ["tmp"]


def test_two_workers_take_the_single_process_steps_on_the_same_global_batch(trained):
    multi = json.loads((trained / "multi" / "run" / "done.json").read_text())
    single = json.loads((trained / "single" / "run" / "done.json").read_text())
    # 256 images / global batch 32 = 8 steps; had each worker taken 32 (a global batch of
    # 64) there would be 4.
    assert multi["steps"] == single["steps"] == 8
    for key in ("loss", "reconstruction", "kl"):
        np.testing.assert_allclose(multi["metrics"][key], single["metrics"][key], rtol=1e-4)


def test_final_weights_equal_the_single_process_run(trained):
    import kbetavae.model.vae  # noqa: F401 - registers BetaVAE

    multi = keras.models.load_model(trained / "multi" / "run" / "model.keras").get_weights()
    single = keras.models.load_model(trained / "single" / "run" / "model.keras").get_weights()
    keras.utils.set_random_seed(0)  # the runs' initial weights, as `train` draws them
    initial = kbetavae.BetaVAE(beta=4.0, seed=0).get_weights()
    moved = max(np.abs(s - w0).max() for s, w0 in zip(single, initial, strict=True))
    difference = max(np.abs(m - s).max() for m, s in zip(multi, single, strict=True))
    assert moved > 1e-3  # 8 Adam steps of lr 1e-3 moved the weights
    # Same batches, same noise rows: the gradients differ only in the order of float sums
    # (an all-reduce of two half-batch sums), so the weights agree to float32 rounding.
    # Measured: 6.7e-8 (weights are ~0.1, float32 spacing there ~1e-8). 1e-6 is far below
    # what any real difference makes: one Adam step moves a weight by up to lr = 1e-3, and
    # a one-epoch shift of the shuffle order gave 1.4e-2.
    assert difference < 1e-6, (difference, moved)
