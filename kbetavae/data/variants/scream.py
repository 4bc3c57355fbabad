"""scream-dSprites: the background a random crop of a painting, the sprite inverted over it.

disentanglement_lib uses Edvard Munch's *The Scream* (1893, public domain; its download
script fetches the Wikimedia Commons scan). It cannot be downloaded here, so the painting
is a user-supplied image (``painting=PATH``, ``--painting``); without one, the offline
default is the portrait of Grace Hopper that matplotlib ships as sample data (an official
U.S. Navy photograph, a U.S. government work in the public domain). Nothing is fetched.

The image is loaded as the reference loads it: RGB, shrunk to fit 350 × 274 pixels
(width × height; Pillow's ``thumbnail``), values / 255. Pillow's resampling has changed
since, so the same file can give slightly different arrays under other Pillow versions.
Per observation, in the reference's order: the crop's row, its column, then a uniform
colour shift in [0, 1] per channel; background = (crop + shift) / 2, inverted under the
sprite.
"""

from __future__ import annotations

import io
import os

import numpy as np

from kbetavae import io as kio
from kbetavae.data.variants.variant import Random, as_rgb, integers
from kbetavae.errors import InputError

THUMBNAIL = (350, 274)  # width, height: disentanglement_lib's size for the painting


def default_painting() -> str:
    """The offline painting: matplotlib's sample image of Grace Hopper."""
    import matplotlib

    return os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")


def load_painting(path: str | os.PathLike) -> np.ndarray:
    """The painting at ``path`` as float64 RGB (H, W, 3) in [0, 1], sized as the reference
    sizes it; InputError naming the file if it is missing or not an image."""
    from PIL import Image, UnidentifiedImageError

    path = os.fspath(path)
    if not kio.exists(path) or kio.is_dir(path):
        raise InputError(f"painting: no such image file: {path}")
    try:
        with Image.open(io.BytesIO(kio.read_bytes(path))) as image:
            image = image.convert("RGB")
            image.thumbnail(THUMBNAIL)
            return np.asarray(image, dtype=np.float64) / 255.0
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"painting: {path} is not a readable image ({exc})") from None


class Transform:
    """Masks -> the sprite inverted over a colour-shifted crop of ``painting`` (a path, or
    an (H, W, 3) array in [0, 1]; default :func:`default_painting`)."""

    channels = 3

    def __init__(self, painting: str | os.PathLike | np.ndarray | None = None) -> None:
        if painting is None:
            painting = default_painting()
        if not isinstance(painting, np.ndarray):
            painting = load_painting(painting)
        if painting.ndim != 3 or painting.shape[2] != 3:
            raise InputError(f"painting must be an RGB image (H, W, 3), got {painting.shape}")
        self.painting = painting

    def __call__(self, masks: np.ndarray, rng: Random) -> np.ndarray:
        rgb = as_rgb(masks)
        height, width = rgb.shape[1:3]
        rows, columns = self.painting.shape[:2]
        if rows <= height or columns <= width:
            raise InputError(
                f"the painting ({rows} × {columns}) must be larger than the images "
                f"({height} × {width})"
            )
        for i in range(rgb.shape[0]):
            top = integers(rng, 0, rows - height)
            left = integers(rng, 0, columns - width)
            crop = self.painting[top : top + height, left : left + width]
            background = (crop + rng.uniform(0.0, 1.0, size=3)) / 2.0
            sprite = rgb[i] == 1
            background[sprite] = 1.0 - background[sprite]
            rgb[i] = background
        return rgb.astype(np.float32)
