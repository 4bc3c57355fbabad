"""A tiny study grid trained through the CLI: two objectives (β-VAE and DIP-VAE-I, which
fuse) × two seeds, one epoch on 1,000 images, evaluated on 100 points; UDR per setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

KBETAVAE = [sys.executable, "-m", "cli.main"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
GRID = ("--objective", "beta:4", "--objective", "dipvae-i:10")
SEEDS = "0,1"
SETTINGS = ("beta=4", "dipvae_i_lambda_od=10")


def run_grid_sweep(tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    """``kbetavae sweep`` of the grid into ``tmp/runs/grid``."""
    command = [
        *KBETAVAE,
        "sweep",
        *GRID,
        "--seeds",
        SEEDS,
        "--epochs",
        "1",
        "--subset",
        "1000",
        "--eval-points",
        "100",
        "--quiet",
        "--out",
        str(tmp / "runs"),
        "--saved-models",
        str(tmp / "sm"),
        "--name",
        "grid",
        *extra,
    ]
    return subprocess.run(command, capture_output=True, text=True, env=ENV, cwd=tmp, timeout=1500)
