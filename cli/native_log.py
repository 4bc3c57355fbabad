"""Keep TensorFlow's native start-up chatter off the user's terminal.

TensorFlow 2.21 logs from C++ before ``TF_CPP_MIN_LOG_LEVEL`` takes effect (oneDNN notes,
"could not find cuda drivers", CPU-feature advice, cuInit on GPU-less hosts). Those lines
go straight to file descriptor 2, so Python cannot intercept them as text: the CLI points
fd 2 at a pipe, drops the known informational lines, and passes everything else through.
Python's own ``sys.stderr`` keeps writing to the real stderr directly, so progress lines
and error messages are never delayed or reordered.
"""

from __future__ import annotations

import atexit
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


def filter_native_stderr() -> None:
    """Route fd 2 through a filter thread for the rest of the process."""
    try:
        real = os.dup(2)
        read_end, write_end = os.pipe()
    except OSError:
        return
    sys.stderr.flush()
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
