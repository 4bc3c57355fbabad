"""Inputs over their reconstructions, one row pair per β."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from kbetavae.viz.figures import plt, show_image
from kbetavae.viz.palette import beta_label


def reconstruction_grid(
    inputs: np.ndarray, reconstructions: Mapping[float, np.ndarray]
) -> plt.Figure:
    """Top row: inputs (N, H, W, C); one row of reconstruction probabilities per β."""
    n = len(inputs)
    betas = sorted(reconstructions)
    fig, axes = plt.subplots(
        1 + len(betas), n, figsize=(0.9 * n + 1.5, 0.95 * (1 + len(betas))), squeeze=False
    )
    rows = [("input", inputs)] + [(beta_label(b), reconstructions[b]) for b in betas]
    for r, (label, images) in enumerate(rows):
        for c in range(n):
            ax = axes[r, c]
            show_image(ax, images[c], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle("Reconstructions (decoded μ)", fontsize=10)
    fig.tight_layout()
    return fig
