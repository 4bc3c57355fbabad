"""Ctrl-C held back while a model file is written, then delivered.

A ``KeyboardInterrupt`` can land anywhere in the main thread, including inside h5py (Keras
writes weights as HDF5) between taking its global lock and the ``try`` that would release
it; the interpreter then deadlocks closing the half-written file at exit. A full-suite run
saw exactly that: a sweep's lead interrupted during its first backup never exited
(``tests/cli/test_sweep_jobs_cli.py::test_ctrl_c_in_the_lead_ends_its_workers``). Writes of
a second or two are cheap to finish first.

Example:
    >>> with deferred_interrupt():      # doctest: +SKIP
    ...     model.save_weights(path)    # a Ctrl-C here is raised after the write
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold SIGINT while the block runs; if one came, call the Python handler it was meant
    for (``KeyboardInterrupt`` by default) once the block is over, even if it raised. A
    no-op outside the main thread and where SIGINT has no Python handler (ignored, as in a
    background job, or left to the operating system)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):
        yield
        return
    received: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            previous(signal.SIGINT, None)
