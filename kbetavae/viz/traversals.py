"""Latent traversals: one row per latent, z_i swept over [-3, 3], the others fixed at μ."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import numpy as np

from kbetavae.metrics.traversal_motion import (
    FIGURE_LIMIT,
    FIGURE_STEPS,
    figure_values,
    traversal_codes,
)
from kbetavae.viz.axes import significant
from kbetavae.viz.figures import plt, show_image

DecodeFn = Callable[[np.ndarray], np.ndarray]


def traversal_grid(
    decode: DecodeFn, mu: np.ndarray, limit: float = FIGURE_LIMIT, steps: int = FIGURE_STEPS
) -> tuple[np.ndarray, np.ndarray]:
    """Decoded images (z, steps, H, W[, C]) of the traversal and the swept values.

    :mod:`kbetavae.metrics.traversal_motion` measures the same traversal.
    """
    values = figure_values(limit, steps)
    codes = traversal_codes(mu, values)
    images = np.asarray(decode(codes.reshape(-1, codes.shape[-1])))
    return images.reshape(codes.shape[0], steps, *images.shape[1:]), values


def traversal_figure(
    images: np.ndarray,
    values: np.ndarray,
    kl_per_latent: Sequence[float] | None = None,
    title: str = "Latent traversals",
    original: np.ndarray | None = None,
    kl_caption: str | None = None,
) -> plt.Figure:
    """Rows = latents (labelled with their KL), columns = swept values.

    ``kl_caption`` says what the KL numbers are (:func:`kbetavae.metrics.latent_kl.kl_caption`);
    it is added to the title.
    """
    rows, cols = images.shape[:2]
    top = 1 if original is not None else 0  # the input image gets a row of its own
    fig, axes = plt.subplots(
        rows + top,
        cols,
        figsize=(0.75 * cols + 1.2, 0.75 * (rows + top) + 0.9),
        squeeze=False,
        gridspec_kw={"wspace": 0.05, "hspace": 0.08},
    )
    for r in range(rows):
        for c in range(cols):
            ax = axes[r + top, c]
            show_image(ax, images[r, c], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == rows - 1:
                ax.set_xlabel(f"{values[c]:+.1f}", fontsize=7)
        label = f"z{r}"
        if kl_per_latent is not None:
            label += f"\nKL {significant(kl_per_latent[r])}"
        axes[r + top, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=7)
    if top:
        for ax in axes[0]:
            ax.axis("off")
        show_image(axes[0, 0], original)
        axes[0, 0].set_title("input", fontsize=7)
    if kl_per_latent is not None and kl_caption:
        title += f"\nrow labels: {kl_caption}"
    fig.suptitle(title, fontsize=9)
    return fig


def traversal_gif(images: np.ndarray, frame_ms: int = 120) -> bytes:
    """An animated GIF: each frame shows every latent (side by side) at one swept value.

    The sweep plays forwards then backwards so the loop has no jump. ``images``
    (rows, steps, H, W[, C]): grey for one channel or none, colour for three.
    """
    from PIL import Image

    if images.ndim == 5 and images.shape[-1] == 1:
        images = images[..., 0]
    rows, steps, height, width = images.shape[:4]
    tiles = (np.clip(images, 0, 1) * 255).astype(np.uint8)
    pad = 2
    frames = []
    for step in list(range(steps)) + list(range(steps - 2, 0, -1)):
        canvas = np.full((height, rows * (width + pad) - pad, *images.shape[4:]), 128, np.uint8)
        for r in range(rows):
            canvas[:, r * (width + pad) : r * (width + pad) + width] = tiles[r, step]
        frames.append(
            Image.fromarray(canvas).resize((canvas.shape[1] * 2, height * 2), Image.NEAREST)
        )
    buffer = io.BytesIO()
    frames[0].save(
        buffer, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0
    )
    return buffer.getvalue()
