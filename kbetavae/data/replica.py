"""A procedural replica of dSprites, rendered on demand.

The real file cannot be downloaded on offline machines, so kbetavae draws the same images
from the geometry fitted to real dSprites frames (see the data issue): a pixel is on iff its
centre lies inside the ideal shape. Anchors run 16..48 px, shapes reach at most 13.6 px
from the anchor (the square's half-diagonal at scale 1), so every shape is drawn inside a
32x32 window around its anchor and pasted into the 64x64 canvas; this quarter-size window
is what makes the whole-grid render fast.
"""

from __future__ import annotations

import numpy as np

from kbetavae.data import factors as grid
from kbetavae.data.ground_truth import GroundTruthData

CANVAS = 64
WINDOW = 32
SQUARE_HALF_SIDE = 9.6
ELLIPSE_SEMI_AXES = (12.76, 7.215)
HEART_VERTICES = 256  # even, so t = 0 (the cusp) and t = pi (the point) are vertices

_SCALES = np.linspace(0.5, 1.0, 6)
_ANGLES = np.linspace(0.0, 2.0 * np.pi, 40)
_POSITIONS = np.linspace(0.0, 1.0, 32)
_WINDOW_CENTRES = np.arange(WINDOW) + 0.5


def heart_polygon(num_vertices: int = HEART_VERTICES) -> np.ndarray:
    """Vertices (M, 2) of the unit-scale heart in shape-local (u right, v up) coordinates."""
    t = 2.0 * np.pi * np.arange(num_vertices) / num_vertices
    u = 9.594 * np.sin(t) ** 3
    v = 0.66227 * (13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return np.stack([u, v + 1.4364], axis=1)


def _heart_chains() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The right half of the heart polygon as two chains monotone in v.

    From the cusp (t = 0) v rises to the top of the lobe, then falls to the point (t = pi).
    Each chain is a function u(v), and linear interpolation between its vertices *is* the
    polygon edge, so ``np.interp`` gives an exact point-in-polygon test in two calls.
    """
    right = heart_polygon()[: HEART_VERTICES // 2 + 1]
    top = int(np.argmax(right[:, 1]))
    inner = right[: top + 1]  # v increasing: cusp -> lobe top
    outer = right[top:][::-1]  # reversed so v increases: point -> lobe top
    return inner[:, 1], inner[:, 0], outer[:, 1], outer[:, 0]


_INNER_V, _INNER_U, _OUTER_V, _OUTER_U = _heart_chains()


def _inside_heart(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    a = np.abs(u)  # the heart is mirror-symmetric in u
    within_outer = (
        (v >= _OUTER_V[0]) & (v <= _OUTER_V[-1]) & (a <= np.interp(v, _OUTER_V, _OUTER_U))
    )
    in_notch = (v > _INNER_V[0]) & (a < np.interp(v, _INNER_V, _INNER_U))
    return within_outer & ~in_notch


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    if shape == 0:
        return np.maximum(np.abs(u), np.abs(v)) <= SQUARE_HALF_SIDE
    if shape == 1:
        a, b = ELLIPSE_SEMI_AXES
        return (u / a) ** 2 + (v / b) ** 2 <= 1.0
    return _inside_heart(u, v)


def render(factors: np.ndarray) -> np.ndarray:
    """Render uint8 {0, 1} images (N, 64, 64, 1) for dSprites factor class indices (N, 5).

    Vectorised over the batch: the only Python loop is over the three shapes.
    """
    f = grid.check_factors(factors)
    n = f.shape[0]
    scale = _SCALES[f[:, 1]]
    angle = _ANGLES[f[:, 2]]
    cx = 16.0 + 32.0 * _POSITIONS[f[:, 3]]
    cy = 16.0 + 32.0 * _POSITIONS[f[:, 4]]
    col0 = np.rint(cx).astype(np.int64) - WINDOW // 2
    row0 = np.rint(cy).astype(np.int64) - WINDOW // 2
    # Offsets of the window's pixel centres from the anchor: dx to the right, dy upwards.
    dx = (col0[:, None] + _WINDOW_CENTRES) - cx[:, None]
    dy = cy[:, None] - (row0[:, None] + _WINDOW_CENTRES)
    # Shape-local coordinates, divided by the scale so one unit-scale outline serves all.
    cos = (np.cos(angle) / scale)[:, None]
    sin = (np.sin(angle) / scale)[:, None]
    u = (dx * cos)[:, None, :] + (dy * sin)[:, :, None]
    v = (dy * cos)[:, :, None] - (dx * sin)[:, None, :]

    window = np.zeros((n, WINDOW, WINDOW), dtype=bool)
    for shape in range(3):
        rows = np.flatnonzero(f[:, 0] == shape)
        if rows.size:
            window[rows] = _inside(shape, u[rows], v[rows])

    out = np.zeros((n, CANVAS, CANVAS), dtype=np.uint8)
    span = np.arange(WINDOW)
    out[
        np.arange(n)[:, None, None],
        (row0[:, None] + span)[:, :, None],
        (col0[:, None] + span)[:, None, :],
    ] = window
    return out[..., None]


class ReplicaData(GroundTruthData):
    """dSprites rendered on demand: deterministic, offline, no file needed."""

    name = "replica"

    def images_at(self, index: np.ndarray) -> np.ndarray:
        return render(self.factors(index))

    def images(self, factors: np.ndarray) -> np.ndarray:
        return render(factors)
