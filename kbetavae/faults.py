"""Faults injected on purpose at named points, so tests can break a run where it hurts.

``KBETAVAE_FAULT="<action>:<point>[:<n>]"`` makes this process fail the ``n``-th time
(default 1) it reaches a point whose name matches ``<point>`` (an ``fnmatch`` pattern):

- ``kill``: SIGKILL itself (as ``kill -9``, a power cut or the OOM killer);
- ``interrupt``: SIGINT itself (as Ctrl-C);
- ``enospc``: raise ``OSError(ENOSPC)`` (as a full disk).

Points: ``write/<file name>`` inside :func:`kbetavae.io.write_bytes_atomic` after the
temporary file is written and before it is renamed (every file a later step reads passes
there: ``write/history.csv``, ``write/epoch-*.weights.h5``, ``write/model.keras``,
``write/results.csv``, ``write/report.html``, ``write/*.png`` …); ``backup-write`` between
a backup's weights and its epoch marker; ``evaluate`` after each encoder batch of an
evaluation; ``export`` after a SavedModel is staged and before it is moved into place.

Unset (as always outside tests), :func:`checkpoint` is one comparison. A malformed value
is an error at import, never a fault silently not injected.

Example:
    $ KBETAVAE_FAULT=kill:write/history.csv:2 kbetavae sweep ...   # killed at epoch 2's row
"""

from __future__ import annotations

import errno
import fnmatch
import os
import signal

FAULT_ENV = "KBETAVAE_FAULT"
ACTIONS = ("kill", "interrupt", "enospc")


def parse(spec: str) -> tuple[str, str, int]:
    """``"kill:write/*.png:3"`` -> ``("kill", "write/*.png", 3)``; ValueError if malformed."""
    action, _, rest = spec.partition(":")
    point, _, count = rest.rpartition(":")
    if not count.isdigit():  # no count given: the whole rest is the point
        point, count = rest, "1"
    if action not in ACTIONS or not point or int(count) < 1:
        raise ValueError(
            f"${FAULT_ENV}={spec!r}: expected <action>:<point>[:<n>] with action one of "
            f"{', '.join(ACTIONS)} and n >= 1"
        )
    return action, point, int(count)


_FAULT = parse(os.environ[FAULT_ENV]) if os.environ.get(FAULT_ENV) else None
_reached = 0


def checkpoint(name: str) -> None:
    """Fail here if ``$KBETAVAE_FAULT`` names this point and its count is reached."""
    if _FAULT is None:
        return
    _maybe_fail(name)


def _maybe_fail(name: str) -> None:
    global _reached
    action, point, count = _FAULT
    if not fnmatch.fnmatchcase(name, point):
        return
    _reached += 1
    if _reached != count:
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "interrupt":
        os.kill(os.getpid(), signal.SIGINT)
    else:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
