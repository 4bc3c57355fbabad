"""Per-β statistics as figures and the HTML report show them: the study's own.

The statistics are :func:`kbetavae.study.statistics.summarise`'s (read through the results
layer, the one part of the study viz imports): with n > 1 finished seeds a β gets its
mean, sd and a 95 % Student-t interval of the mean; with n = 1 only the value,
and whoever shows it says "one seed".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from kbetavae.study.results import summarise


def summary_rows(rows: Sequence[Mapping], columns: Sequence[str] | None = None) -> list[dict]:
    """Per setting (a β sweep: per β, ascending): ``{"beta", "setting", "objective",
    "weight", "runs", "done", "stats": {column: Estimate}}``.

    Only rows with ``status == "done"`` and a finite value count; a column without any
    such value is absent from ``stats``. ``columns`` defaults to every numeric column.
    """
    columns = _numeric_columns(rows) if columns is None else list(columns)
    rows = [{**r, "beta": float(r["beta"])} for r in rows]
    return [
        {
            **{k: s[k] for k in ("beta", "setting", "objective", "weight", "runs", "done")},
            "stats": {c: s[c] for c in columns if c in s},
        }
        for s in summarise(rows, columns)
    ]


def _finite(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _numeric_columns(rows: Sequence[Mapping]) -> list[str]:
    skip = {"beta", "seed", "status", "reason"}
    seen: dict[str, None] = {}
    for row in rows:
        for key, value in row.items():
            if key not in skip and _finite(value) is not None:
                seen.setdefault(key)
    return list(seen)
