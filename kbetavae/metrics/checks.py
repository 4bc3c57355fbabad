"""Input checks shared by the metrics: codes are finite floats, factors are class indices."""

from __future__ import annotations

import numpy as np

from kbetavae.errors import InputError


def check_codes(codes: np.ndarray, name: str = "codes", min_latents: int = 1) -> np.ndarray:
    """``codes`` as a float64 (N, z) array with finite values, or InputError."""
    arr = np.asarray(codes)
    if arr.ndim != 2:
        raise InputError(f"{name} must have shape (num_points, num_latents), got {arr.shape}")
    if arr.shape[0] == 0:
        raise InputError(f"{name} has no points")
    if arr.shape[1] < min_latents:
        raise InputError(f"{name} needs at least {min_latents} latents, got {arr.shape[1]}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InputError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    finite = np.isfinite(arr)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        count = int((~finite).sum())
        raise InputError(
            f"{name} contain {count} non-finite value(s) (first: {arr[row, col]} at point {row}, "
            f"latent {col}); the encoder produced NaN/inf, so the model is broken or diverged"
        )
    return arr


def check_factors(
    factors: np.ndarray, num_points: int | None = None, name: str = "factors"
) -> np.ndarray:
    """``factors`` as an int64 (N, K) array of non-negative class indices, or InputError."""
    arr = np.asarray(factors)
    if arr.ndim != 2:
        raise InputError(f"{name} must have shape (num_points, num_factors), got {arr.shape}")
    if arr.shape[1] == 0:
        raise InputError(f"{name} has no factors")
    if num_points is not None and arr.shape[0] != num_points:
        raise InputError(f"{name} has {arr.shape[0]} points but the codes have {num_points}")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.floating) or not (
            np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))
        ):
            raise InputError(f"{name} must be integer class indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        raise InputError(f"{name} must be non-negative class indices, found {arr.min()}")
    return arr
