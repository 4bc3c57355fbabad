"""A variant: a base source whose images are transformed, randomly, per observation.

Two ways to observe the same variant:

* ``observe(images, rng)`` / ``sample(n, rng)`` draw from the caller's generator, in
  disentanglement_lib's order: a RandomState in gives the reference's very images
  (the training pipeline calls ``observe`` per batch with a generator of its own);
* ``images_at(index)`` is what the ground-truth contract asks for — the same images for
  the same indices — so image ``i`` is observed with a generator seeded by (``seed``, i).
  The metrics' code table (one code per grid image) and the figures stay valid; each grid
  image has one observation per evaluation, where disentanglement_lib draws a fresh one
  each time a metric draws that image again.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from kbetavae.data.ground_truth import GroundTruthData
from kbetavae.errors import InputError

Random = np.random.Generator | np.random.RandomState


class Transform(Protocol):
    """Binary masks (N, H, W, 1) and a generator -> float32 observations (N, H, W, C)."""

    channels: int

    def __call__(self, masks: np.ndarray, rng: Random) -> np.ndarray: ...


def integers(rng: Random, low: int, high: int) -> int:
    """One integer in [low, high) — ``randint`` of a RandomState, ``integers`` of a
    Generator: the same draw, in the same place of the stream, under either name."""
    if isinstance(rng, np.random.RandomState):
        return int(rng.randint(low, high))
    return int(rng.integers(low, high))


def as_rgb(masks: np.ndarray) -> np.ndarray:
    """Binary masks (N, H, W, 1) as float64 (N, H, W, 3): each channel the mask."""
    masks = np.asarray(masks)
    if masks.ndim != 4 or masks.shape[-1] != 1:
        raise InputError(f"a variant transforms binary images (N, H, W, 1), got {masks.shape}")
    return np.repeat(masks.astype(np.float64), 3, axis=3)


class Variant(GroundTruthData):
    """The ground truth of ``base`` with images observed through ``transform``."""

    binary = False

    def __init__(self, base: GroundTruthData, transform: Transform, name: str, seed: int = 0):
        if not base.binary:
            raise InputError(
                f"{name} transforms binary images; the source {getattr(base, 'name', '')} holds "
                f"{base.image_shape} images, not binary ones (a variant's export is already "
                "its observations: open it without `data`)"
            )
        self._base = base
        self.transform = transform
        self.name = name
        self.seed = seed
        self.factor_sizes = base.factor_sizes
        self.factor_names = base.factor_names
        self.image_shape = (*base.image_shape[:2], transform.channels)

    @property
    def base(self) -> GroundTruthData:
        return self._base

    def observe(self, images: np.ndarray, rng: Random) -> np.ndarray:
        return self.transform(images, rng)

    def images_at(self, index: np.ndarray) -> np.ndarray:
        index = np.atleast_1d(np.asarray(index, dtype=np.int64))
        masks = self._base.images_at(index)
        out = np.empty((index.size, *self.image_shape), dtype=np.float32)
        for row, (i, mask) in enumerate(zip(index.tolist(), masks, strict=True)):
            out[row] = self.transform(mask[None], np.random.default_rng([self.seed, i]))[0]
        return out

    def sample_factors(self, n: int, rng) -> np.ndarray:
        return self._base.sample_factors(n, rng)
