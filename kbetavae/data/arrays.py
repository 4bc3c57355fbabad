"""Ground truth held in memory: images looked up by factor index.

File and tfds sources load every image once. Binary images (dSprites) are stored with
``np.packbits`` along the image width, which keeps the whole grid in 377 MB (8 pixels a
byte) with random access by index; other images are kept as given.
"""

from __future__ import annotations

import numpy as np

from kbetavae.data import factors as grid
from kbetavae.data.ground_truth import GroundTruthData
from kbetavae.errors import InputError
from kbetavae.validation import RngLike, as_rng


class ArrayData(GroundTruthData):
    """Images and their factor classes.

    ``factors`` (N, K) are class indices. With ``binary`` (the default), ``images``
    (N, H, W[, 1]) are binary (any non-zero pixel counts as on) and stored bit-packed;
    otherwise ``images`` (N, H, W, C) are float values in [0, 1], kept as float32. A source
    that holds only part of the grid (a mock, a partial file) still works: sampling draws
    from what is present, and asking for an absent image is an error that names it.
    """

    def __init__(
        self,
        factors: np.ndarray,
        images: np.ndarray,
        factor_sizes: tuple[int, ...] = grid.FACTOR_SIZES,
        name: str = "arrays",
        *,
        binary: bool = True,
    ) -> None:
        self.factor_sizes = tuple(int(s) for s in factor_sizes)
        self.factor_names = grid.FACTOR_NAMES[: len(self.factor_sizes)]
        self.name = name
        self.binary = bool(binary)
        f = grid.check_factors(factors, self.factor_sizes)
        imgs = np.asarray(images)
        if imgs.ndim == 3:
            imgs = imgs[..., None]
        if imgs.ndim != 4 or (self.binary and imgs.shape[-1] != 1):
            expected = "(N, H, W) or (N, H, W, 1)" if self.binary else "(N, H, W, C)"
            raise InputError(f"images must have shape {expected}, got {np.shape(images)}")
        if imgs.shape[0] != f.shape[0]:
            raise InputError(f"{imgs.shape[0]} images but {f.shape[0]} factor rows")
        self.image_shape = tuple(int(d) for d in imgs.shape[1:])
        if self.binary:
            self._stored = np.packbits(imgs[..., 0] > 0, axis=-1)
        else:
            self._stored = imgs.astype(np.float32, copy=False)
        self._row_of = np.full(self.num_images, -1, dtype=np.int64)
        self._row_of[grid.index_of(f, self.factor_sizes)] = np.arange(f.shape[0])
        self._present = np.flatnonzero(self._row_of >= 0)

    @property
    def is_complete(self) -> bool:
        """True when every factor combination has an image."""
        return self._present.size == self.num_images

    def images_at(self, index: np.ndarray) -> np.ndarray:
        idx = np.atleast_1d(np.asarray(index, dtype=np.int64))
        self.factors(idx)  # range check with a clear message
        rows = self._row_of[idx]
        if (rows < 0).any():
            missing = idx[rows < 0][0]
            raise InputError(
                f"the {self.name} source has no image for factors "
                f"{self.factors(np.array([missing]))[0].tolist()}"
            )
        if not self.binary:
            return self._stored[rows]
        width = self.image_shape[1]
        return np.unpackbits(self._stored[rows], axis=-1, count=width)[..., None]

    def sample_factors(self, n: int, rng: RngLike) -> np.ndarray:
        if self.is_complete:
            return super().sample_factors(n, rng)
        return self.factors(as_rng(rng).choice(self._present, size=n))
