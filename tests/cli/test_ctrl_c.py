"""Ctrl-C ends the CLI with its one line and status 130, wherever it lands.

The subprocess tests run ``python -m`` on a small module that replaces ``cli.main.run``
with a command whose Ctrl-C lands at a chosen place, then calls the real ``cli.main.main``.
Each pins one way the exit status used to depend on luck (see cli/ctrl_c.py); with the
``main()`` before the fix the first ended by SIGINT (status −2), the second and third
printed a traceback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cli import ctrl_c

from .terminal import sigint_as_from_a_terminal

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import atexit, os, signal, sys, time
from cli import main as cli_main

def ctrl_c():
    os.kill(os.getpid(), signal.SIGINT)

def ctrl_c_and_wait():
    ctrl_c()
    time.sleep(0.2)  # the handler would run here

{body}

cli_main.run = command
cli_main.main()
"""


def _run_probe(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    (tmp_path / "probe.py").write_text(PROBE.format(body=textwrap.dedent(body)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    env.pop("KBETAVAE_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "probe"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        preexec_fn=sigint_as_from_a_terminal,
    )


def _assert_interrupted_once(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 130, result.stderr[-3000:]
    assert result.stderr.strip().splitlines() == ["kbetavae: interrupted"], result.stderr
    assert "Traceback" not in result.stderr


def test_ctrl_c_inside_code_run_by_exec_still_exits_130(tmp_path):
    # An import cut short does this: scipy's array_api_compat runs a string with exec().
    result = _run_probe(
        tmp_path,
        """
        def command(args=None):
            exec("ctrl_c()\\nfor _ in range(2000): time.sleep(0.001)")
            return 0
        """,
    )
    _assert_interrupted_once(result)


def test_a_second_ctrl_c_while_the_first_unwinds_or_at_exit_changes_nothing(tmp_path):
    result = _run_probe(
        tmp_path,
        """
        atexit.register(ctrl_c_and_wait)

        def command(args=None):
            try:
                ctrl_c()
                time.sleep(5)
            finally:
                ctrl_c_and_wait()
            return 0
        """,
    )
    _assert_interrupted_once(result)


def test_an_error_that_a_ctrl_c_caused_is_reported_as_the_interruption(tmp_path):
    # A Ctrl-C inside a C extension's import surfaces as ImportError (seen with numpy).
    result = _run_probe(
        tmp_path,
        """
        def command(args=None):
            try:
                ctrl_c()
                time.sleep(5)
            except KeyboardInterrupt:
                raise ImportError("PyCapsule_Import could not import module") from None
            return 0
        """,
    )
    _assert_interrupted_once(result)


def test_a_ctrl_c_after_the_command_finished_leaves_its_status_and_says_nothing(tmp_path):
    # As a Ctrl-C pressed while a finished sweep's process tears down: the work is done.
    # Ending through sys.exit, the handler raised inside the atexit callback (a printed
    # "Exception ignored" traceback); later in the teardown SIGINT is the OS's again and
    # the process died by signal (status -2), as the fault-injection chain saw.
    result = _run_probe(
        tmp_path,
        """
        def command(args=None):
            atexit.register(ctrl_c_and_wait)
            return 0
        """,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.strip() == ""


def test_without_ctrl_c_an_error_is_still_one_error_line(tmp_path):
    result = _run_probe(
        tmp_path,
        """
        def command(args=None):
            raise ImportError("no module named frobnicate")
        """,
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("kbetavae: error: ImportError: no module named frobnicate")
    )


@pytest.fixture
def fresh_state(monkeypatch):
    monkeypatch.setattr(ctrl_c, "_first_at", None)
    previous = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, previous)


def test_repeated_ctrl_c_is_ignored_for_the_grace_period_then_interrupts_again(
    fresh_state, monkeypatch
):
    now = [1000.0]
    monkeypatch.setattr(ctrl_c.time, "monotonic", lambda: now[0])
    assert not ctrl_c.received()
    with pytest.raises(KeyboardInterrupt):
        ctrl_c._on_sigint(signal.SIGINT, None)
    assert ctrl_c.received()
    now[0] += ctrl_c.REPEAT_GRACE_SECONDS - 1
    assert ctrl_c._on_sigint(signal.SIGINT, None) is None
    now[0] += 2  # the first one was swallowed somewhere: Ctrl-C must still work
    with pytest.raises(KeyboardInterrupt):
        ctrl_c._on_sigint(signal.SIGINT, None)


def test_a_background_job_keeps_sigint_ignored(fresh_state):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ctrl_c.install()
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    signal.signal(signal.SIGINT, signal.default_int_handler)
    ctrl_c.install()
    assert signal.getsignal(signal.SIGINT) is ctrl_c._on_sigint


def test_only_errors_after_a_ctrl_c_count_as_caused_by_it(fresh_state):
    assert ctrl_c.caused_by_ctrl_c(KeyboardInterrupt())
    assert not ctrl_c.caused_by_ctrl_c(ImportError("x"))
    with pytest.raises(KeyboardInterrupt):
        ctrl_c._on_sigint(signal.SIGINT, None)
    assert ctrl_c.caused_by_ctrl_c(ImportError("x"))
    assert not ctrl_c.caused_by_ctrl_c(SystemExit(0))
