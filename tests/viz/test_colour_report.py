"""A tiny ``sweep --data color-dsprites`` through report.html: its figures are in colour.

The run is far too short to learn anything (its reconstructions are grey), so the colour
the checks look for is the data's: the reconstructions figure's input row, the samples the
report shows. The browser check is skipped without headless Chromium, as in
tests/viz/test_html_report_browser.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kbetavae.viz.html_report import REPORT_FILE

from .test_html_report_browser import BROWSER, _chromium

pytestmark = pytest.mark.slow
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}


def colourful(pixels: np.ndarray) -> float:
    """The share of pixels (H, W, 3, uint8) that are clearly not grey."""
    pixels = pixels.astype(int)
    return float(((pixels.max(axis=2) - pixels.min(axis=2)) > 40).mean())


@pytest.fixture(scope="module")
def colour_sweep(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("colour")
    command = [sys.executable, "-m", "cli.main", "sweep", "--data", "color-dsprites"]
    command += ["--betas", "1", "--seeds", "0", "--epochs", "1", "--subset", "256"]
    command += ["--eval-points", "100", "--quiet", "--name", "c"]
    command += ["--out", str(tmp / "runs"), "--saved-models", str(tmp / "sm")]
    done = subprocess.run(command, capture_output=True, text=True, env=ENV, cwd=tmp, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return tmp / "runs" / "c"


def test_the_sweep_trains_a_three_channel_model_and_says_its_pixel_count(colour_sweep):
    from kbetavae.trained.load import load_model

    model = load_model(colour_sweep / "beta=1_seed=0")
    assert model.image_shape == (64, 64, 3) and model.binary is False
    html = (colour_sweep / REPORT_FILE).read_text()
    assert "summed over 12288 pixels" in html


def test_the_reconstructions_figure_shows_the_coloured_inputs(colour_sweep):
    figure = np.asarray(Image.open(colour_sweep / "figures" / "reconstructions.png").convert("RGB"))
    assert colourful(figure) > 0.002


def test_traverse_draws_a_colour_run_on_its_own_data(colour_sweep, tmp_path):
    # No --data: the run's. Plain dSprites, the default before, does not fit the model.
    command = [sys.executable, "-m", "cli.main", "traverse", str(colour_sweep / "beta=1_seed=0")]
    command += ["--kl-points", "100", "--steps", "3"]
    done = subprocess.run(command, capture_output=True, text=True, env=ENV, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "traversal.png").stat().st_size > 0
    told = subprocess.run(command + ["--data", "dsprites"], capture_output=True, text=True, env=ENV)
    assert told.returncode == 2
    wrong = "images must have shape (N, 64, 64, 3), got (1, 64, 64, 1)"
    assert told.stderr == f"kbetavae: error: {wrong}\n"


@pytest.mark.skipif(BROWSER is None, reason="no headless Chromium on PATH")
def test_the_browser_shows_the_report_with_images_in_colour(colour_sweep, tmp_path):
    html = (colour_sweep / REPORT_FILE).read_text()
    assert html.count("<img ") >= 3
    shot = tmp_path / "report.png"
    _chromium(
        tmp_path,
        "--window-size=1280,4000",
        "--hide-scrollbars",
        f"--screenshot={shot}",
        (colour_sweep / REPORT_FILE).as_uri(),
    )
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    grey = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert grey.std() > 20  # not blank
    assert colourful(pixels) > 0.0005  # not grey-only: the coloured sprites show
