"""Saving matplotlib figures atomically with a headless backend; drawing an image."""

from __future__ import annotations

import io
import os

import matplotlib
import numpy as np

matplotlib.use("Agg")  # no display on servers and CI

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.backend_bases import FigureCanvasBase  # noqa: E402

from kbetavae.errors import InputError  # noqa: E402
from kbetavae.io import write_bytes_atomic  # noqa: E402


def figure_format(path: str | os.PathLike, name: str = "path") -> str:
    """The image format ``path``'s suffix names (``.png`` -> ``"png"``), or InputError
    naming ``name`` if matplotlib cannot write it: a file is never one format named as
    another."""
    suffix = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    formats = FigureCanvasBase.get_supported_filetypes()
    if suffix not in formats:
        raise InputError(
            f"{name} must end in an image suffix ({', '.join('.' + f for f in sorted(formats))})"
            f", got {os.fspath(path)}"
        )
    return suffix


def show_image(ax, image, **kwargs):
    """Draw an image with values in [0, 1] on ``ax``: (H, W) or (H, W, 1) in grey,
    (H, W, 3) in colour (the dSprites variants). ``kwargs`` go to ``imshow``."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        return ax.imshow(image, cmap="gray", vmin=0, vmax=1, **kwargs)
    return ax.imshow(np.clip(image, 0.0, 1.0), **kwargs)


def save_figure(fig: plt.Figure, path: str | os.PathLike, dpi: int = 120) -> None:
    """Write ``fig`` (atomically) in the format ``path``'s suffix names, and close it."""
    image_format = figure_format(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=image_format, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    write_bytes_atomic(path, buffer.getvalue())
