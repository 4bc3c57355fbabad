"""The contract every dSprites source fulfils: factors in, images out.

Metrics sample factor vectors from the whole grid and ask a source for the matching
images; the training pipeline asks for a subset by index. Replica, tfds and file sources
all present this one interface, and so do the variants (:mod:`kbetavae.data.variants`),
which transform a base source's images per observation.

A source says what its images are: ``image_shape`` and ``binary`` (uint8 {0, 1}, as
dSprites; otherwise float32 in [0, 1]). Everything downstream — the networks' channels,
the model's input check, the loss's pixel count — reads them from here.
"""

from __future__ import annotations

import abc

import numpy as np

from kbetavae.data import factors as grid
from kbetavae.validation import RngLike, as_rng


class GroundTruthData(abc.ABC):
    """A dataset whose images are indexed by discrete ground-truth factors.

    Example:
        >>> from kbetavae.data import open_source
        >>> data = open_source("replica")
        >>> factors, images = data.sample(4, rng=0)
        >>> images.shape, images.dtype.name
        ((4, 64, 64, 1), 'uint8')
    """

    factor_names: tuple[str, ...] = grid.FACTOR_NAMES
    factor_sizes: tuple[int, ...] = grid.FACTOR_SIZES
    image_shape: tuple[int, int, int] = grid.IMAGE_SHAPE
    binary: bool = True  # uint8 {0, 1} pixels; False: float32 in [0, 1]

    @property
    def base(self) -> GroundTruthData:
        """The source whose stored images this one transforms per observation (itself for
        a source that stores its images as they are observed)."""
        return self

    @property
    def dtype(self) -> np.dtype:
        """The dtype of ``images_at``: uint8 for binary images, else float32."""
        return np.dtype(np.uint8 if self.binary else np.float32)

    def observe(self, images: np.ndarray, rng) -> np.ndarray:
        """Observations of ``base`` images (N, H, W, 1), drawn with ``rng`` (a numpy
        Generator or RandomState) where the source is random per observation; the images
        themselves for a source that is not."""
        return images

    @property
    def num_factors(self) -> int:
        return len(self.factor_sizes)

    @property
    def num_images(self) -> int:
        return int(np.prod(self.factor_sizes))

    def index(self, factors: np.ndarray) -> np.ndarray:
        """Image indices (N,) of factor class indices (N, K)."""
        return grid.index_of(factors, self.factor_sizes)

    def factors(self, index: np.ndarray) -> np.ndarray:
        """Factor class indices (N, K) of image indices (N,)."""
        return grid.factors_of(index, self.factor_sizes)

    def images(self, factors: np.ndarray) -> np.ndarray:
        """Images (N, *image_shape) of ``dtype`` for factor class indices (N, K)."""
        return self.images_at(self.index(factors))

    @abc.abstractmethod
    def images_at(self, index: np.ndarray) -> np.ndarray:
        """Images (N, *image_shape) of ``dtype`` at image indices (N,); the same images
        for the same indices, every call."""

    def sample_factors(self, n: int, rng: RngLike) -> np.ndarray:
        """``n`` factor vectors drawn uniformly from the whole grid, int64 (n, K)."""
        rng = as_rng(rng)
        return np.stack([rng.integers(0, size, n) for size in self.factor_sizes], axis=1)

    def sample(self, n: int, rng: RngLike) -> tuple[np.ndarray, np.ndarray]:
        """``n`` uniform factor vectors and observations of their images, both drawn from
        ``rng`` in disentanglement_lib's order (factors first)."""
        rng = as_rng(rng)
        factors = self.sample_factors(n, rng)
        if self.base is self:
            return factors, self.images(factors)
        return factors, self.observe(self.base.images(factors), rng)


def load_images(source: GroundTruthData, indices: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Images (N, *image_shape) at ``indices``, fetched in chunks to bound peak memory."""
    indices = np.asarray(indices, dtype=np.int64)
    out = np.empty((indices.size, *source.image_shape), dtype=source.dtype)
    for start in range(0, indices.size, chunk):
        out[start : start + chunk] = source.images_at(indices[start : start + chunk])
    return out
