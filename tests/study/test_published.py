"""The published report's tables are generated from its results.csv, never typed."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbetavae.study import published
from kbetavae.study.results import read_results, results_markdown

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"


def test_the_published_tables_match_the_published_data():
    assert published.stale_tables(str(RESULTS)) == []


def test_results_md_is_what_results_csv_gives():
    rows = read_results(str(RESULTS))
    assert (RESULTS / "results.md").read_text() == results_markdown(rows)


def test_a_hand_edited_table_is_found_stale(tmp_path):
    for name in ("results.csv", "study_table.csv", "README.md"):
        (tmp_path / name).write_text((RESULTS / name).read_text())
    report = (tmp_path / "README.md").read_text()
    edited = report.replace("| 0.0527 |", "| 0.9999 |", 1)
    assert edited != report
    (tmp_path / "README.md").write_text(edited)
    assert published.stale_tables(str(tmp_path)) == ["comparison"]
    published.update_report(str(tmp_path))
    assert (tmp_path / "README.md").read_text() == report


def test_an_unknown_table_name_is_an_error(tmp_path):
    with pytest.raises(KeyError, match="unknown table 'nope'"):
        published.render("<!-- table:nope -->\n<!-- /table:nope -->", str(tmp_path))
