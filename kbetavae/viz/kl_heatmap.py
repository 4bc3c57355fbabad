"""β × latent heatmap of the mean KL per latent: which latents each β keeps active."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from kbetavae.metrics.inputs import ACTIVE_KL_NATS
from kbetavae.viz.axes import significant
from kbetavae.viz.figures import plt

# KL spans 1e-4 nats (a collapsed latent) to tens of nats: colour by log10, clipped here.
FLOOR_NATS = 1e-3


def kl_heatmap(
    table: Mapping[float, np.ndarray], caption: str, labels: Sequence[str] | None = None
) -> plt.Figure:
    """Rows = β (ascending), columns = latents (``labels``, default z0 ...); cells print the
    KL, bold when active."""
    from matplotlib.colors import LogNorm

    betas = sorted(table)
    matrix = np.array([np.asarray(table[b], dtype=float) for b in betas])
    latents = matrix.shape[1]
    fig, ax = plt.subplots(figsize=(0.75 * latents + 2.2, 0.45 * len(betas) + 1.8))
    vmax = max(float(np.nanmax(matrix)), FLOOR_NATS * 10)
    image = ax.imshow(
        np.clip(matrix, FLOOR_NATS, None),
        cmap="magma",
        aspect="auto",
        norm=LogNorm(vmin=FLOOR_NATS, vmax=vmax),
    )
    labels = list(labels) if labels is not None else [f"z{i}" for i in range(latents)]
    ax.set_xticks(range(latents), labels, fontsize=8)
    ax.set_yticks(range(len(betas)), [f"β = {b:g}" for b in betas], fontsize=8)
    bright = np.sqrt(FLOOR_NATS * vmax)  # the colour map's midpoint on the log scale
    for (r, c), value in np.ndenumerate(matrix):
        ax.text(
            c,
            r,
            significant(value),
            ha="center",
            va="center",
            fontsize=7,
            fontweight="bold" if value > ACTIVE_KL_NATS else "normal",
            color="black" if value > bright else "white",
        )
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="KL (nats, log scale)")
    ax.set_title(f"KL per latent ({caption}; bold: active, > {ACTIVE_KL_NATS} nats)", fontsize=9)
    fig.tight_layout()
    return fig
