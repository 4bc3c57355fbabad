"""color-dSprites: the sprite in a random colour, each channel uniform in [0.5, 1].

One colour per observation, drawn as disentanglement_lib's ``ColorDSprites`` draws it:
a single (N, 1, 1, 3) uniform draw for the batch.
"""

from __future__ import annotations

import numpy as np

from kbetavae.data.variants.variant import Random, as_rgb


class Transform:
    """Masks -> the sprite coloured, the background black."""

    channels = 3

    def __call__(self, masks: np.ndarray, rng: Random) -> np.ndarray:
        rgb = as_rgb(masks)
        colour = rng.uniform(0.5, 1.0, (rgb.shape[0], 1, 1, 3))
        return (rgb * colour).astype(np.float32)
