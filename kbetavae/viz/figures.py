"""Saving matplotlib figures atomically with a headless backend."""

from __future__ import annotations

import io
import os

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI

import matplotlib.pyplot as plt  # noqa: E402

from kbetavae.io import write_bytes_atomic  # noqa: E402


def save_figure(fig: plt.Figure, path: str | os.PathLike, dpi: int = 120) -> None:
    """Write ``fig`` as a PNG (atomically) and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    write_bytes_atomic(path, buffer.getvalue())
