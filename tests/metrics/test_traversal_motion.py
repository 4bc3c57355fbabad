"""Traversal motion on decoders whose answer is known: squares drawn at exact positions.

The squares are rendered with exact pixel coverage (the overlap of each pixel with the
square), so a square fully inside the canvas has its centroid exactly at its centre and the
expected angle and extent follow from the decoder's own geometry.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from kbetavae.data import open_source
from kbetavae.errors import InputError
from kbetavae.metrics.traversal_motion import (
    FIGURE_FACTORS,
    MIN_ELONGATION,
    figure_values,
    latent_motion,
    motion_of_images,
    sprite_moments,
    traversal_motion,
)

SIZE = 64
VALUES = figure_values()  # the figure's: 10 steps over [-3, 3]
PX_PER_UNIT = 3.0  # the moving decoders shift the square 3 px per unit of z


def coverage(centre: float, half: float) -> np.ndarray:
    """(SIZE,) overlap of pixels [i - 0.5, i + 0.5] with [centre - half, centre + half]."""
    edges = np.arange(SIZE, dtype=np.float64)
    lo = np.maximum(edges - 0.5, centre - half)
    hi = np.minimum(edges + 0.5, centre + half)
    return np.clip(hi - lo, 0.0, 1.0)


def square(x: float, y: float, half: float) -> np.ndarray:
    """A square centred at (x right, y up) in pixel units; row 0 is the top (y = SIZE - 1)."""
    rows = coverage(y, half)[::-1]  # row r sits at y = SIZE - 1 - r
    return np.outer(rows, coverage(x, half))


def moving_decoder(angle_deg: float, latent: int = 0):
    """Latent ``latent`` moves a 8x8 square through the centre at ``angle_deg``."""
    direction = np.array([math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))])

    def decode(z):
        centres = 32.0 + PX_PER_UNIT * np.asarray(z)[:, latent, None] * direction
        return np.stack([square(x, y, 4.0) for x, y in centres])[..., None]

    return decode


@pytest.mark.parametrize("angle", [0.0, 26.0, 58.0, 90.0, -45.0])
def test_the_angle_and_extent_of_a_straight_path_are_the_decoders(angle):
    motion = latent_motion(moving_decoder(angle), np.zeros(3), 0, VALUES)
    assert motion.angle_deg == pytest.approx(angle, abs=1.0)
    assert motion.extent_px == pytest.approx(PX_PER_UNIT * (VALUES[-1] - VALUES[0]), abs=1e-6)
    assert motion.straightness == pytest.approx(1.0, abs=1e-9)
    # Sub-pixel phase alone changes a sampled 8-px square's radius of gyration by ~1 %.
    assert motion.size_change < 0.02
    assert motion.vanished == 0 and motion.moves


def test_a_path_along_minus_x_has_the_angle_of_one_along_plus_x():
    backwards = latent_motion(moving_decoder(180.0), np.zeros(1), 0, VALUES)
    assert backwards.angle_deg == pytest.approx(0.0, abs=1e-6)


def test_y_points_up_so_moving_towards_row_zero_as_x_grows_is_a_positive_angle():
    # Raw pixels, no renderer: one lit pixel steps one column right and one row up.
    images = np.zeros((5, SIZE, SIZE))
    for step in range(5):
        images[step, 40 - step, 10 + step] = 1.0
    assert motion_of_images(images).angle_deg == pytest.approx(45.0, abs=1e-9)
    moments = sprite_moments(images[:1])
    assert (moments.x[0], moments.y[0]) == (10.0, SIZE - 1 - 40)


def test_a_latent_that_only_scales_the_sprite_changes_its_size_not_its_place():
    sides = np.arange(6, 26, 2)  # even sides centred at 31.5: whole pixels, centroid fixed

    def decode(z):
        return np.stack([square(31.5, 31.5, side / 2) for side in sides[: len(z)]])

    motion = latent_motion(decode, np.zeros(1), 0, VALUES)
    # A binary s x s square: per axis the variance of s consecutive integers, (s^2 - 1)/12.
    radius = np.sqrt(2 * (sides**2 - 1) / 12)
    assert motion.extent_px == pytest.approx(0.0, abs=1e-9)
    assert math.isnan(motion.angle_deg) and not motion.moves
    assert motion.size_change == pytest.approx(np.ptp(radius) / np.median(radius), rel=1e-9)
    assert motion.mass_change == pytest.approx(np.ptp(sides**2) / np.median(sides**2))


def test_a_latent_that_changes_nothing_does_not_move_the_sprite():
    decode = moving_decoder(30.0, latent=1)  # latent 0 is ignored
    motion = latent_motion(decode, np.array([0.0, 1.5]), 0, VALUES)
    assert motion.extent_px == 0.0
    assert motion.size_change == 0.0 and motion.mass_change == 0.0
    assert math.isnan(motion.angle_deg) and math.isnan(motion.straightness)


def test_steps_where_the_sprite_vanishes_are_counted_and_the_rest_measured():
    moving = moving_decoder(58.0)

    def decode(z):
        images = moving(z)
        images[np.asarray(z)[:, 0] > 0] = 0.0
        return images

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 0/0 on the way
        motion = latent_motion(decode, np.zeros(1), 0, VALUES)
    visible = VALUES[VALUES <= 0]
    assert motion.vanished == np.sum(VALUES > 0)
    assert motion.angle_deg == pytest.approx(58.0, abs=1.0)
    assert motion.extent_px == pytest.approx(PX_PER_UNIT * np.ptp(visible), abs=1e-6)


def test_a_decoder_that_draws_nothing_is_flagged_without_nans_or_warnings():
    def decode(z):
        return np.zeros((len(z), SIZE, SIZE, 1))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        motion = latent_motion(decode, np.zeros(2), 1, VALUES)
        moments = sprite_moments(decode(np.zeros((2, 2))))
    assert motion.vanished == len(VALUES)
    assert motion.extent_px == 0.0 and motion.size_change == 0.0
    assert np.isnan(moments.x).all() and (moments.mass == 0).all()


def rectangle(angle_deg: float, long: float = 30.0, short: float = 10.0) -> np.ndarray:
    """A long x short rectangle at the centre, its long side at ``angle_deg``; 8x8 samples
    per pixel, so its second-moment axis is the drawn angle to a fraction of a degree."""
    fine = (np.arange(SIZE * 8) + 0.5) / 8 - 0.5
    x, y = np.meshgrid(fine, (SIZE - 1) - fine)
    a = math.radians(angle_deg)
    u = (x - 31.5) * math.cos(a) + (y - 31.5) * math.sin(a)
    v = -(x - 31.5) * math.sin(a) + (y - 31.5) * math.cos(a)
    inside = (np.abs(u) <= long / 2) & (np.abs(v) <= short / 2)
    return inside.reshape(SIZE, 8, SIZE, 8).mean(axis=(1, 3))


def test_a_rotating_sprite_turns_by_the_drawn_angle_and_stays_put():
    turns = 12.0 * VALUES  # 72° in 8° steps: unwrapping needs steps under 90°
    motion = motion_of_images(np.stack([rectangle(a) for a in turns]))
    assert motion.turn_deg == pytest.approx(np.ptp(turns), abs=1.0)
    assert motion.extent_px < 0.5


def test_a_round_sprite_has_no_axis_so_no_turn():
    motion = latent_motion(moving_decoder(0.0), np.zeros(1), 0, VALUES)
    assert sprite_moments(square(32, 32, 4)[None]).elongation[0] < MIN_ELONGATION
    assert math.isnan(motion.turn_deg)


def test_replica_sprites_stepping_along_pos_x_and_pos_y_move_at_0_and_90_degrees():
    data = open_source("replica")
    for factor, angle in ((3, 0.0), (4, 90.0)):
        factors = np.repeat(np.array([FIGURE_FACTORS]), 32, axis=0)
        factors[:, factor] = np.arange(32)
        motion = motion_of_images(data.images(factors))
        assert motion.angle_deg == pytest.approx(angle, abs=1.0)
        assert motion.straightness > 0.999


class FixedEncoder:
    def __init__(self, mu):
        self.mu = np.asarray(mu, dtype=np.float32)

    def __call__(self, images):
        return np.repeat(self.mu[None], len(images), 0), None


def test_traversal_motion_measures_every_latent_and_flags_active_ones_by_kl():
    mover_26, mover_58 = moving_decoder(26.0, 0), moving_decoder(58.0, 1)

    def decode(z):
        z = np.asarray(z)
        # latent 0 or 1 moves the square; latent 2 and 3 are ignored
        return mover_26(z) if np.ptp(z[:, 0]) > 0 else mover_58(z)

    kl = [1.2, 0.8, 0.02, 0.001]  # active: > 0.01 nats
    motions = traversal_motion(decode, FixedEncoder(np.zeros(4)), np.zeros((64, 64, 1)), kl)
    assert [m.latent for m in motions] == [0, 1, 2, 3]
    assert [m.active for m in motions] == [True, True, True, False]
    assert [m.kl for m in motions] == kl
    assert motions[0].angle_deg == pytest.approx(26.0, abs=1.0)
    assert motions[1].angle_deg == pytest.approx(58.0, abs=1.0)
    assert [m.moves for m in motions] == [True, True, False, False]
    assert all(m.steps == len(VALUES) for m in motions)


def test_bad_arguments_are_input_errors_naming_them():
    decode = moving_decoder(0.0)
    with pytest.raises(InputError, match="latent"):
        latent_motion(decode, np.zeros(2), 2, VALUES)
    with pytest.raises(InputError, match="values"):
        latent_motion(decode, np.zeros(2), 0, [1.0])
    with pytest.raises(InputError, match="images"):
        sprite_moments(np.zeros((64, 64)))
    with pytest.raises(InputError, match="kl_per_latent"):
        traversal_motion(decode, FixedEncoder(np.zeros(2)), np.zeros((64, 64)), [1.0])
