"""Disentanglement metrics against β, with the baseline VAE (β = 1) as a red dashed line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from kbetavae.metrics import registry
from kbetavae.viz.figures import plt
from kbetavae.viz.palette import BASELINE_BETA, BASELINE_STYLE, beta_colors


def summarise(rows: Sequence[Mapping], key: str) -> dict[float, tuple[float, float, int]]:
    """Per β: (mean, sd, n) of ``key`` over the rows (seeds) with a finite value."""
    out: dict[float, tuple[float, float, int]] = {}
    for beta in sorted({float(r["beta"]) for r in rows}):
        values = [r.get(key) for r in rows if float(r["beta"]) == beta]
        finite = np.array([v for v in values if v is not None and np.isfinite(v)], dtype=float)
        if finite.size:
            sd = float(finite.std(ddof=1)) if finite.size > 1 else 0.0
            out[beta] = (float(finite.mean()), sd, int(finite.size))
    return out


def metrics_vs_beta(
    rows: Sequence[Mapping],
    metrics: Sequence[str] = ("mig", "zdiff", "modularity"),
    colors: Mapping[float, tuple] | None = None,
) -> plt.Figure:
    """One panel per metric: mean ± sd over seeds per β, β on a log axis."""
    colors = colors or beta_colors(float(r["beta"]) for r in rows)
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 4), squeeze=False)
    for ax, key in zip(axes[0], metrics, strict=True):
        stats = summarise(rows, key)
        betas = np.array(sorted(stats))
        if betas.size:
            means = np.array([stats[b][0] for b in betas])
            sds = np.array([stats[b][1] for b in betas])
            ax.plot(betas, means, color="0.5", linewidth=1, zorder=1)
            for b, m, s in zip(betas, means, sds, strict=True):
                ax.errorbar(
                    b, m, yerr=s, fmt="o", ms=7, capsize=4, color=colors[float(b)], zorder=2
                )
            if BASELINE_BETA in stats:
                ax.axhline(stats[BASELINE_BETA][0], label="baseline VAE (β = 1)", **BASELINE_STYLE)
                ax.legend(fontsize=8, loc="best")
        ax.set_xscale("log")
        ax.set_xticks(betas if betas.size else [1])
        ax.set_xticklabels([f"{b:g}" for b in (betas if betas.size else [1])])
        ax.minorticks_off()
        ax.set_xlabel("β")
        ax.set_title(registry.column_title(key))
        ax.grid(alpha=0.3)
    fig.suptitle("Disentanglement against β (mean ± sd over seeds)", fontsize=11)
    fig.tight_layout()
    return fig
