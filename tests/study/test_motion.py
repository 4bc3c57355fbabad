"""``kbetavae motion``: a CSV row per (finished run, latent) describing the report's traversal.

The sweep is built from files as tests/viz/conftest.py builds its own: an untrained
BetaVAE in every finished run and a metrics.json with made-up per-latent KL, no training.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from kbetavae.data import open_source
from kbetavae.metrics.inputs import ACTIVE_KL_NATS
from kbetavae.metrics.traversal_motion import motion_of_images
from kbetavae.study.motion import (
    MOTION_COLUMNS,
    along_axis,
    is_long_move,
    motion_summary,
    reference_image,
)
from kbetavae.viz.traversals import traversal_grid

LATENTS = 4
RUNS = {(1.0, 0): "done", (4.0, 0): "done", (4.0, 1): "failed"}


def kl_of(beta: float) -> list[float]:
    return [1.5 / beta, 0.3 / beta, 0.02, 1e-4]  # the last latent is inactive


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    import keras

    from kbetavae import BetaVAE
    from kbetavae.study.plan import SweepPlan
    from kbetavae.study.results import write_results
    from kbetavae.training.rundir import run_name

    root = tmp_path_factory.mktemp("motion")
    plan = SweepPlan.of(
        name="m", betas=(1.0, 4.0), seeds=(0, 1), epochs=1, subset=64, latent_dim=LATENTS
    )
    sweep_dir = root / "m"
    sweep_dir.mkdir()
    (sweep_dir / "sweep.json").write_text(json.dumps({"plan": plan.to_dict()}))
    model = BetaVAE(latent_dim=LATENTS, seed=0)
    model(np.zeros((1, 64, 64, 1), np.float32))
    keras.saving.save_model(model, root / "model.keras")
    rows = []
    for (beta, seed), status in RUNS.items():
        run_dir = sweep_dir / run_name(plan.base.replace(beta=beta, seed=seed))
        run_dir.mkdir()
        rows.append({"beta": beta, "seed": seed, "status": status, "epochs": 1})
        if status == "done":
            shutil.copy(root / "model.keras", run_dir / "model.keras")
            record = {"seed": seed, "kl_per_latent": kl_of(beta), "active_latents_method": "kl"}
            (run_dir / "metrics.json").write_text(json.dumps(record))
    write_results(str(sweep_dir), rows)
    return sweep_dir


def read_csv(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames), list(reader)


@pytest.fixture(scope="module")
def written(sweep, tmp_path_factory):
    """``kbetavae motion <sweep> --out <csv>``: (CliRunner result, csv path)."""
    out = tmp_path_factory.mktemp("out") / "motion.csv"
    return CliRunner().invoke(app, ["motion", str(sweep), "--out", str(out)]), out


def test_the_cli_writes_one_row_per_latent_of_every_finished_run(written):
    result, out = written
    assert result.exit_code == 0, result.output
    columns, rows = read_csv(out)
    assert columns == list(MOTION_COLUMNS)
    assert [(float(r["beta"]), r["seed"], r["latent"]) for r in rows] == [
        (beta, "0", str(latent)) for beta in (1.0, 4.0) for latent in range(LATENTS)
    ]
    for row in rows:
        kl = kl_of(float(row["beta"]))[int(row["latent"])]
        assert float(row["kl"]) == pytest.approx(kl)
        assert row["active"] == str(kl > ACTIVE_KL_NATS)
    assert f"wrote {out} ({len(rows)} rows)" in result.output


def test_the_rows_measure_the_traversal_the_report_draws(sweep, written):
    """kbetavae.viz.report decodes the figure eagerly; the CSV through trained.load's graph
    decoder: the same images to float rounding, so the same numbers."""
    from kbetavae.trained.load import load_model

    _, rows = read_csv(written[1])
    model = load_model(sweep / "beta=1_seed=0")
    _, image = reference_image(open_source("replica"))
    mu = np.asarray(model.encode(image)[0])[0]
    grid, _ = traversal_grid(lambda z: np.asarray(model.decode(z))[..., 0], mu)
    for latent in range(LATENTS):
        row = rows[latent]
        assert (row["run"], row["latent"]) == ("beta=1_seed=0", str(latent))
        expected = motion_of_images(grid[latent], latent)
        for column in ("extent_px", "size_change", "mass_change"):
            measured = getattr(expected, column)
            assert float(row[column]) == pytest.approx(measured, rel=1e-3, abs=1e-5), column
        assert (row["angle_deg"] == "") == math.isnan(expected.angle_deg)


def test_a_directory_that_is_not_a_sweep_is_one_line_and_exit_2(tmp_path):
    result = CliRunner().invoke(app, ["motion", str(tmp_path)])
    assert result.exit_code == 2
    assert "is not a sweep directory" in result.output
    assert "Traceback" not in result.output


def test_an_image_index_off_the_grid_names_the_flag(sweep, tmp_path):
    out = tmp_path / "never.csv"
    args = ["motion", str(sweep), "--image-index", "-1", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "--image-index must be in [0, 737280)" in result.output
    assert not out.exists()


def test_the_summary_lists_active_latents_by_how_they_move():
    def row(latent, active, angle, extent=20.0, size=0.0):
        return {
            "run": "r",
            "latent": latent,
            "active": active,
            "angle_deg": angle,
            "extent_px": extent,
            "size_change": size,
        }

    rows = [row(0, True, 26.04, 18.26), row(1, True, math.nan, 0.1, 0.5), row(2, False, 58.0)]
    rows += [{**row(0, None, -45.0, 3.0), "run": "no-kl"}]
    assert motion_summary(rows) == [
        "r: z0 26° over 18.3 px; z1 no movement, size range 50%",
        "no-kl: z0 -45° over 3.0 px",
    ]


def test_along_axis_folds_both_signs_onto_both_axes():
    assert along_axis(-9.9) and along_axis(9.9) and along_axis(80.5) and along_axis(-85.0)
    assert not along_axis(10.5) and not along_axis(45.0) and not along_axis(-79.0)


def test_a_long_move_is_an_active_latent_moving_far_in_a_measured_direction():
    row = {"active": "True", "angle_deg": "30", "extent_px": "15"}
    assert is_long_move(row)
    assert not is_long_move({**row, "extent_px": "14.9"})
    assert not is_long_move({**row, "active": "False"})
    assert not is_long_move({**row, "angle_deg": ""})  # still: no direction measured
    assert is_long_move({**row, "active": ""})  # no KL recorded: every latent counts
