"""The tables of a published report, generated from its ``results.csv``, never typed.

A report (``docs/results/README.md``) marks each generated table with a pair of comments::

    <!-- table:summary -->
    ...generated markdown...
    <!-- /table:summary -->

:func:`update_report` regenerates every marked table from the files beside the report —
``results.csv`` (the sweep's) and, for the comparison, ``study_table.csv`` (the study's
published Table 1, one row per β) — and :func:`stale_tables` says which differ, so a test
keeps the report and its data in step. Run ``python -m kbetavae.study.published DIR``
after a new sweep.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import sys
from collections.abc import Callable, Sequence

from kbetavae import io as kio
from kbetavae.study.results import read_results, summary_markdown
from kbetavae.study.statistics import summarise

REPORT_FILE = "README.md"
STUDY_TABLE = "study_table.csv"
_BLOCK = re.compile(r"(<!-- table:(\w+) -->\n)(.*?)(<!-- /table:\2 -->)", re.S)


def comparison_markdown(rows: Sequence[dict], study: dict[float, dict[str, float]]) -> str:
    """Ours beside the study's, per β: MIG, Z-diff, Modularity (ours as the summary shows
    them: one seed's value, or mean [95 % interval] over seeds)."""
    metrics = ("mig", "zdiff", "modularity")
    titles = {"mig": "MIG", "zdiff": "Z-diff", "modularity": "Modularity"}
    head = ["β", "n"] + [f"{titles[m]} ({who})" for m in metrics for who in ("ours", "study")]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for summary in summarise(rows, metrics):
        beta = summary["beta"]
        cells = [f"{beta:g}" + (" (baseline)" if beta == 1.0 else ""), str(summary["done"])]
        for metric in metrics:
            ours = summary.get(metric)
            cells.append(_short(ours) if ours is not None else "—")
            theirs = study.get(beta, {}).get(metric)
            cells.append(
                "—" if theirs is None else "nan" if math.isnan(theirs) else f"{theirs:.4f}"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _value(value: float | None) -> str:
    if value is None:
        return "—"
    return "nan" if math.isnan(value) else f"{value:.4f}"


def _short(estimate) -> str:
    if estimate.n == 1:
        return f"{estimate.mean:.4f}"
    return f"{estimate.mean:.4f} [{estimate.low:.4f}, {estimate.high:.4f}]"


def read_study_table(path: str) -> dict[float, dict[str, float]]:
    """The study's Table 1 (β → metric → value; ``nan`` where it printed nan)."""
    table = {}
    for row in csv.DictReader(io.StringIO(kio.read_text(path))):
        table[float(row.pop("beta"))] = {k: float(v) for k, v in row.items()}
    return table


def generators(results_dir: str) -> dict[str, Callable[[], str]]:
    """The tables a report may mark, by name, each drawn from ``results_dir``'s files."""

    def rows() -> list[dict]:
        return read_results(results_dir)

    def study() -> dict[float, dict[str, float]]:
        return read_study_table(os.path.join(results_dir, STUDY_TABLE))

    return {
        "summary": lambda: summary_markdown(rows()),
        "comparison": lambda: comparison_markdown(rows(), study()),
    }


def render(report: str, results_dir: str) -> str:
    """``report`` with every marked table regenerated."""
    tables = generators(results_dir)

    def replace(match: re.Match) -> str:
        name = match.group(2)
        if name not in tables:
            raise KeyError(f"unknown table {name!r}; known: {', '.join(tables)}")
        return match.group(1) + tables[name]() + match.group(4)

    return _BLOCK.sub(replace, report)


def stale_tables(results_dir: str) -> list[str]:
    """Names of the report's marked tables that differ from what the data give."""
    report = kio.read_text(os.path.join(results_dir, REPORT_FILE))
    fresh = {m.group(2): m.group(3) for m in _BLOCK.finditer(render(report, results_dir))}
    return [m.group(2) for m in _BLOCK.finditer(report) if fresh[m.group(2)] != m.group(3)]


def update_report(results_dir: str) -> list[str]:
    """Regenerate the marked tables of ``results_dir``/README.md; return their names."""
    path = os.path.join(results_dir, REPORT_FILE)
    report = kio.read_text(path)
    kio.write_text_atomic(path, render(report, results_dir))
    return [m.group(2) for m in _BLOCK.finditer(report)]


if __name__ == "__main__":
    directory = sys.argv[1] if len(sys.argv) > 1 else os.path.join("docs", "results")
    print("regenerated:", ", ".join(update_report(directory)) or "no marked tables")
