"""The measured motion of every latent traversal of a sweep, one CSV row per (run, latent).

The published page must say what the traversals show measured, not guessed (issue 11: a
referee found "z2 and z6 move the sprite along the two axes" false — they moved at about
26° and 58°). For every finished run this decodes the traversal the sweep's figures draw
(the reference image of :data:`~kbetavae.metrics.traversal_motion.FIGURE_FACTORS`, its
encoder mean as the base code, each latent over the figure's values) and measures it with
:mod:`kbetavae.metrics.traversal_motion`. A latent is active as in ``metrics.json``:
its ``kl_per_latent`` exceeds 0.01 nats.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from kbetavae import io as kio
from kbetavae.errors import InputError
from kbetavae.metrics.traversal_motion import (
    LatentMotion,
    figure_image_index,
    traversal_motion,
)
from kbetavae.study.results import read_plan, read_results, sweep_run_dirs
from kbetavae.training.rundir import dir_name, read_metrics

MOTION_CSV = "traversal_motion.csv"
MOTION_COLUMNS = (
    "run",
    "beta",
    "seed",
    "latent",
    "active",
    "kl",
    "angle_deg",
    "extent_px",
    "straightness",
    "size_change",
    "mass_change",
    "turn_deg",
    "vanished",
)
# A long move: at β ≥ 2.5 in the published study a position latent carries the sprite
# 16-40 px, most of its travel; at β ≤ 1 position is often split over more latents of 8-16 px
# each (docs/results/traversal_motion.csv). Chosen on that data: a split by it describes.
LONG_MOVE_PX = 15.0
# Along an image axis: a direction within this of 0° or 90°, the replica's posX and posY.
AXIS_TOLERANCE_DEG = 10.0


def reference_image(data, image_index: int | None = None) -> tuple[int, np.ndarray]:
    """``(index, image (1, 64, 64, 1) float32)`` of the traversal figure's input image."""
    if image_index is None:
        image_index = figure_image_index(data)
    if not 0 <= image_index < data.num_images:
        raise InputError(f"image_index must be in [0, {data.num_images}), got {image_index}")
    return image_index, data.images_at(np.array([image_index])).astype(np.float32)


def run_motion(run_dir: str, image: np.ndarray) -> list[LatentMotion]:
    """Every latent's motion in the traversal of ``image`` by the model of ``run_dir``."""
    from kbetavae.trained.load import graph_decoder, load_model

    model = load_model(run_dir)
    record = read_metrics(run_dir) or {}
    kl = record.get("kl_per_latent")

    # One image, encoded eagerly as the figure encodes it: trained.load.graph_encoder's fast
    # path compiles per model (about 7 s here), for a single forward pass.
    def encode(images: np.ndarray):
        mu, logvar = model.encode(images)
        return np.asarray(mu), np.asarray(logvar)

    return traversal_motion(graph_decoder(model), encode, image, kl)


def sweep_motion(sweep_dir: str, data=None, image_index: int | None = None) -> list[dict]:
    """Rows of :data:`MOTION_COLUMNS` for every finished run of the sweep in ``sweep_dir``."""
    done = {(r["beta"], r["seed"]) for r in read_results(sweep_dir) if r.get("status") == "done"}
    runs = [(b, s, d) for b, s, d in sweep_run_dirs(sweep_dir) if (b, s) in done]
    if not runs:
        raise InputError(f"{sweep_dir} has no finished runs to measure")
    data = data if data is not None else read_plan(sweep_dir).base.open_data()
    _, image = reference_image(data, image_index)
    rows = []
    for beta, seed, run_dir in runs:
        for motion in run_motion(run_dir, image):
            rows.append(motion_row(dir_name(run_dir), beta, seed, motion))
    return rows


def write_sweep_motion(sweep_dir: str, image_index: int | None = None) -> str:
    """Measure every finished run's traversal and write ``<sweep_dir>/traversal_motion.csv``
    (what the report's summary reads); its path."""
    path = os.path.join(sweep_dir, MOTION_CSV)
    write_motion_csv(sweep_motion(sweep_dir, image_index=image_index), path)
    return path


def motion_row(run: str, beta: float, seed: int, motion: LatentMotion) -> dict[str, Any]:
    """One CSV row: the run, then the motion's fields named as :data:`MOTION_COLUMNS`."""
    fields = {name: getattr(motion, name) for name in MOTION_COLUMNS[3:]}
    return {"run": run, "beta": beta, "seed": seed, **fields}


def write_motion_csv(rows: Sequence[dict], path: str) -> None:
    """Write ``rows`` to ``path`` atomically; NaN and None are empty cells."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MOTION_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({column: _cell(row.get(column)) for column in MOTION_COLUMNS})
    kio.write_text_atomic(path, buffer.getvalue())


def read_motion_csv(path: str) -> list[dict[str, str]]:
    """The rows of a :data:`MOTION_CSV` as written (cells as text); InputError if its
    columns are not :data:`MOTION_COLUMNS`."""
    reader = csv.DictReader(io.StringIO(kio.read_text(path)))
    if tuple(reader.fieldnames or ()) != MOTION_COLUMNS:
        raise InputError(f"{path} does not have the columns of {MOTION_CSV}")
    return list(reader)


def is_long_move(row: dict[str, str], long_px: float = LONG_MOVE_PX) -> bool:
    """Whether a :data:`MOTION_CSV` row is an active latent moving the sprite at least
    ``long_px`` (:data:`LONG_MOVE_PX`) in a measured direction."""
    moved = row["angle_deg"] != "" and row["extent_px"] != ""
    return row["active"] != "False" and moved and float(row["extent_px"]) >= long_px


def along_axis(angle_deg: float, tolerance: float = AXIS_TOLERANCE_DEG) -> bool:
    """Whether a direction in (-90, 90] degrees lies within ``tolerance`` of the x or y axis."""
    folded = abs(angle_deg)
    return min(folded, 90.0 - folded) <= tolerance


def motion_summary(rows: Sequence[dict]) -> list[str]:
    """One line per run: how each of its active latents moves the sprite."""
    lines: dict[str, list[str]] = {}
    for row in rows:
        parts = lines.setdefault(row["run"], [])
        if row["active"] is False:  # None (no KL recorded): every latent is listed
            continue
        if math.isnan(row["angle_deg"]):
            what = f"no movement, size range {row['size_change']:.0%}"
        else:
            what = f"{row['angle_deg']:.0f}° over {row['extent_px']:.1f} px"
        parts.append(f"z{row['latent']} {what}")
    return [f"{run}: {'; '.join(parts) or 'no active latent'}" for run, parts in lines.items()]


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
