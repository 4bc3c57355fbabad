"""The synthetic sweep (``tests/synthetic_sweep.py``) with its figures and report.html."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..synthetic_sweep import build_sweep


@pytest.fixture(scope="session")
def synthetic_sweep(tmp_path_factory) -> Path:
    """The sweep directory with its figures and report.html; treat it as read-only."""
    from kbetavae.viz.html_report import write_report

    sweep_dir = build_sweep(tmp_path_factory.mktemp("report"))
    write_report(str(sweep_dir))
    return sweep_dir
