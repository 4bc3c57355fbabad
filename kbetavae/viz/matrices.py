"""Latent × factor heatmaps behind MIG, Z-diff and Modularity for one model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from kbetavae.data.factors import FACTOR_NAMES
from kbetavae.viz.axes import cell_format
from kbetavae.viz.figures import plt


def _heatmap(ax, matrix: np.ndarray, title: str, factor_names: Sequence[str], ylabels):
    image = ax.imshow(matrix, cmap="viridis", aspect="auto", vmin=0)
    ax.set_xticks(range(matrix.shape[1]), factor_names, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(matrix.shape[0]), ylabels, fontsize=8)
    ax.set_title(title, fontsize=9)
    spec = cell_format(matrix)
    for (i, k), value in np.ndenumerate(matrix):
        ax.text(
            k,
            i,
            format(value, spec),
            ha="center",
            va="center",
            fontsize=6,
            color="white" if value < 0.6 * max(matrix.max(), 1e-12) else "black",
        )
    plt.colorbar(image, ax=ax, fraction=0.046, pad=0.04)


def metric_matrices(
    metrics: Mapping[str, Mapping],
    title: str,
    factor_names: Sequence[str] = FACTOR_NAMES,
) -> plt.Figure:
    """MI / H(factor) (MIG), mean |Δμ| per fixed factor (Z-diff), and the per-latent
    share of squared MI (Modularity; each row's label carries the latent's score)."""
    panels = []
    if "mig" in metrics:
        panels.append(("MIG: MI / H(factor)", np.asarray(metrics["mig"]["matrix"], float), None))
    if "zdiff" in metrics:
        panels.append(
            (
                "Z-diff: mean |μ1 − μ2| when the factor is fixed",
                np.asarray(metrics["zdiff"]["matrix"], float),
                None,
            )
        )
    if "modularity" in metrics:
        mi = np.asarray(metrics["modularity"]["matrix"], float)
        squared = mi**2
        peak = squared.max(axis=1, keepdims=True)
        share = np.divide(squared, peak, out=np.zeros_like(squared), where=peak > 0)
        scores = metrics["modularity"]["per_latent"]
        labels = [f"z{i} ({s:.2f})" for i, s in enumerate(scores)]
        panels.append(("Modularity: MI² / max MI² per latent (score)", share, labels))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 5), squeeze=False)
    for ax, (panel_title, matrix, labels) in zip(axes[0], panels, strict=True):
        _heatmap(
            ax,
            matrix,
            panel_title,
            factor_names,
            labels or [f"z{i}" for i in range(matrix.shape[0])],
        )
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
