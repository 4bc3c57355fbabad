"""Disentanglement metrics against β, with the baseline VAE (β = 1) as a red dashed line.

The title says what the points are: one seed's value (no bars), or the mean with its 95 %
t interval over n seeds (statistics from :mod:`kbetavae.viz.summary`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kbetavae.metrics import registry
from kbetavae.viz.axes import beta_axis
from kbetavae.viz.figures import plt
from kbetavae.viz.palette import BASELINE_BETA, BASELINE_STYLE, beta_colors, beta_label
from kbetavae.viz.summary import summary_rows


def seeds_caption(counts: Sequence[int], point: str = "β") -> str:
    """What a point is, given the number of seeds behind each point (a ``point``: a β, or a
    setting of a grid)."""
    counts = sorted(set(counts))
    if not counts:
        return "no finished runs"
    if counts == [1]:
        return f"one seed per {point}, no error bars"
    if counts[0] == 1:
        return (
            f"mean and 95 % t interval over {counts[-1]} seeds where n > 1; "
            f"a {point} with one seed: its value, no bar"
        )
    n = str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
    return f"mean and 95 % t interval over {n} seeds"


# The scores live in [0, 1]; an axis spanning less than this would magnify float noise
# around a floor (a collapsed model's MIG of 4e-5) into what reads as a trend.
MIN_SCORE_SPAN = 0.1


def _at_least_min_span(ax: plt.Axes) -> None:
    low, high = ax.get_ylim()
    if high - low < MIN_SCORE_SPAN:
        low = max((low + high - MIN_SCORE_SPAN) / 2, -MIN_SCORE_SPAN / 20)  # scores are ≥ 0
        ax.set_ylim(low, low + MIN_SCORE_SPAN)


# Six metrics give nine score columns: one row of nine panels would be 41 inches wide.
PANELS_PER_ROW = 4


def metrics_vs_beta(
    rows: Sequence[Mapping],
    metrics: Sequence[str] = ("mig", "zdiff", "modularity"),
    colors: Mapping[float, tuple] | None = None,
) -> plt.Figure:
    """One panel per metric, β on a log axis, at most :data:`PANELS_PER_ROW` to a row;
    bars only where a β has more than one seed."""
    colors = colors or beta_colors(float(r["beta"]) for r in rows)
    summaries = summary_rows(rows, metrics)
    ncols = min(len(metrics), PANELS_PER_ROW)
    nrows = -(-len(metrics) // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 4 * nrows), squeeze=False)
    axes = list(grid.flat)
    for unused in axes[len(metrics) :]:
        fig.delaxes(unused)
    counts = []
    for ax, key in zip(axes, metrics, strict=False):
        stats = {s["beta"]: s["stats"][key] for s in summaries if key in s["stats"]}
        betas = sorted(stats)
        counts += [stats[b].n for b in betas]
        if betas:
            ax.plot(betas, [stats[b].mean for b in betas], color="0.6", linewidth=1, zorder=1)
        for beta in betas:
            stat = stats[beta]
            if stat.n == 1:
                ax.plot(beta, stat.mean, "o", ms=7, color=colors[beta], zorder=2)
            else:
                bar = [[stat.mean - stat.low], [stat.high - stat.mean]]
                ax.errorbar(
                    beta,
                    stat.mean,
                    yerr=bar,
                    fmt="o",
                    ms=7,
                    capsize=4,
                    color=colors[beta],
                    zorder=2,
                )
        if BASELINE_BETA in stats:
            ax.axhline(stats[BASELINE_BETA].mean, **BASELINE_STYLE)
        _at_least_min_span(ax)
        beta_axis(ax, betas or [1.0])
        ax.set_title(registry.column_title(key))
        ax.grid(alpha=0.3)
    handles = [
        plt.Line2D([], [], marker="o", linestyle="", ms=7, color=colors[b], label=beta_label(b))
        for b in sorted(colors)
    ]
    if any(s["beta"] == BASELINE_BETA for s in summaries):
        handles.append(plt.Line2D([], [], label="baseline VAE (β = 1)", **BASELINE_STYLE))
    fig.suptitle(f"Disentanglement against β ({seeds_caption(counts)})", fontsize=11)
    fig.tight_layout(rect=(0, 0.1 / nrows, 1, 1))
    fig.legend(
        handles=handles,
        loc="lower center",
        ncols=min(len(handles), 6),
        fontsize=8,
        frameon=False,
    )
    return fig
