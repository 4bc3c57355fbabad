"""Claims: one process at a time works on a run, however many sweeps share its directory.

A claim is an exclusive ``fcntl.flock`` on ``<run>/.claim``. The operating system drops
it when the holder exits, including on ``kill -9``, so a crashed sweep never leaves a
stale claim behind; the file keeps the holder's pid, host and start time for the message
a waiting process prints. Locks are advisory and local: two sweeps on one machine (or on
one NFS mount whose server honours ``flock``) never train the same run twice.

On ``gs://`` there is no lock to take: :func:`try_claim` returns a claim that holds
nothing (``Claim.held`` is False) and the caller says so — two sweeps of one ``--name``
on a bucket may then train the same run, and the last writer's files win (each write is
atomic, so the run stays readable).

Example:
    >>> claim = try_claim("runs/study/beta=4_seed=0")  # doctest: +SKIP
    >>> if claim is None:                                # another process holds it
    ...     print(holder("runs/study/beta=4_seed=0"))    # "pid 4121 on host-a since 05:02:11"
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from datetime import datetime, timezone

from kbetavae import io as kio

CLAIM_FILE = ".claim"
# The sweep directory's lock for its tables and report: one writer of results.csv and
# report.html at a time, however many sweeps and `report` commands share the directory.
REPORT_CLAIM_FILE = ".report.claim"


class Claim:
    """A held claim on a run directory; ``release()`` (or leaving the ``with``) drops it."""

    def __init__(self, run_dir: str, handle=None):
        self.run_dir = run_dir
        self._handle = handle

    @property
    def held(self) -> bool:
        """True for a real lock; False on storage that cannot lock (``gs://``)."""
        return self._handle is not None

    def release(self) -> None:
        if self._handle is not None:
            # Closing the descriptor drops the flock; the file stays (deleting it would let
            # a process that opened the old file and one that creates a new one both lock).
            self._handle.close()
            self._handle = None

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def try_claim(run_dir: str | os.PathLike) -> Claim | None:
    """Claim ``run_dir`` without waiting: a Claim, or None if another process holds it."""
    return _claim(os.fspath(run_dir))


def wait_for_claim(
    run_dir: str | os.PathLike, poll_seconds: float = 2.0, file: str = CLAIM_FILE
) -> Claim:
    """Claim ``run_dir`` (through its lock ``file``), waiting as long as another process
    holds it."""
    run_dir = os.fspath(run_dir)
    while True:
        claim = _claim(run_dir, file)
        if claim is not None:
            return claim
        # Polling rather than a blocking flock keeps Ctrl-C responsive.
        time.sleep(poll_seconds)


def holder(run_dir: str | os.PathLike) -> str:
    """Who holds (or last held) the claim, in one line: ``pid 4121 on host-a since …``."""
    path = os.path.join(os.fspath(run_dir), CLAIM_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            record = json.loads(handle.read() or "{}")
    except (OSError, ValueError):
        record = {}
    if not record:
        return "another process (no holder recorded yet)"
    return f"pid {record.get('pid')} on {record.get('host')} since {record.get('since')}"


def _claim(run_dir: str, file: str = CLAIM_FILE) -> Claim | None:
    if kio.is_remote(run_dir):
        return Claim(run_dir)
    os.makedirs(run_dir, exist_ok=True)
    # "a+" creates the file without truncating it: the holder's record stays readable
    # until this process holds the lock.
    handle = open(os.path.join(run_dir, file), "a+", encoding="utf-8")  # noqa: SIM115
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    except BaseException:
        handle.close()
        raise
    handle.seek(0)
    handle.truncate()
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    handle.write(json.dumps(record))
    handle.flush()
    return Claim(run_dir, handle)
