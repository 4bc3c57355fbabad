"""Held-out ELBO: the training objective's two terms on grid images the model never saw.

The model trains on a seeded subset of the grid (``kbetavae.data.pipeline.subset_indices``);
every other image is held out. This module draws ``num_images`` of those (seeded, without
replacement) and reports, per image and then averaged:

* ``reconstruction``: the Bernoulli negative log-likelihood of the image under the decoder
  at one sample z = mu + sigma * eps (eps ~ N(0, I), seeded), summed over pixels: the
  ELBO's term whatever reduction trained the model (under ``--reconstruction mean`` the
  training history's reconstruction is this divided by the pixel count);
* ``kl``: the analytic KL(N(mu, sigma^2) || N(0, I)) summed over latents, and
  ``kl_per_latent`` its mean per latent;
* ``elbo`` = -(reconstruction + kl), a lower bound of log p(x) in nats, and ``elbo_se`` its
  standard error over the images.

A gap between these and the training history's ``reconstruction``/``kl`` (on the same
scale) is overfitting to the subset. The decoder gives probabilities (the ``decode``
signature), not logits, so each probability is clipped to [1e-7, 1 - 1e-7] (Keras' epsilon,
the clip ``binary_crossentropy`` applies to probabilities) before the log: a pixel the
float32 sigmoid rounded to exactly 0 or 1 costs at most 16.1 nats instead of infinity; any
other pixel matches the logit form of the training loss.

Random draws, in this order from ``numpy.random.default_rng(seed)``: the held-out indices
(``choice`` over the sorted complement, then sorted), then one (num_images, z) standard
normal array whose row i is the noise of the i-th index.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from kbetavae.errors import InputError
from kbetavae.metrics.checks import check_codes
from kbetavae.metrics.protocol import HELDOUT_IMAGES
from kbetavae.metrics.representation import encoder_input, split_encoding
from kbetavae.metrics.results import jsonable
from kbetavae.validation import check_int

# Keras' default epsilon, which its binary_crossentropy uses to clip probabilities.
PROBABILITY_CLIP = 1e-7
BATCH_SIZE = 500


class Images(Protocol):
    """The part of ``GroundTruthData`` this module uses."""

    @property
    def num_images(self) -> int: ...

    def images_at(self, index: np.ndarray) -> np.ndarray: ...


@dataclasses.dataclass(frozen=True)
class HeldoutResult:
    """Means over the held-out images, in nats (see the module docstring)."""

    reconstruction: float
    kl: float
    elbo: float
    elbo_se: float
    kl_per_latent: np.ndarray
    num_images: int
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``heldout`` entry of ``metrics.json``."""
        return {f.name: jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}


def heldout_indices(
    num_grid_images: int, train_indices: np.ndarray, num_images: int, rng: np.random.Generator
) -> np.ndarray:
    """``num_images`` sorted distinct image indices of the grid outside ``train_indices``."""
    num_grid_images = check_int("num_grid_images", num_grid_images, minimum=1)
    train = np.asarray(train_indices)
    if train.ndim != 1 or not np.issubdtype(train.dtype, np.integer):
        raise InputError(
            f"train_indices must be a 1-D integer array, got {train.dtype} {train.shape}"
        )
    if train.size and (train.min() < 0 or train.max() >= num_grid_images):
        raise InputError(
            f"train_indices must lie in [0, {num_grid_images}), got {train.min()}..{train.max()}"
        )
    outside = np.ones(num_grid_images, dtype=bool)
    outside[train] = False
    candidates = np.flatnonzero(outside)
    num_images = check_int("num_images", num_images, minimum=1)
    if num_images > candidates.size:
        raise InputError(
            f"num_images {num_images} is more than the {candidates.size} images outside the "
            "training subset"
        )
    return np.sort(rng.choice(candidates, size=num_images, replace=False))


def kl_per_image(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """KL(N(mu, exp(logvar)) || N(0, 1)) of each point and latent, in nats (N, z): the
    closed form the model's loss and ``evaluate.kl_per_latent`` average."""
    return 0.5 * (np.square(mu) + np.exp(logvar) - logvar - 1.0)


def bernoulli_nll(images: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """-log p(x | probs) of each image (N,), summed over pixels, probabilities clipped."""
    x = images.reshape(len(images), -1).astype(np.float64)
    p = np.clip(
        probs.reshape(len(probs), -1).astype(np.float64), PROBABILITY_CLIP, 1 - PROBABILITY_CLIP
    )
    return -np.sum(x * np.log(p) + (1.0 - x) * np.log1p(-p), axis=1)


def elbo_terms(
    encode: Callable[[np.ndarray], Any],
    decode: Callable[[np.ndarray], np.ndarray],
    images: np.ndarray,
    noise: np.ndarray | Callable[[int], np.ndarray],
    batch_size: int = BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """Per image: reconstruction NLL (N,) and KL per latent (N, z) at z = mu + sigma * noise.

    ``images`` (N, ...) with values in [0, 1]; ``noise`` (N, z) or a function of z giving it
    (drawn once the encoder has told z).
    """
    batch_size = check_int("batch_size", batch_size, minimum=1)
    mus, logvars = [], []
    for start in range(0, len(images), batch_size):
        mu, logvar = split_encoding(
            encode(encoder_input(images[start : start + batch_size], encode))
        )
        if logvar is None:
            raise InputError("the held-out ELBO needs log-variances; the encoder returned mu only")
        mus.append(check_codes(mu, "encoder means"))
        logvars.append(check_codes(np.reshape(logvar, np.shape(mu)), "encoder log-variances"))
    mu, logvar = np.concatenate(mus), np.concatenate(logvars)
    eps = noise(mu.shape[1]) if callable(noise) else np.asarray(noise, dtype=np.float64)
    if eps.shape != mu.shape:
        raise InputError(f"noise must have the codes' shape {mu.shape}, got {eps.shape}")
    z = mu + np.exp(0.5 * logvar) * eps
    nll = np.empty(len(images))
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        probs = np.asarray(decode(z[start : start + batch_size].astype(np.float32)))
        if probs.size != batch.size:
            raise InputError(
                f"decode returned shape {probs.shape} for images of shape {batch.shape}"
            )
        nll[start : start + len(batch)] = bernoulli_nll(batch, probs)
    return nll, kl_per_image(mu, logvar)


def heldout_elbo(
    encode: Callable[[np.ndarray], Any],
    decode: Callable[[np.ndarray], np.ndarray],
    data: Images,
    train_indices: np.ndarray,
    num_images: int = HELDOUT_IMAGES,
    seed: int = 0,
    *,
    batch_size: int = BATCH_SIZE,
) -> HeldoutResult:
    """The ELBO's terms on ``num_images`` grid images outside ``train_indices``.

    Args:
        encode: images float32 (N, 64, 64, 1) in [0, 1] -> ``(mu, logvar)`` (or a dict with
            them, as a SavedModel signature returns).
        decode: z float32 (N, z) -> pixel probabilities (N, 64, 64, 1).
        data: the ground truth (``num_images``, ``images_at``).
        train_indices: the image indices the model trained on, e.g.
            ``kbetavae.data.pipeline.subset_indices(data, subset, seed)[0]``.
        num_images: held-out images to score.
        seed: seed of the image draw and of the z samples.
        batch_size: images per encoder/decoder call.

    Example:
        >>> train, _ = subset_indices(data, 50_000, seed=0)  # doctest: +SKIP
        >>> heldout_elbo(graph_encoder(m), graph_decoder(m), data, train).elbo  # doctest: +SKIP
    """
    rng = np.random.default_rng(seed)
    index = heldout_indices(data.num_images, train_indices, num_images, rng)
    images = np.asarray(data.images_at(index))
    nll, kl = elbo_terms(
        encode, decode, images, lambda z: rng.standard_normal((len(index), z)), batch_size
    )
    elbo = -(nll + kl.sum(axis=1))
    return HeldoutResult(
        reconstruction=float(np.mean(nll)),
        kl=float(np.mean(kl.sum(axis=1))),
        elbo=float(np.mean(elbo)),
        elbo_se=float(np.std(elbo, ddof=1) / np.sqrt(len(elbo))) if len(elbo) > 1 else float("nan"),
        kl_per_latent=np.mean(kl, axis=0),
        num_images=len(index),
        seed=seed,
    )
