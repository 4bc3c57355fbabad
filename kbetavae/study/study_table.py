"""The study's Table 1 (Mir 2024), typed from its report and committed beside ours as
``study_table.csv``: one row per β, a column per metric, ``nan`` where it printed nan."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from kbetavae import io as kio

STUDY_TABLE = "study_table.csv"
# The committed copy, beside the study's report.
STUDY_TABLE_PATH = str(Path(__file__).resolve().parents[2] / "docs" / "results" / STUDY_TABLE)


def read_study_table(path: str) -> dict[float, dict[str, float]]:
    """The study's Table 1 (β → metric → value; ``nan`` where it printed nan)."""
    table = {}
    for row in csv.DictReader(io.StringIO(kio.read_text(path))):
        table[float(row.pop("beta"))] = {k: float(v) for k, v in row.items()}
    return table
