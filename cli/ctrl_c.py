"""Ctrl-C as the CLI promises it: the command's one-line message and exit status 130,
wherever the signal lands and however often it is pressed.

Two CPython behaviours made that a matter of luck (``python -m cli.main sweep`` ended by
SIGINT, status −2, in about one run of ten under load):

- A ``KeyboardInterrupt`` that leaves an ``exec``/``eval`` of a *string* sets the
  interpreter's "unhandled KeyboardInterrupt" flag even when a caller catches it, and
  under ``python -m`` the interpreter then ends a clean ``sys.exit(130)`` by sending
  SIGINT to itself (CPython's ``Modules/main.c``, bpo-41602; gh-128130 moved where the
  flag is cleared, not where it is set). Importing runs such strings: scipy's
  ``array_api_compat`` executes one for about 0.5 s, dataclasses build their methods that
  way. A sweep first imports scipy and scikit-learn when it evaluates, which is exactly
  where a Ctrl-C after training lands. Measured: a ``python -m`` module that catches the
  interrupt of ``import scipy.stats, sklearn.linear_model`` and calls ``sys.exit(130)``
  ended with −2 in 10 of 40 runs.
- Finalisation gives SIGINT back to the operating system before TensorFlow's teardown
  (about 2 s, traced with strace): a second Ctrl-C there kills the process by signal, and
  one inside an ``except`` block or an atexit handler prints a traceback.

So the CLI owns SIGINT while it runs: the first Ctrl-C raises ``KeyboardInterrupt`` as
usual; further ones within :data:`REPEAT_GRACE_SECONDS` are ignored while the first is
handled (after that a Ctrl-C interrupts again, in case something swallowed the first);
and every command ends through :func:`end_process`, which ignores SIGINT from then on,
runs the atexit handlers, flushes and leaves with ``os._exit``, past the interpreter's flag
and teardown. (Ending only interrupted commands that way left a finished sweep killed by a
Ctrl-C pressed during its teardown: status −2 and no message.)
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time
from typing import NoReturn

EXIT_CODE = 130  # 128 + SIGINT, what a shell reports for an interrupted command
REPEAT_GRACE_SECONDS = 30.0

_first_at: float | None = None


def install() -> None:
    """Take SIGINT for the CLI, unless it is ignored (a background job: keep it so) or
    this is not the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        return
    signal.signal(signal.SIGINT, _on_sigint)


def _on_sigint(signum, frame) -> None:
    global _first_at
    now = time.monotonic()
    if _first_at is not None and now - _first_at < REPEAT_GRACE_SECONDS:
        return  # the first Ctrl-C is being handled: its message and exit status stand
    _first_at = now
    raise KeyboardInterrupt


def say_interrupted() -> int:
    """Say that the command was interrupted (one line on stderr); return the exit code."""
    print("kbetavae: interrupted", file=sys.stderr, flush=True)
    return EXIT_CODE


def received() -> bool:
    """Whether a Ctrl-C reached the CLI (an error after it is the interruption's doing,
    e.g. an import cut short that fails as ``ImportError``)."""
    return _first_at is not None


def caused_by_ctrl_c(exc: BaseException) -> bool:
    """Whether ``exc`` ends the command because of Ctrl-C."""
    return isinstance(exc, KeyboardInterrupt) or (isinstance(exc, Exception) and received())


def end_process(code: int) -> NoReturn:
    """Leave with ``code``: atexit handlers run and output is flushed, but not the
    interpreter's finalisation (see the module docstring). Ctrl-C is ignored from here on."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        atexit._run_exitfuncs()  # what a normal exit would run first
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass
        os._exit(code)
