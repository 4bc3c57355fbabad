"""Known answers for the replica, from real dSprites frames (see the data issue)."""

import numpy as np
import pytest
from matplotlib.path import Path

from kbetavae.data import factors as grid
from kbetavae.data import open_source
from kbetavae.data.replica import _inside_heart, heart_polygon, render

# On-pixel counts at posX = posY = 0, orientation 0, scale classes 0..5, measured on the
# real dataset's frames.
REAL_COUNTS = {
    0: [100, 144, 196, 256, 324, 400],  # square
    1: [76, 104, 144, 184, 228, 288],  # ellipse
    2: [58, 84, 108, 140, 182, 222],  # heart, matched within +-2
}


@pytest.mark.parametrize("shape", [0, 1, 2])
def test_pixel_counts_match_the_real_frames(shape):
    factors = np.array([[shape, s, 0, 0, 0] for s in range(6)])
    counts = render(factors).reshape(6, -1).sum(axis=1)
    tolerance = 2 if shape == 2 else 0
    assert np.all(np.abs(counts - REAL_COUNTS[shape]) <= tolerance), counts.tolist()


def test_images_are_binary_uint8_of_the_documented_shape():
    images = render(grid.factors_of(np.arange(0, grid.NUM_IMAGES, 9973)))
    assert images.dtype == np.uint8 and images.shape[1:] == (64, 64, 1)
    assert set(np.unique(images)) <= {0, 1}


@pytest.mark.slow
def test_whole_grid_mean_pixel_matches_the_real_dataset():
    """The real dataset's mean pixel is 0.042494; the replica must be within 1e-5."""
    total = 0
    for start in range(0, grid.NUM_IMAGES, 16384):
        batch = grid.factors_of(np.arange(start, min(start + 16384, grid.NUM_IMAGES)))
        total += int(render(batch).sum(dtype=np.int64))
    mean = total / (grid.NUM_IMAGES * 64 * 64)
    assert abs(mean - 0.042494) < 1e-5, mean


def test_orientation_0_and_39_are_the_same_image():
    rng = np.random.default_rng(0)
    factors = np.stack([rng.integers(0, s, 500) for s in grid.FACTOR_SIZES], axis=1)
    factors[:, 2] = 0
    turned = factors.copy()
    turned[:, 2] = 39
    assert np.array_equal(render(factors), render(turned))


def _centroid(image):
    rows, cols = np.nonzero(image[..., 0])
    return cols.mean() + 0.5, rows.mean() + 0.5


def test_position_moves_the_shape_right_and_down():
    # posX = 0 is the left edge, posY = 0 the top; the anchor is 16 + 32 * pos.
    left_top = render(np.array([[0, 5, 0, 0, 0]]))[0]
    right_bottom = render(np.array([[0, 5, 0, 31, 31]]))[0]
    assert _centroid(left_top) == pytest.approx((16, 16), abs=0.01)
    assert _centroid(right_bottom) == pytest.approx((48, 48), abs=0.01)


def test_positive_orientation_turns_counter_clockwise_as_displayed():
    # An ellipse at theta = 1/4 turn (class 10 of 0..39 -> 10/39 * 2pi, just under 90
    # degrees) stands almost upright; a small positive turn tilts its right end upwards.
    flat = render(np.array([[1, 5, 0, 15, 15]]))[0, ..., 0]
    upright = render(np.array([[1, 5, 10, 15, 15]]))[0, ..., 0]
    assert np.ptp(np.nonzero(flat)[1]) > np.ptp(np.nonzero(flat)[0])
    assert np.ptp(np.nonzero(upright)[0]) > np.ptp(np.nonzero(upright)[1])
    tilted = render(np.array([[1, 5, 2, 15, 15]]))[0, ..., 0]
    rows, cols = np.nonzero(tilted)
    cx = cols.mean()
    # pixels right of centre sit higher (smaller row) than pixels left of it
    assert rows[cols > cx + 5].mean() < rows[cols < cx - 5].mean()


def test_heart_has_lobes_up_and_point_down():
    heart = render(np.array([[2, 5, 0, 15, 15]]))[0, ..., 0]
    rows, cols = np.nonzero(heart)
    top_row, bottom_row = rows.min(), rows.max()
    assert (heart[top_row] > 0).sum() < (heart[rows.mean().astype(int)] > 0).sum()
    assert (heart[bottom_row] > 0).sum() <= 2  # the point


def test_heart_test_equals_a_polygon_library_on_random_points():
    """Our two-chain interpolation is an exact point-in-polygon test for the heart."""
    rng = np.random.default_rng(1)
    points = rng.uniform(-12, 12, size=(200_000, 2))
    expected = Path(heart_polygon()).contains_points(points)
    ours = _inside_heart(points[:, 0], points[:, 1])
    # Points on an edge may go either way in either implementation.
    assert (ours != expected).mean() < 1e-4


def test_replica_source_fulfils_the_contract():
    data = open_source("replica")
    factors, images = data.sample(16, rng=3)
    assert factors.shape == (16, 5) and images.shape == (16, 64, 64, 1)
    assert np.array_equal(data.images(factors), images)
    assert np.array_equal(data.images_at(data.index(factors)), images)
    assert np.array_equal(data.factors(data.index(factors)), factors)


def test_sampling_is_seeded():
    data = open_source("replica")
    assert np.array_equal(data.sample_factors(50, 7), data.sample_factors(50, 7))
    assert not np.array_equal(data.sample_factors(50, 7), data.sample_factors(50, 8))
