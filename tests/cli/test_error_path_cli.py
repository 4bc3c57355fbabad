"""The CLI's error path, fed every kind of exception through the real ``kbetavae`` process.

Each case patches the library function a command calls (``open_source`` behind ``kbetavae
data stats``) to raise one kind of exception, then runs ``cli.main.main()`` in a fresh
Python: what a user meets when that exception escapes a command. The processes start
together (each spends its time importing), so the module costs about one start-up.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
DEBUG_HINT = "(KBETAVAE_DEBUG=1 shows the traceback)"

# Python run by each case: ``raising`` is an expression evaluated when the command calls
# open_source (None: nothing patched). ``garbage`` is a file holding "{not json".
SCRIPT = textwrap.dedent(
    """
    import errno, json, sys
    import typer
    import cli.data, cli.main
    from kbetavae import io as kio
    from kbetavae.errors import InputError

    def raising(*args, **kwargs):
        raise {raising}

    if {patch}:
        cli.data.open_source = raising
    sys.argv = ["kbetavae", *{args!r}]
    cli.main.main()
    """
)

CASES = {
    # kind: (expression raised by open_source or None, arguments, extra environment)
    "usage": (None, ["data", "stats", "--sample", "x"], {}),
    "no arguments": (None, [], {}),
    "abort": ("typer.Abort()", ["data", "stats"], {}),
    "keyboard interrupt": ("KeyboardInterrupt()", ["data", "stats"], {}),
    "input error": ("InputError(\"source must be replica, got 'x'\")", ["data", "stats"], {}),
    "os error": (
        'OSError(errno.EIO, "Input/output error", "/data/dsprites.npz")',
        ["data", "stats"],
        {},
    ),
    "json error": ("kio.read_json(GARBAGE) and None", ["data", "stats"], {}),
    "runtime error": ('RuntimeError("boom\\nsecond line")', ["data", "stats"], {}),
    "debug": ('RuntimeError("boom")', ["data", "stats"], {"KBETAVAE_DEBUG": "1"}),
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """Every case's finished process, keyed by kind (started all at once)."""
    garbage = tmp_path_factory.mktemp("damaged") / "sweep.json"
    garbage.write_text("{not json")
    started = {}
    for kind, (raising, args, extra) in CASES.items():
        script = SCRIPT.format(
            raising=(raising or "None").replace("GARBAGE", repr(str(garbage))),
            patch=raising is not None,
            args=args,
        )
        started[kind] = subprocess.Popen(
            [sys.executable, "-c", script],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**ENV, **extra},
        )
    done = {}
    for kind, process in started.items():
        stdout, stderr = process.communicate(timeout=600)
        done[kind] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    done["garbage"] = str(garbage)  # type: ignore[assignment]
    return done


def only_line(done: subprocess.CompletedProcess) -> str:
    """The one stderr line of a failed command (no traceback, nothing else)."""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and "AttributeError" not in done.stderr
    return lines[0]


def test_a_usage_error_is_one_line_and_exit_2(outcomes):
    done = outcomes["usage"]
    assert done.returncode == 2
    line = only_line(done)
    # The middle is Typer's own wording, which changes between its versions.
    assert line.startswith("kbetavae: error: Invalid value for '--sample': ")
    assert line.endswith("(see kbetavae data stats -h)")


def test_no_arguments_prints_the_help_and_no_empty_error(outcomes):
    done = outcomes["no arguments"]
    assert done.returncode == 0, done.stderr
    assert "Usage: kbetavae" in done.stdout and "sweep" in done.stdout
    assert "error" not in done.stderr


@pytest.mark.parametrize("kind", ["abort", "keyboard interrupt"])
def test_an_abort_or_ctrl_c_is_the_interrupted_line_and_exit_130(outcomes, kind):
    done = outcomes[kind]
    assert done.returncode == 130
    assert only_line(done) == "kbetavae: interrupted"


def test_an_input_error_is_its_message_and_exit_2(outcomes):
    done = outcomes["input error"]
    assert done.returncode == 2
    assert only_line(done) == "kbetavae: error: --source must be replica, got 'x'"


def test_an_os_error_names_the_file_and_exit_1(outcomes):
    done = outcomes["os error"]
    assert done.returncode == 1
    assert only_line(done) == (
        f"kbetavae: error: OSError: Input/output error (/data/dsprites.npz) {DEBUG_HINT}"
    )


def test_a_json_error_names_the_file_read_through_kbetavae_io(outcomes):
    done = outcomes["json error"]
    assert done.returncode == 1
    line = only_line(done)
    assert line.startswith("kbetavae: error: JSONDecodeError: Expecting property name")
    assert line.endswith(f"({outcomes['garbage']}) {DEBUG_HINT}")


def test_an_unexpected_error_is_its_type_and_first_line_and_exit_1(outcomes):
    done = outcomes["runtime error"]
    assert done.returncode == 1
    assert only_line(done) == f"kbetavae: error: RuntimeError: boom {DEBUG_HINT}"


def test_kbetavae_debug_shows_the_traceback(outcomes):
    done = outcomes["debug"]
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "RuntimeError: boom" in done.stderr


def test_a_long_message_is_cut_to_one_short_line():
    from cli.main import unexpected_error_line

    line = unexpected_error_line(ValueError("x" * 20_000))
    assert line.startswith("kbetavae: error: ValueError: xxx") and len(line) < 400
    assert line.endswith(f"… {DEBUG_HINT}")
