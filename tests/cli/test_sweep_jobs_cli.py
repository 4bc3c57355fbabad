"""``kbetavae sweep --jobs N`` as a user runs it: runs divided, trained once, Ctrl-C, bad N."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app, run
from kbetavae.study.jobs import threads_per_job
from kbetavae.study.plan import SweepPlan
from kbetavae.study.sweep import run_sweep

from .terminal import sigint_as_from_a_terminal

KBETAVAE = [sys.executable, "-m", "cli.main"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
BETAS = (1.0, 2.0, 4.0, 8.0)
RUNS = [f"beta={b:g}_seed=0" for b in BETAS]
# One seed's four βs: two jobs cut its fused group in two.
TINY = ["--betas", "1,2,4,8", "--seeds", "0", "--epochs", "1", "--subset", "256"]
TINY += ["--eval-points", "100", "--metrics", "mig", "--quiet"]
TRAINING = re.compile(r"^job (\d): \[\d/4\] (\S+): training$", re.MULTILINE)


def _command(tmp: Path) -> list[str]:
    return [*KBETAVAE, "sweep", "--out", str(tmp / "runs"), "--saved-models", str(tmp / "sm")]


@pytest.fixture(scope="module")
def two_jobs(tmp_path_factory) -> tuple[Path, str]:
    tmp = tmp_path_factory.mktemp("jobs")
    done = subprocess.run(
        [*_command(tmp), "--name", "t", *TINY, "--jobs", "2"],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=tmp,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return tmp, done.stderr + done.stdout


def _rows(sweep_dir: Path) -> list[dict]:
    with open(sweep_dir / "results.csv") as handle:
        return list(csv.DictReader(handle))


def test_two_jobs_train_every_run_exactly_once_and_write_the_results_once(two_jobs):
    tmp, log = two_jobs
    trained = TRAINING.findall(log)
    assert sorted(name for _, name in trained) == sorted(RUNS), log
    assert {job for job, _ in trained} <= {"1", "2"}
    assert [(r["beta"], r["status"]) for r in _rows(tmp / "runs" / "t")] == [
        (f"{b}", "done") for b in BETAS
    ]
    assert (tmp / "runs" / "t" / "report.html").is_file()
    assert "4/4 runs finished" in log


def test_two_jobs_give_the_runs_and_numbers_of_one_job(two_jobs, tmp_path):
    tmp, _ = two_jobs
    plan = SweepPlan.of(
        name="t", betas=BETAS, epochs=1, subset=256, eval_points=100, metrics=("mig",)
    )
    alone = run_sweep(plan, tmp_path / "runs", tmp_path / "sm")
    shared = _rows(tmp / "runs" / "t")
    assert [(r["beta"], r["seed"]) for r in shared] == [
        (str(r["beta"]), str(r["seed"])) for r in alone
    ]
    # Two fused pairs of one thread each vs one fused four of two threads: the same steps
    # in another summation order. (MIG is left out: after one epoch on 256 images the
    # codes are near-collapsed, and a float's rounding can move a point across a bin edge.)
    for key in ("loss", "reconstruction", "kl", "heldout_reconstruction", "heldout_kl"):
        np.testing.assert_allclose(
            [float(r[key]) for r in shared], [r[key] for r in alone], rtol=1e-5, atol=1e-5
        )


def test_each_run_records_the_jobs_and_threads_it_was_trained_with(two_jobs):
    tmp, _ = two_jobs
    for name in RUNS:
        record = json.loads((tmp / "runs" / "t" / name / "config.json").read_text())
        assert record["execution"] == {"jobs": 2, "threads_per_job": threads_per_job(2)}
        assert "jobs" not in record["config"]  # not part of the run's identity


@pytest.mark.parametrize("jobs", ["0", "-2"])
def test_jobs_below_one_is_one_line_exit_2_and_writes_nothing(tmp_path, jobs):
    result = CliRunner().invoke(
        app,
        [
            "sweep",
            "--out",
            str(tmp_path / "runs"),
            "--saved-models",
            str(tmp_path / "sm"),
            "--jobs",
            jobs,
        ],
    )
    assert result.exit_code == 2, result.output
    assert result.output.strip() == f"kbetavae: error: --jobs must be an integer >= 1, got {jobs}"
    assert list(tmp_path.iterdir()) == []


def test_jobs_that_is_not_a_number_is_one_line_exit_2(tmp_path, capsys):
    assert run(["sweep", "--out", str(tmp_path / "runs"), "--jobs", "two"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "--jobs" in lines[0] and "'two' is not an integer" in lines[0]


def _workers(pid: int) -> list[int]:
    """The spawned worker processes of ``pid`` (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [
        int(child)
        for child in children
        if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
def test_ctrl_c_in_the_lead_ends_its_workers(tmp_path):
    args = ["--name", "t", *TINY, "--jobs", "2"]
    args[args.index("--epochs") + 1] = "200"  # far longer than the test waits
    lead = subprocess.Popen(
        _command(tmp_path) + args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**ENV, "PYTHONFAULTHANDLER": "1"},
        cwd=tmp_path,
        preexec_fn=sigint_as_from_a_terminal,
    )
    try:
        deadline = time.monotonic() + 600
        seen = []
        while time.monotonic() < deadline:
            line = lead.stdout.readline()
            seen.append(line)
            if re.match(r"job 2: .*: training", line) or not line:
                break
        assert any(line.startswith("job 2: ") for line in seen), "".join(seen)
        workers = _workers(lead.pid)
        assert len(workers) == 1 and all(_alive(pid) for pid in workers)
        lead.send_signal(signal.SIGINT)  # the lead alone, as `kill -INT` would
        try:
            out, _ = lead.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            # PYTHONFAULTHANDLER: SIGABRT prints every thread's stack, to say where it hung.
            lead.send_signal(signal.SIGABRT)
            out, _ = lead.communicate(timeout=60)
            pytest.fail(f"the lead did not end 120 s after SIGINT; its threads:\n{out[-8000:]}")
    finally:
        if lead.poll() is None:
            lead.kill()
    assert lead.returncode == 130, out
    assert "interrupted" in out
    assert not [pid for pid in workers if _alive(pid)]
