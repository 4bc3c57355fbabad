"""A study grid's figures: each metric against each method's weight, and UDR against the
supervised metrics.

``metrics_vs_weight``: one row of panels per metric, one column per objective (its main
weight on a log axis), the mean with its 95 % t interval over seeds (a dot where one seed).
``udr_vs_metrics``: one panel per supervised metric, every finished run a dot coloured by
its objective, the title giving Spearman ρ and its bootstrap interval
(:func:`kbetavae.study.methods.agreement`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kbetavae.metrics import registry
from kbetavae.model import catalog
from kbetavae.study.methods import agreement, objective_of
from kbetavae.study.results import summarise
from kbetavae.viz.axes import beta_axis
from kbetavae.viz.figures import plt
from kbetavae.viz.metric_plots import seeds_caption


def objective_colors(objectives: Sequence[str]) -> dict[str, tuple]:
    """One colour per objective, in the catalog's order."""
    palette = plt.get_cmap("tab10")
    return {name: palette(k % 10) for k, name in enumerate(dict.fromkeys(objectives))}


def metrics_vs_weight(rows: Sequence[Mapping], metrics: Sequence[str]) -> plt.Figure:
    """Panels of ``metrics`` (rows) against each objective's weight (columns)."""
    summaries = summarise(rows, metrics)
    objectives = list(dict.fromkeys(s["objective"] for s in summaries))
    colors = objective_colors(objectives)
    fig, axes = plt.subplots(
        len(metrics),
        len(objectives),
        figsize=(3.6 * len(objectives), 2.9 * len(metrics)),
        squeeze=False,
        sharey="row",
    )
    counts = []
    for i, metric in enumerate(metrics):
        for j, objective in enumerate(objectives):
            ax = axes[i][j]
            points = [s for s in summaries if s["objective"] == objective and metric in s]
            weights = [s["weight"] for s in points]
            for s in points:
                value = s[metric]
                counts.append(value.n)
                bar = (
                    None if value.n == 1 else [[value.mean - value.low], [value.high - value.mean]]
                )
                ax.errorbar(
                    s["weight"], value.mean, yerr=bar, fmt="o", capsize=3, color=colors[objective]
                )
            if len(points) > 1:
                ax.plot(weights, [s[metric].mean for s in points], color="0.6", lw=1, zorder=0)
            if weights and min(weights) > 0:
                beta_axis(ax, weights)
            ax.set_xlabel(
                catalog.facts(objective).main_weight if objective in catalog.names() else "weight"
            )
            if i == 0:
                ax.set_title(_title(objective))
            if j == 0:
                ax.set_ylabel(registry.column_title(metric))
            ax.grid(alpha=0.3)
    caption = seeds_caption(counts, "setting")
    fig.suptitle(f"Metrics against each method's weight ({caption})", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.99))  # the column titles clear the suptitle
    return fig


def udr_vs_metrics(rows: Sequence[Mapping], udr: str, metrics: Sequence[str]) -> plt.Figure:
    """``udr`` (x) against each of ``metrics`` (y) over the finished runs."""
    done = [r for r in rows if r.get("status") == "done"]
    colors = objective_colors([objective_of(r) for r in summarise(done, [])])
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.8), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for objective, color in colors.items():
            mine = [r for r in done if objective_of(r) == objective]
            xs = [r.get(udr) for r in mine]
            ys = [r.get(metric) for r in mine]
            kept = [(x, y) for x, y in zip(xs, ys, strict=True) if x is not None and y is not None]
            if kept:
                ax.scatter(*zip(*kept, strict=True), s=22, color=color, label=_title(objective))
        found = agreement(done, udr, metric)
        shown = "too few runs for ρ" if found is None else _rho_text(found)
        ax.set_title(f"{registry.column_title(metric)}: {shown}", fontsize=9)
        ax.set_xlabel(registry.column_title(udr))
        ax.set_ylabel(registry.column_title(metric))
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    if handles:
        fig.legend(handles, labels, loc="lower center", ncols=min(len(handles), 6), frameon=False)
    return fig


def _rho_text(found) -> str:
    interval = "" if found.low is None else f" [{found.low:+.2f}, {found.high:+.2f}]"
    return f"Spearman ρ = {found.rho:+.2f}{interval}, {found.n} runs"


def _title(objective: str) -> str:
    return catalog.facts(objective).title if objective in catalog.names() else objective
