"""One colour per β, the same in every figure of a sweep."""

from __future__ import annotations

from collections.abc import Iterable

from kbetavae.viz.figures import plt

BASELINE_BETA = 1.0
BASELINE_STYLE = {"color": "red", "linestyle": "--", "linewidth": 1.5}


def beta_colors(betas: Iterable[float]) -> dict[float, tuple]:
    """Colours keyed by β, assigned in ascending β order from a qualitative map."""
    ordered = sorted({float(b) for b in betas})
    cmap = plt.get_cmap("tab10" if len(ordered) <= 10 else "viridis")
    if len(ordered) <= 10:
        return {b: cmap(i) for i, b in enumerate(ordered)}
    return {b: cmap(i / max(1, len(ordered) - 1)) for i, b in enumerate(ordered)}


def beta_label(beta: float) -> str:
    """``β = 2.5``, with the baseline marked."""
    text = f"β = {beta:g}"
    return text + " (baseline)" if beta == BASELINE_BETA else text
