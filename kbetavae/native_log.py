"""Keep TensorFlow's native start-up chatter off the user's terminal.

TensorFlow 2.21 logs from C++ before ``TF_CPP_MIN_LOG_LEVEL`` takes effect (oneDNN notes,
"could not find cuda drivers", CPU-feature advice, cuInit on GPU-less hosts). Those lines
go straight to file descriptor 2, so Python cannot intercept them as text: fd 2 is pointed
at a pipe, the known informational lines are dropped, and everything else passes through.

The CLI filters from its first line, and Python's own ``sys.stderr`` keeps writing to the
real stderr directly, so progress lines and error messages are never delayed or reordered.
Library use (``import kbetavae``) filters from the moment TensorFlow is imported — the
chatter is printed then, and again as the first model starts the runtime — and leaves
``sys.stderr`` as it is (a notebook's stream, say); ``KBETAVAE_NATIVE_LOG=1`` keeps every
line.
"""

from __future__ import annotations

import atexit
import importlib.abc
import os
import re
import sys
import threading

_NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|[IW]\d{4} [\d:.]+ +\d+ \S+\] "
    rb"|E\d{4} [\d:.]+ +\d+ cuda_(platform|executor)\.cc:\d+\] failed call to cuInit"
    rb"|To enable the following instructions: .* rebuild TensorFlow)"
)


def is_noise(line: bytes) -> bool:
    """Whether a native log line is TensorFlow start-up chatter."""
    return bool(_NOISE.match(line))


KEEP_ENV = "KBETAVAE_NATIVE_LOG"
_installed = False


def filter_native_stderr(own_stderr: bool = True) -> None:
    """Route fd 2 through a filter thread for the rest of the process (once).

    ``own_stderr``: also point ``sys.stderr`` straight at the real stderr (the CLI, which
    owns its process); a library leaves it alone.
    """
    global _installed
    if _installed or os.environ.get(KEEP_ENV):
        return
    try:
        real = os.dup(2)
        read_end, write_end = os.pipe()
    except OSError:
        return
    _installed = True
    sys.stderr.flush()
    if own_stderr:
        sys.stderr = os.fdopen(os.dup(real), "w", buffering=1, encoding="utf-8", errors="replace")
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        pending = b""
        while chunk := os.read(read_end, 65536):
            *lines, pending = (pending + chunk).split(b"\n")
            kept = b"".join(line + b"\n" for line in lines if not is_noise(line))
            if kept:
                os.write(real, kept)
        if pending and not is_noise(pending):
            os.write(real, pending)

    thread = threading.Thread(target=pump, name="native-stderr-filter", daemon=True)
    thread.start()

    def restore() -> None:
        os.dup2(real, 2)  # closes the pipe's last write end: the pump drains and stops
        thread.join(timeout=2)

    atexit.register(restore)


class _BeforeTensorFlowLoads(importlib.abc.MetaPathFinder):
    """Finds nothing itself: filters fd 2 right before ``tensorflow`` starts loading."""

    def find_spec(self, fullname, path, target=None):
        if fullname == "tensorflow":
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            filter_native_stderr(own_stderr=False)
        return None


def filter_when_tensorflow_loads() -> None:
    """Filter TensorFlow's start-up chatter in library use, from its import on (one-shot;
    nothing happens if TensorFlow is already imported: its chatter is printed by then)."""
    if "tensorflow" in sys.modules or os.environ.get(KEEP_ENV):
        return
    if not any(isinstance(f, _BeforeTensorFlowLoads) for f in sys.meta_path):
        sys.meta_path.insert(0, _BeforeTensorFlowLoads())
