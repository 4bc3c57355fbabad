"""The dSprites factor grid: names, sizes, values and the image index.

Sizes and values follow the dSprites release (Matthey et al. 2017): shape 3 (square,
ellipse, heart), scale 6 (linspace 0.5..1), orientation 40 (linspace 0..2pi), posX and
posY 32 each (linspace 0..1). The image index puts the last factor fastest, as the
original file does. Colour has a single value and is never a factor.
"""

from __future__ import annotations

import numpy as np

from kbetavae.errors import InputError

FACTOR_NAMES: tuple[str, ...] = ("shape", "scale", "orientation", "posX", "posY")
FACTOR_SIZES: tuple[int, ...] = (3, 6, 40, 32, 32)
SHAPE_NAMES: tuple[str, ...] = ("square", "ellipse", "heart")
NUM_IMAGES: int = int(np.prod(FACTOR_SIZES))  # 737,280
IMAGE_SHAPE: tuple[int, int, int] = (64, 64, 1)


def factor_values() -> list[np.ndarray]:
    """The real-valued latent of every class of every factor (as in the dSprites file)."""
    return [
        np.array([1.0, 2.0, 3.0]),
        np.linspace(0.5, 1.0, 6),
        np.linspace(0.0, 2.0 * np.pi, 40),
        np.linspace(0.0, 1.0, 32),
        np.linspace(0.0, 1.0, 32),
    ]


def strides(sizes: tuple[int, ...] = FACTOR_SIZES) -> np.ndarray:
    """Index strides with the last factor fastest: (245760, 40960, 1024, 32, 1) for dSprites."""
    return np.concatenate([np.cumprod(np.asarray(sizes[:0:-1], dtype=np.int64))[::-1], [1]])


def check_factors(factors: np.ndarray, sizes: tuple[int, ...] = FACTOR_SIZES) -> np.ndarray:
    """Return ``factors`` as an int64 (N, K) array, or raise InputError naming the problem."""
    arr = np.asarray(factors)
    if arr.ndim == 1 and arr.shape[0] == len(sizes):
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != len(sizes):
        raise InputError(
            f"factors must have shape (N, {len(sizes)}), got {tuple(np.shape(factors))}"
        )
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise InputError("factors must be integer class indices")
    arr = arr.astype(np.int64, copy=False)
    bad = (arr < 0) | (arr >= np.asarray(sizes))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise InputError(
            f"factor {col} value {arr[row, col]} out of range [0, {sizes[col] - 1}] (row {row})"
        )
    return arr


def index_of(factors: np.ndarray, sizes: tuple[int, ...] = FACTOR_SIZES) -> np.ndarray:
    """Image indices of (N, K) factor class indices."""
    return check_factors(factors, sizes) @ strides(sizes)


def factors_of(index: np.ndarray, sizes: tuple[int, ...] = FACTOR_SIZES) -> np.ndarray:
    """Factor class indices (N, K) of image indices."""
    idx = np.atleast_1d(np.asarray(index))
    total = int(np.prod(sizes))
    if idx.size and not np.issubdtype(idx.dtype, np.integer):
        raise InputError("image indices must be integers")
    idx = idx.astype(np.int64, copy=False)
    if idx.size and (idx.min() < 0 or idx.max() >= total):
        bad = idx[(idx < 0) | (idx >= total)][0]
        raise InputError(f"image index {bad} out of range [0, {total - 1}]")
    return (idx[:, None] // strides(sizes)) % np.asarray(sizes)
