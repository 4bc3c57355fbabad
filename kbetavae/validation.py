"""The one set of argument checks every layer uses: integers, weights, random generators.

Each check returns the value in its canonical type or raises an :class:`InputError` whose
message names the argument as the caller spells it (``--batch-size`` in the CLI,
``batch_size`` in the library) and the bad value. Pure Python and numpy: metrics and data
use them without importing TensorFlow.
"""

from __future__ import annotations

import math

import numpy as np

from kbetavae.errors import InputError

RngLike = np.random.Generator | int | None


def check_int(name: str, value, minimum: int = 0, maximum: int | None = None) -> int:
    """``value`` as an int in [``minimum``, ``maximum``], or InputError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise InputError(f"{name} must be an integer <= {maximum}, got {value!r}")
    return int(value)


def check_weight(name: str, value) -> float:
    """``value`` as a finite float >= 0 (a loss weight, a capacity), or InputError."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise InputError(f"{name} must be a number >= 0, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise InputError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_positive_number(name: str, value) -> float:
    """``value`` as a finite float > 0 (a learning rate), or InputError."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.number)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise InputError(f"{name} must be a positive number, got {value!r}")
    return float(value)


# Keeps a typo such as latent_dim=100000 from allocating for minutes before failing.
MAX_LATENT_DIM = 1024


def check_latent_dim(latent_dim) -> int:
    """``latent_dim`` as an int in [1, 1024], or InputError naming it."""
    return check_int("latent_dim", latent_dim, minimum=1, maximum=MAX_LATENT_DIM)


def as_rng(rng: RngLike) -> np.random.Generator:
    """A numpy Generator from a Generator, a seed or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, np.random.RandomState):
        raise InputError("rng must be a numpy Generator or an int seed, not a RandomState")
    return np.random.default_rng(rng)
