"""The ``--jobs`` workers: a failing worker in one line, workers stopped while they talk."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kbetavae.study.sweep import Progress
from kbetavae.study.workers import Workers


class _Lines(Progress):
    def __init__(self):
        self.lines: list[tuple[int, str]] = []

    def job_line(self, job: int, text: str) -> None:
        self.lines.append((job, text))


def test_a_failing_worker_is_reported_in_one_line(tmp_path):
    # A worker whose sweep cannot start (no plan) fails as any worker error would.
    progress = _Lines()
    sweep_args = (None, str(tmp_path / "runs"), str(tmp_path / "sm"), {})
    with Workers(2, 1, sweep_args, progress) as workers:
        workers.wait()
    assert workers.processes[2].exitcode == 1
    assert len(progress.lines) == 1
    job, text = progress.lines[0]
    assert job == 2 and text.startswith("failed (AttributeError: ")
    assert text.endswith("; job 1 finishes its runs")


# The lead stops two workers that send lines without pause, so each is stopped in the
# middle of a send, then the interpreter exits as usual. With the workers' lines in one
# multiprocessing.Queue this hung at exit whenever a stopped worker held the queue's write
# lock: the lead's feeder thread waited for it for good, and exit joins that thread.
_TALKING_WORKERS = """
    import time
    from kbetavae.study.workers import Workers
    from kbetavae.study.sweep import Progress

    def talk(job, jobs, threads, lead_pid, lines, *sweep_args):
        while True:
            lines.send((job, "line", "x" * 300))

    class Count(Progress):
        def __init__(self):
            self.jobs = set()

        def job_line(self, job, text):
            self.jobs.add(job)

    if __name__ == "__main__":
        count = Count()
        for _ in range(3):
            try:
                count.jobs.clear()
                with Workers(3, 1, (), count, target=talk):
                    deadline = time.monotonic() + 120
                    while count.jobs != {2, 3} and time.monotonic() < deadline:
                        time.sleep(0.1)
                    time.sleep(0.5)
                    raise KeyboardInterrupt  # as Ctrl-C in the lead
            except KeyboardInterrupt:
                pass
        print("heard jobs", sorted(count.jobs), flush=True)
"""


def test_workers_stopped_while_they_talk_let_the_lead_exit(tmp_path):
    script = tmp_path / "lead.py"
    script.write_text(textwrap.dedent(_TALKING_WORKERS))
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    try:
        done = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the lead did not exit within 600 s of stopping its talking workers")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "heard jobs [2, 3]" in done.stdout
