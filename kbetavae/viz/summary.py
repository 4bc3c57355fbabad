"""Per-β statistics that figures and the HTML report show: the ONE place viz gets them.

LEAD: main now has ``kbetavae.study.statistics.summarise`` (same rule, same bootstrap:
10,000 resamples, seed 0, percentiles 2.5/97.5; its ``Estimate`` has the fields of
:class:`Stat`). Re-point by replacing the body of :func:`summary_rows` with::

    from kbetavae.study.statistics import summarise

    columns = _numeric_columns(rows) if columns is None else list(columns)
    return [
        {**{k: s[k] for k in ("beta", "runs", "done")},
         "stats": {c: s[c] for c in columns if c in s}}
        for s in summarise(rows, columns)
    ]

and deleting :class:`Stat` and :func:`_stat`. Figures and the report read only ``n``,
``mean``, ``sd``, ``low`` and ``high``.

Interim rule (DESIGN.md, "Statistics and claims"): with n > 1 finished seeds a β gets its
mean, sd and a 95 % percentile-bootstrap interval of the mean; with n = 1 only the value,
and whoever shows it says "one seed".
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95


@dataclasses.dataclass(frozen=True)
class Stat:
    """One column of one β over its finished seeds; ``sd``/``low``/``high`` need n > 1."""

    n: int
    mean: float
    sd: float | None = None
    low: float | None = None
    high: float | None = None


def summary_rows(rows: Sequence[Mapping], columns: Sequence[str] | None = None) -> list[dict]:
    """Per β (ascending): ``{"beta", "runs", "done", "stats": {column: Stat}}``.

    Only rows with ``status == "done"`` and a finite value count; a column without any
    such value is absent from ``stats``. ``columns`` defaults to every numeric column.
    """
    if columns is None:
        columns = _numeric_columns(rows)
    out = []
    for beta in sorted({float(r["beta"]) for r in rows}):
        group = [r for r in rows if float(r["beta"]) == beta]
        done = [r for r in group if r.get("status") == "done"]
        stats = {}
        for column in columns:
            values = [_finite(r.get(column)) for r in done]
            values = [v for v in values if v is not None]
            if values:
                stats[column] = _stat(np.asarray(values, dtype=float))
        out.append({"beta": beta, "runs": len(group), "done": len(done), "stats": stats})
    return out


def _stat(values: np.ndarray) -> Stat:
    if values.size == 1:
        return Stat(n=1, mean=float(values[0]))
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    means = rng.choice(values, size=(BOOTSTRAP_RESAMPLES, values.size)).mean(axis=1)
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return Stat(
        n=int(values.size),
        mean=float(values.mean()),
        sd=float(values.std(ddof=1)),
        low=float(low),
        high=float(high),
    )


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
