"""Axis and number formatting shared by the figures: β on a log axis, epochs, cell values."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# Two β ticks closer than this (in decades) would print their labels on top of each other
# at our figure widths (7.5 and 10 are 0.125 decades apart).
CROWDED_DECADES = 0.2


def beta_ticks(betas: Sequence[float]) -> list[str]:
    """Tick labels for ``betas`` on a log axis; a label crowding its left neighbour is put
    on a second line, so close values (7.5, 10) stay readable."""
    labels, previous, lowered = [], None, False
    for beta in betas:
        crowded = (
            previous is not None
            and beta > 0
            and previous > 0
            and math.log10(beta) - math.log10(previous) < CROWDED_DECADES
        )
        lowered = crowded and not lowered
        labels.append(("\n" if lowered else "") + f"{beta:g}")
        previous = beta
    return labels


def beta_axis(ax, betas: Sequence[float]) -> None:
    """A log β x axis with one labelled tick per β and no minor ticks."""
    betas = sorted(float(b) for b in betas)
    ax.set_xscale("log")
    ax.set_xticks(betas, beta_ticks(betas))
    ax.minorticks_off()
    if len(betas) == 1:  # a single point: a decade of room either side of it
        ax.set_xlim(betas[0] / 3, betas[0] * 3)
    ax.set_xlabel("β")


def epoch_axis(ax, epochs: int) -> None:
    """Whole-number epoch ticks; a single epoch gets room around its point."""
    from matplotlib.ticker import MaxNLocator

    if epochs <= 1:
        ax.set_xticks([1])
        ax.set_xlim(0.5, 1.5)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")


def cell_format(matrix: np.ndarray) -> str:
    """A format spec that shows the largest |value| of ``matrix`` with two significant
    digits at least (a Z-diff matrix of 0.003s must not print 0.00 everywhere)."""
    finite = np.abs(np.asarray(matrix, dtype=float))
    finite = finite[np.isfinite(finite)]
    peak = float(finite.max()) if finite.size else 0.0
    if peak == 0.0 or peak >= 1.0:
        return ".2f"
    if peak < 1e-3:
        return ".1e"
    return f".{min(4, 1 - math.floor(math.log10(peak)))}f"


def significant(value: float, digits: int = 2) -> str:
    """``value`` with ``digits`` significant digits (0.00091 -> ``0.00091``, 12.3 -> ``12``)."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.{digits}g}"
