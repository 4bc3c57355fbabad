"""A grid of dataset images titled with their factors."""

from __future__ import annotations

import numpy as np

from kbetavae.data.factors import FACTOR_NAMES, SHAPE_NAMES
from kbetavae.viz.figures import plt, show_image


def sample_grid(
    images: np.ndarray, factors: np.ndarray, columns: int = 8, name: str = "dSprites"
) -> plt.Figure:
    """Images (N, H, W, C) in a grid, each titled with its factor class indices."""
    n = len(images)
    rows = max(1, int(np.ceil(n / columns)))
    fig, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.9 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, f in zip(axes.flat, images, factors, strict=False):
        show_image(ax, image, interpolation="nearest")
        label = SHAPE_NAMES[f[0]] if f[0] < len(SHAPE_NAMES) else str(f[0])
        ax.set_title(f"{label}\n" + " ".join(str(v) for v in f[1:]), fontsize=7)
    # Above the first row's titles, however few rows there are.
    fig.suptitle(
        f"{name} samples — " + ", ".join(FACTOR_NAMES) + " (class indices)",
        fontsize=9,
        y=1.0 + 0.12 / rows,
    )
    return fig
