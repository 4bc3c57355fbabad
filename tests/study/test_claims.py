"""Claims: a run held by one process is never worked on by another, even a second sweep."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kbetavae.study.claims import CLAIM_FILE, holder, try_claim

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
HOLD = (
    "import sys, time\n"
    "from kbetavae.study.claims import try_claim\n"
    "claim = try_claim(sys.argv[1])\n"
    "print('held' if claim else 'refused', flush=True)\n"
    "time.sleep(600)\n"
)


def _wait_for_holder(run_dir: Path, pid: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if json.loads((run_dir / CLAIM_FILE).read_text() or "{}").get("pid") == pid:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"process {pid} never claimed {run_dir}")


def test_a_claimed_run_is_refused_to_others_until_its_holder_is_killed(tmp_path):
    run_dir = tmp_path / "beta=1_seed=0"
    other = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run_dir)], stdout=subprocess.PIPE, text=True, env=ENV
    )
    try:
        assert other.stdout.readline().strip() == "held"
        assert try_claim(run_dir) is None
        assert holder(run_dir).startswith(f"pid {other.pid} on ")
    finally:
        other.send_signal(signal.SIGKILL)  # kill -9: the OS drops the lock
        other.wait()
    with try_claim(run_dir) as claim:
        assert claim is not None and claim.held
        assert holder(run_dir).startswith(f"pid {os.getpid()} on ")


def test_two_sweeps_of_one_name_train_each_run_once(tmp_path):
    def sweep() -> subprocess.Popen:
        command = [sys.executable, "-m", "cli.main", "sweep", "--out", str(tmp_path / "runs")]
        command += ["--saved-models", str(tmp_path / "sm"), "--name", "twice", "--betas", "1"]
        command += ["--seeds", "0", "--epochs", "1", "--subset", "256", "--eval-points", "100"]
        command += ["--metrics", "mig", "--quiet"]
        return subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV
        )

    run_dir = tmp_path / "runs" / "twice" / "beta=1_seed=0"
    first = sweep()
    _wait_for_holder(run_dir, first.pid, timeout=300)
    second = sweep()
    first_out, _ = first.communicate(timeout=900)
    assert first.returncode == 0, first_out
    done = (run_dir / "done.json").read_text()
    second_out, _ = second.communicate(timeout=900)
    assert second.returncode == 0, second_out
    # The second sweep waited for the first, then found the run finished: done.json (with
    # its finish time) is the first sweep's, and the second said who held the run.
    assert (run_dir / "done.json").read_text() == done
    assert f"held by pid {first.pid} on " in second_out
    assert "training" not in second_out.split("held by", 1)[1].split("\n", 1)[0]
