"""noisy-dSprites: the white sprite over uniform [0, 1] RGB noise.

As disentanglement_lib's ``NoisyDSprites``: one (N, H, W, 3) uniform draw, added to the
mask and clipped at 1.
"""

from __future__ import annotations

import numpy as np

from kbetavae.data.variants.variant import Random, as_rgb


class Transform:
    """Masks -> the sprite white over noise."""

    channels = 3

    def __call__(self, masks: np.ndarray, rng: Random) -> np.ndarray:
        rgb = as_rgb(masks)
        noise = rng.uniform(0.0, 1.0, rgb.shape)
        return np.minimum(rgb + noise, 1.0).astype(np.float32)
