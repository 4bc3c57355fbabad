"""How the sprite moves when one latent is traversed: measured on the decoded images.

Why (issue 11): the published page said two latents at β = 5 move the sprite "along the
two axes"; a referee measured the traversal figure and found 26° and 58° from the x axis
(position encoded in a rotated basis). What a traversal shows must be measured, not read
off by eye. For each latent this module decodes the traversal the figure draws (the code of
the reference image with that latent swept over ``[-3, 3]`` in 10 steps) and reports:

- ``angle_deg``: direction of the centroid path, the principal axis of a PCA (total least
  squares) line fit, in degrees from the +x axis, folded into (-90, 90] so that paths along
  +x and -x both give 0 and vertical paths give 90;
- ``extent_px``: range of the centroid along that axis, in pixels;
- ``straightness``: fraction of the centroid's variance along that axis (1 = a line);
- ``size_change`` / ``mass_change``: (max - min) / median of the radius of gyration / of
  the mass over the steps, so a latent that scales the sprite shows here, not in extent;
- ``turn_deg``: how far the sprite's own principal axis (second moments) turns; NaN when
  the sprite is too round for second moments to have an axis (a square's are isotropic).
  A coarse reading: the replica's binary heart stepped along posX or posY alone turns its
  axis by 9-16° from pixelation, and a blurred or reshaped sprite turns it too; ten
  orientation steps (83°) read 81°;
- ``vanished``: steps whose image holds less than one pixel of mass (left out of the rest).

Coordinates: x is the column (to the right), y is ``H - 1 - row`` (up; image row 0 is the
top), both in pixels with pixel centres at integers. Pixel values are weights (decoder
probabilities or binary pixels), so a faint background haze pulls a centroid slightly
towards the canvas centre; on a trained decoder it is a few pixels' worth against a
sprite of hundreds. Pure numpy: no TensorFlow, no files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from kbetavae.errors import InputError
from kbetavae.metrics.inputs import ACTIVE_KL_NATS

# What the traversal figure draws (kbetavae.viz.traversals, kbetavae.viz.report): one home
# for both, so the measurements describe the figure the report shows.
FIGURE_LIMIT = 3.0
FIGURE_STEPS = 10
# A heart in mid-canvas at the middle scale, tilted a little: every factor is visible.
FIGURE_FACTORS = (2, 3, 5, 16, 16)

VISIBLE_MASS = 1.0  # less than one fully lit pixel: the sprite has vanished
STILL_PX = 0.5  # a centroid range under half a pixel is no visible movement
MIN_ELONGATION = 0.05  # 1 - λmin/λmax below this: second moments give no sprite axis

DecodeFn = Callable[[np.ndarray], np.ndarray]
EncodeFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]


class SpriteMoments(NamedTuple):
    """Per image (N,): mass, centroid (x right, y up; px), radius of gyration (px), the
    sprite's principal axis (degrees in (-90, 90]) and elongation (1 - λmin/λmax).
    All but ``mass`` are NaN where the image is empty (mass < :data:`VISIBLE_MASS`)."""

    mass: np.ndarray
    x: np.ndarray
    y: np.ndarray
    size: np.ndarray
    axis_deg: np.ndarray
    elongation: np.ndarray


@dataclasses.dataclass(frozen=True)
class LatentMotion:
    """What traversing one latent does to the sprite (see the module docstring)."""

    latent: int
    angle_deg: float  # NaN when the sprite does not move (extent < STILL_PX)
    extent_px: float
    straightness: float  # NaN when the sprite does not move
    size_change: float
    mass_change: float
    turn_deg: float  # NaN when the sprite has no second-moment axis
    vanished: int  # steps where the sprite vanished
    steps: int
    active: bool | None = None  # mean KL > ACTIVE_KL_NATS; None without a KL
    kl: float | None = None

    @property
    def moves(self) -> bool:
        return self.extent_px >= STILL_PX


def figure_image_index(ground_truth) -> int:
    """Dataset index of the traversal figure's input image (the sprite of FIGURE_FACTORS)."""
    return int(ground_truth.index(np.array([FIGURE_FACTORS]))[0])


def figure_values(limit: float = FIGURE_LIMIT, steps: int = FIGURE_STEPS) -> np.ndarray:
    """The swept values of the traversal figure: ``steps`` points over [-limit, limit]."""
    return np.linspace(-limit, limit, steps, dtype=np.float32)


def traversal_codes(mu: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Codes (z, steps, z): row i is ``mu`` with latent i replaced by each of ``values``."""
    mu = np.asarray(mu, dtype=np.float32).reshape(-1)
    codes = np.repeat(np.repeat(mu[None, None, :], mu.size, 0), len(values), 1)
    for i in range(mu.size):
        codes[i, :, i] = values
    return codes


def sprite_moments(images: np.ndarray) -> SpriteMoments:
    """Moments of images (N, H, W) or (N, H, W, C) of probabilities or binary pixels.

    Several channels are averaged: for color-dSprites (a sprite on black) that is the
    sprite's mass; over noisy- or scream-dSprites' backgrounds the moments are the whole
    image's, not the sprite's.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 4:
        images = images.mean(axis=-1)
    if images.ndim != 3:
        raise InputError(f"images must have shape (N, H, W[, C]), got {images.shape}")
    height, width = images.shape[1:]
    x = np.arange(width, dtype=np.float64)
    y = (height - 1) - np.arange(height, dtype=np.float64)  # row 0 is the top: y up
    mass = images.sum(axis=(1, 2))
    visible = mass >= VISIBLE_MASS
    safe = np.where(visible, mass, 1.0)  # empty images get NaN below, never a 0/0
    px = images.sum(axis=1)  # (N, W): mass per column
    py = images.sum(axis=2)  # (N, H): mass per row
    cx = px @ x / safe
    cy = py @ y / safe
    dx = x[None, :] - cx[:, None]
    dy = y[None, :] - cy[:, None]
    # Central second moments; the cross term needs the full image.
    mxx = np.einsum("nw,nw->n", px, dx**2) / safe
    myy = np.einsum("nh,nh->n", py, dy**2) / safe
    mxy = np.einsum("nhw,nh,nw->n", images, dy, dx) / safe
    size = np.sqrt(mxx + myy)
    axis = _fold(np.degrees(0.5 * np.arctan2(2 * mxy, mxx - myy)))
    spread = np.sqrt((mxx - myy) ** 2 + 4 * mxy**2)
    big, small = (mxx + myy + spread) / 2, (mxx + myy - spread) / 2
    elongation = 1.0 - np.divide(small, big, out=np.ones_like(big), where=big > 0)
    nan = np.where(visible, 1.0, np.nan)
    return SpriteMoments(mass, cx * nan, cy * nan, size * nan, axis * nan, elongation * nan)


def motion_of_images(images: np.ndarray, latent: int = 0) -> LatentMotion:
    """The motion of the sprite through the traversal ``images`` (steps, H, W[, 1])."""
    m = sprite_moments(images)
    seen = m.mass >= VISIBLE_MASS
    steps = len(m.mass)
    points = np.stack([m.x[seen], m.y[seen]], axis=1)
    angle = straightness = float("nan")
    extent = 0.0
    if len(points) >= 2:
        centred = points - points.mean(axis=0)
        variances, vectors = np.linalg.eigh(centred.T @ centred / len(points))
        direction = vectors[:, -1]  # eigh sorts ascending: the last is the principal axis
        along = centred @ direction
        extent = float(along.max() - along.min())
        if extent >= STILL_PX:
            angle = float(_fold(np.degrees(np.arctan2(direction[1], direction[0]))))
            straightness = float(variances[-1] / variances.sum())
    return LatentMotion(
        latent=int(latent),
        angle_deg=angle,
        extent_px=extent,
        straightness=straightness,
        size_change=_relative_range(m.size[seen]),
        mass_change=_relative_range(m.mass[seen]),
        turn_deg=_turn(m.axis_deg[seen], m.elongation[seen]),
        vanished=int(steps - seen.sum()),
        steps=steps,
    )


def latent_motion(
    decode: DecodeFn, z_base: np.ndarray, latent: int, values: Sequence[float]
) -> LatentMotion:
    """Decode ``z_base`` with latent ``latent`` set to each of ``values``; measure the sprite.

    Example (a decoder whose latent 0 moves a 4x4 square right, 2 px per unit):
        >>> def decode(z):
        ...     images = np.zeros((len(z), 32, 32))
        ...     for image, code in zip(images, z):
        ...         left = int(14 + 2 * code[0])
        ...         image[14:18, left : left + 4] = 1
        ...     return images
        >>> motion = latent_motion(decode, np.zeros(2), 0, [-2, -1, 0, 1, 2])
        >>> round(motion.angle_deg, 6), round(motion.extent_px, 6)
        (0.0, 8.0)
    """
    z_base = np.asarray(z_base, dtype=np.float32).reshape(-1)
    if not 0 <= latent < z_base.size:
        raise InputError(f"latent must be in [0, {z_base.size}), got {latent}")
    values = np.asarray(values, dtype=np.float32).reshape(-1)
    if values.size < 2:
        raise InputError(f"values must hold at least 2 points, got {values.size}")
    codes = traversal_codes(z_base, values)[latent]
    return motion_of_images(np.asarray(decode(codes)), latent)


def traversal_motion(
    decode: DecodeFn,
    encode: EncodeFn,
    reference_image: np.ndarray,
    kl_per_latent: Sequence[float] | None = None,
    values: Sequence[float] | None = None,
) -> list[LatentMotion]:
    """The motion of every latent in the traversal figure of ``reference_image``.

    The base code is the encoder mean of the image (as the figure's), ``values`` default to
    the figure's (:func:`figure_values`). A latent is active when its ``kl_per_latent``
    (mean KL in nats, as ``metrics.json`` records it) exceeds 0.01 nats, the project's
    definition (:mod:`kbetavae.metrics.inputs`); ``active`` is None without a KL.
    """
    image = np.asarray(reference_image, dtype=np.float32)
    image = image.reshape(1, *image.shape[-3:]) if image.ndim >= 3 else image[None, ..., None]
    mu = np.asarray(encode(image)[0], dtype=np.float32)[0]
    kl = None if kl_per_latent is None else np.asarray(kl_per_latent, dtype=np.float64)
    if kl is not None and kl.shape != mu.shape:
        raise InputError(f"kl_per_latent has {kl.size} entries for a code of {mu.size} latents")
    values = figure_values() if values is None else values
    motions = []
    for latent in range(mu.size):
        motion = latent_motion(decode, mu, latent, values)
        if kl is not None:
            motion = dataclasses.replace(
                motion, kl=float(kl[latent]), active=bool(kl[latent] > ACTIVE_KL_NATS)
            )
        motions.append(motion)
    return motions


def _fold(degrees):
    """Angles of undirected lines into (-90, 90]."""
    return 90.0 - np.mod(90.0 - np.asarray(degrees, dtype=np.float64), 180.0)


def _relative_range(values: np.ndarray) -> float:
    if len(values) == 0:
        return 0.0
    middle = float(np.median(values))
    return float((values.max() - values.min()) / middle) if middle > 0 else 0.0


def _turn(axis_deg: np.ndarray, elongation: np.ndarray) -> float:
    """Range of the sprite's axis over the steps, unwrapped (axes repeat every 180°)."""
    axes = axis_deg[elongation >= MIN_ELONGATION]
    if len(axes) < 2 or len(axes) < len(axis_deg):
        return float("nan")
    unwrapped = np.degrees(np.unwrap(np.radians(2 * axes))) / 2
    return float(unwrapped.max() - unwrapped.min())
