"""Encoder and decoder networks: the Burgess et al. (2018) 64×64 convolutional architecture.

"Understanding disentangling in β-VAE", appendix A.1, the architecture used across the
β-VAE literature on dSprites: 4 × Conv2D(32, 4×4, stride 2) → Dense 256 → Dense 256 →
Dense 2·z (μ and log σ²); the decoder is its transpose and outputs Bernoulli logits.

Any pair of Keras models with the same contract can replace them in :class:`BetaVAE`:
the encoder maps images (N, H, W, C) to (N, 2·z) — μ then log σ² — and the decoder maps
codes (N, z) to logits of the image shape. The image shape is the data's (a source's
``image_shape``); dSprites' (64, 64, 1) is the default.

Example:
    >>> encoder = build_encoder(latent_dim=10)
    >>> encoder.output_shape
    (None, 20)
    >>> build_decoder(latent_dim=10).output_shape
    (None, 64, 64, 1)
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from kbetavae.data.factors import IMAGE_SHAPE
from kbetavae.errors import InputError
from kbetavae.validation import check_latent_dim


def build_encoder(
    latent_dim: int = 10,
    *,
    image_shape: Sequence[int] = IMAGE_SHAPE,
    filters: Sequence[int] = (32, 32, 32, 32),
    kernel_size: int = 4,
    hidden_units: Sequence[int] = (256, 256),
    name: str = "encoder",
) -> keras.Model:
    """Images (N, H, W, C) → concatenated (μ, log σ²) of shape (N, 2·latent_dim).

    Each entry of ``filters`` adds one stride-2 convolution, so H and W must be divisible
    by ``2 ** len(filters)``.
    """
    check_latent_dim(latent_dim)
    image_shape = _check_image_shape(image_shape, len(filters))
    images = keras.Input(shape=image_shape, name="images")
    x = images
    for n in filters:
        x = layers.Conv2D(n, kernel_size, strides=2, padding="same", activation="relu")(x)
    x = layers.Flatten()(x)
    for units in hidden_units:
        x = layers.Dense(units, activation="relu")(x)
    moments = layers.Dense(2 * latent_dim, name="mu_logvar")(x)
    return keras.Model(images, moments, name=name)


def build_decoder(
    latent_dim: int = 10,
    *,
    image_shape: Sequence[int] = IMAGE_SHAPE,
    filters: Sequence[int] = (32, 32, 32, 32),
    kernel_size: int = 4,
    hidden_units: Sequence[int] = (256, 256),
    name: str = "decoder",
) -> keras.Model:
    """Codes (N, latent_dim) → Bernoulli logits (N, H, W, C): the encoder transposed."""
    check_latent_dim(latent_dim)
    height, width, channels = _check_image_shape(image_shape, len(filters))
    shrink = 2 ** len(filters)
    start = (height // shrink, width // shrink, filters[-1])
    codes = keras.Input(shape=(latent_dim,), name="z")
    x = codes
    for units in hidden_units:
        x = layers.Dense(units, activation="relu")(x)
    x = layers.Dense(start[0] * start[1] * start[2], activation="relu")(x)
    x = layers.Reshape(start)(x)
    for n in list(filters[-2::-1]):
        x = layers.Conv2DTranspose(n, kernel_size, strides=2, padding="same", activation="relu")(x)
    logits = layers.Conv2DTranspose(channels, kernel_size, strides=2, padding="same")(x)
    return keras.Model(codes, logits, name=name)


def _check_image_shape(image_shape: Sequence[int], num_convs: int) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in image_shape)
    shrink = 2**num_convs
    if len(shape) != 3 or shape[0] % shrink or shape[1] % shrink or min(shape) < 1:
        raise InputError(
            f"image_shape must be (height, width, channels) with height and width divisible "
            f"by {shrink}, got {tuple(image_shape)}"
        )
    return shape
