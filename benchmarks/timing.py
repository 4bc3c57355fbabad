"""Timing shared by the benchmarks: functions timed in turn, so drift hits them alike."""

from __future__ import annotations

import time
from collections.abc import Callable


def round_robin(functions: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Seconds of each of ``rounds`` calls of every function, called in turn (after two
    untimed calls each: tracing, compiling, warming up)."""
    for function in functions.values():
        function()
        function()
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return times
