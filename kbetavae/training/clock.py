"""The time a run spends training: wall seconds and this process's CPU seconds, one span.

CPU seconds are ``time.process_time()`` (user + system, every thread of the process: the
TensorFlow pools included). With other work on the machine, wall time grows while CPU time
does not, so the two together say how much of a slow run was waiting.
"""

from __future__ import annotations

import dataclasses
import time


@dataclasses.dataclass(frozen=True)
class Elapsed:
    """Wall seconds and CPU seconds spent over one span (or summed over several)."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def __add__(self, other: Elapsed) -> Elapsed:
        return Elapsed(self.seconds + other.seconds, self.cpu_seconds + other.cpu_seconds)


class Stopwatch:
    """Started when made; :meth:`elapsed` is the wall and CPU time since."""

    def __init__(self) -> None:
        self._wall = time.monotonic()
        self._cpu = time.process_time()

    def elapsed(self) -> Elapsed:
        return Elapsed(time.monotonic() - self._wall, time.process_time() - self._cpu)
