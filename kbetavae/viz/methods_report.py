"""The methods section of ``report.html`` for a study grid of several objectives.

Everything comes from the results rows (:mod:`kbetavae.study.methods`) and the grid's
figures (:func:`kbetavae.viz.report.render_sweep_figures`): per supervised metric, the best
setting of each method with its interval and the methods compared at matched seeds; UDR
against each supervised metric; the run UDR picks beside the run each metric picks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kbetavae.metrics import registry
from kbetavae.study.methods import (
    agreement,
    best_settings,
    compare_methods,
    keyed_by_beta,
    pick_table,
)

__all__ = ["keyed_by_beta", "methods_context"]


def methods_context(rows: Sequence[dict], image: Callable[[str], str | None]) -> dict | None:
    """What the template's methods section shows (None for a β sweep); ``image(name)`` is
    a figure's data URI or None."""
    from kbetavae.viz.report import UDR_FIGURE, WEIGHT_FIGURE

    if keyed_by_beta(rows):
        return None
    done = [r for r in rows if r.get("status") == "done"]
    present = [k for k in registry.columns(kind=None) if any(r.get(k) is not None for r in done)]
    supervised = [k for k in present if k in registry.columns()]
    udr = [k for k in present if k in registry.columns(kind=registry.SEVERAL_MODELS)]
    return {
        "weight_figure": image(WEIGHT_FIGURE),
        "udr_figure": image(UDR_FIGURE),
        "best": [
            {
                "metric": registry.column_title(c),
                "settings": best_settings(rows, c),
                "comparisons": [x.text() for x in compare_methods(rows, c)],
            }
            for c in supervised
        ],
        "agreement": [
            a for u in udr for a in (agreement(rows, u, c) for c in supervised) if a is not None
        ],
        "picks": [
            {"udr": u, "columns": [u, *supervised], "methods": pick_table(rows, u, supervised)}
            for u in udr
        ],
    }
