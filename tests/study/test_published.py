"""The published report's tables are generated from its results.csv, never typed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from kbetavae.study import published
from kbetavae.study.grid import setting_of
from kbetavae.study.publish import missing_run_files
from kbetavae.study.results import read_results, results_markdown, sweep_run_dirs
from kbetavae.training import rundir

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"
# The study's report and every report beside it (the loss-scaling test's loss-mean/).
# Reports with their runs (previous/ keeps only the first training's table and prose).
REPORTS = [
    d
    for d in (RESULTS, *sorted(RESULTS.iterdir()))
    if all((d / name).is_file() for name in ("README.md", "results.csv", "sweep.json"))
]


def test_the_checks_are_published_beside_the_study():
    # the loss-scaling test, the bf16 and colour checks, the methods, seeds 4–7 as registered
    found = [d.relative_to(RESULTS).as_posix() for d in REPORTS]
    assert found == [".", "bf16-check", "color-dsprites", "loss-mean", "methods", "preregistered"]


@pytest.mark.parametrize("report", REPORTS, ids=lambda d: d.name)
def test_the_published_tables_match_the_published_data(report):
    assert published.stale_tables(str(report)) == []


@pytest.mark.parametrize("report", REPORTS, ids=lambda d: d.name)
def test_every_run_of_the_report_is_published_with_its_files(report):
    rows = read_results(str(report))
    assert rows
    assert missing_run_files(str(report)) == []
    listed = {Path(run_dir).name for _, _, run_dir in sweep_run_dirs(str(report))}
    named = {rundir.seed_run_name(setting_of(r), r["seed"]) for r in rows}
    assert named == listed


@pytest.mark.parametrize("report", REPORTS, ids=lambda d: d.name)
def test_results_md_is_what_results_csv_gives(report):
    rows = read_results(str(report))
    assert (report / "results.md").read_text() == results_markdown(rows)


def test_a_hand_edited_table_is_found_stale(tmp_path):
    tmp_path = tmp_path / "report"
    shutil.copytree(RESULTS, tmp_path, ignore=shutil.ignore_patterns("figures", "loss-mean"))
    report = (tmp_path / "README.md").read_text()
    # The first β's MIG (ours), as a hand edit would change it.
    start = report.index("<!-- table:comparison -->")
    line = report[start:].splitlines()[3]
    cells = line.split(" | ")
    edited = report.replace(line, " | ".join([*cells[:2], "0.9999", *cells[3:]]), 1)
    assert edited != report and cells[2] != "0.9999"
    (tmp_path / "README.md").write_text(edited)
    assert published.stale_tables(str(tmp_path)) == ["comparison"]
    published.update_report(str(tmp_path))
    assert (tmp_path / "README.md").read_text() == report


def test_an_unknown_table_name_is_an_error(tmp_path):
    with pytest.raises(KeyError, match="unknown table 'nope'"):
        published.render("<!-- table:nope -->\n<!-- /table:nope -->", str(tmp_path))


def test_the_penalty_table_multiplies_each_runs_kl_by_its_beta():
    rows = [
        {"beta": 1.0, "seed": 0, "status": "done", "reconstruction": 100.0, "kl": 10.0},
        {"beta": 1.0, "seed": 1, "status": "done", "reconstruction": 102.0, "kl": 12.0},
        {"beta": 10.0, "seed": 0, "status": "done", "reconstruction": 120.0, "kl": 3.0},
        {"beta": 10.0, "seed": 1, "status": "failed", "kl": None},
    ]
    lines = published.penalty_markdown(rows).splitlines()
    assert lines[0] == "| β | n | reconstruction | KL | β·KL |"
    # β = 1: two seeds, the mean and its t interval: sd √2, so mean ± t(0.975, 1) · 1.
    half = stats.t.ppf(0.975, 1)
    kl = f"11.00 [{11 - half:.2f}, {11 + half:.2f}]"
    assert kl == "11.00 [-1.71, 23.71]"
    assert lines[2] == f"| 1 | 2 | 101.00 [{101 - half:.2f}, {101 + half:.2f}] | {kl} | {kl} |"
    # β = 10: one finished seed, its values; β·KL = 10 × 3.
    assert lines[3] == "| 10 | 1 | 120.00 | 3.00 | 30.00 |"


def test_the_order_table_calls_only_what_welch_and_holm_support():
    """Three βs of three seeds. MIG: β = 10 sits 0.3 above β = 1 and 2.5 with an sd of 0.01
    (Welch's t ≈ 37, p < 0.001 even ×3 for Holm), while β = 1 and 2.5 differ by 0.01 with
    the same sd (t ≈ 1.2: not ordered). Z-diff is the same everywhere. Each difference's
    interval: Δ ± t(0.975, 4) · √(2 · 0.01² / 3), Welch–Satterthwaite's df being 4 for
    equal sizes and sds."""
    lines = published.order_markdown(_three_betas()).splitlines()
    half = stats.t.ppf(0.975, 4) * np.sqrt(2 * 0.01**2 / 3)
    assert lines[0] == "| β pair | MIG | Z-diff |"
    assert lines[2].startswith(
        f"| 1 – 2.5 | not ordered (p 0.288, Holm 0.288; Δ +0.010 [{0.01 - half:+.3f}, "
        f"{0.01 + half:+.3f}]) |"
    )
    assert lines[3].startswith(
        f"| 1 – 10 | **10 > 1** (p < 0.001, Holm < 0.001; Δ +0.300 [{0.3 - half:+.3f}, "
        f"{0.3 + half:+.3f}]) |"
    )
    assert lines[4].startswith("| 2.5 – 10 | **10 > 2.5** (p < 0.001, Holm < 0.001; Δ +0.290 [")
    same = f"| not ordered (p 1.000, Holm 1.000; Δ +0.000 [{-half:+.3f}, {half:+.3f}]) |"
    assert all(line.endswith(same) for line in lines[2:5])
    assert lines[-1].startswith(
        "2 of 6 comparisons ordered (Welch's t-test; Holm-adjusted p < 0.05 within each metric)."
    )


def test_the_paired_order_table_removes_what_the_seeds_share():
    """The same runs paired by seed: every β's MIG is seed/100 plus a constant, so each
    difference is the same in every seed (a zero-width interval, p 0), and Z-diff's are 0."""
    lines = published.order_markdown(_three_betas(), paired=True).splitlines()
    assert lines[2] == (
        "| 1 – 2.5 | **2.5 > 1** (p < 0.001, Holm < 0.001; Δ +0.010 [+0.010, +0.010]) "
        "| not ordered (p 1.000, Holm 1.000; Δ +0.000 [+0.000, +0.000]) |"
    )
    assert lines[-1].startswith("3 of 6 comparisons ordered (paired t-test over shared seeds;")


def test_the_order_table_has_a_column_for_each_score_the_runs_have():
    # The six metrics of an 8-seed report: SAP, FactorVAE and DCI's two scores join in.
    rows = [
        {**row, "sap": 0.05, "factorvae": 0.6, "dci_disentanglement": 0.3, "dci_completeness": 0.2}
        for row in _three_betas()
    ]
    head = published.order_markdown(rows).splitlines()[0]
    assert head == "| β pair | MIG | Z-diff | SAP | FactorVAE | DCI D | DCI C |"


def _three_betas() -> list[dict]:
    mig = {1.0: [0.10, 0.11, 0.12], 2.5: [0.11, 0.12, 0.13], 10.0: [0.40, 0.41, 0.42]}
    return [
        {"beta": beta, "seed": seed, "status": "done", "mig": value, "zdiff": 0.8 + seed / 100}
        for beta, values in mig.items()
        for seed, value in enumerate(values)
    ]


def test_the_order_table_orders_nothing_below_three_seeds():
    rows = [
        {"beta": beta, "seed": seed, "status": "done", "mig": beta + seed / 10}
        for beta in (1.0, 10.0)
        for seed in (0, 1)
    ]
    assert "nothing is ordered" in published.order_markdown(rows)


def test_the_penalty_table_says_how_each_term_moves_with_beta():
    """Four βs, one seed each: reconstruction rises with β, KL falls, and β·KL = 10, 18,
    24, 28 rises: every rank correlation is ±1. Below three βs no trend is claimed."""
    kl = {1.0: 10.0, 2.0: 9.0, 4.0: 6.0, 7.0: 4.0}
    rows = [
        {"beta": b, "seed": 0, "status": "done", "reconstruction": 100 + b, "kl": k}
        for b, k in kl.items()
    ]
    last = published.penalty_markdown(rows).splitlines()[-1]
    assert last == (
        "Spearman's rank correlation with β over the 4 finished runs: reconstruction "
        "ρ = +1.00 (p < 0.001); KL ρ = -1.00 (p < 0.001); β·KL ρ = +1.00 (p < 0.001)."
    )
    assert "Spearman" not in published.penalty_markdown(rows[:2])


def test_a_grid_report_marks_its_methods_section(tmp_path):
    """A methods report's ``methods`` table is the grid's section of results.md: per
    method the best setting (here β = 4: MIG 0.4 + seed/100 against 0.1 + seed/100)."""
    from kbetavae.study.results import grid_methods_markdown, write_results

    rows = [
        {"setting": f"beta={b:g}", "objective": "beta", "weight": b, "beta": b, "seed": s}
        | {"status": "done", "mig": b / 10 + s / 100}
        for b in (1.0, 4.0)
        for s in range(3)
    ]
    write_results(str(tmp_path), rows)
    (tmp_path / "README.md").write_text("<!-- table:methods -->\n<!-- /table:methods -->\n")
    assert published.stale_tables(str(tmp_path)) == ["methods"]
    published.update_report(str(tmp_path))
    report = (tmp_path / "README.md").read_text()
    assert "| beta | beta=4 | 3 |" in report
    assert grid_methods_markdown(read_results(str(tmp_path))) in report
    assert published.stale_tables(str(tmp_path)) == []


def test_a_report_marks_its_protocol_variant_tables(tmp_path):
    """The ``protocol_variants`` table is drawn from ``protocol_variants/``'s scores (as
    ``kbetavae variants -o`` writes them) against the report's own study table."""
    from kbetavae.study.protocol_variants import ScoredModel, VariantScore, write_scores
    from kbetavae.study.study_table import STUDY_TABLE, read_study_table
    from kbetavae.study.variant_tables import by_beta_markdown

    (tmp_path / "study_table.csv").write_text((RESULTS / STUDY_TABLE).read_text())
    (tmp_path / "README.md").write_text(
        "<!-- table:protocol_variants -->\n<!-- /table:protocol_variants -->\n"
    )
    assert "No protocol-variant scores yet" in published.render(
        (tmp_path / "README.md").read_text(), str(tmp_path)
    )
    models = [
        ScoredModel(f"beta=1_seed={s}", 1.0, [VariantScore("L8", "zdiff", 0.3 + s / 100)], s)
        for s in range(3)
    ]
    write_scores(models, str(tmp_path / published.VARIANTS_DIR))
    published.update_report(str(tmp_path))
    report = (tmp_path / "README.md").read_text()
    study = read_study_table(str(tmp_path / "study_table.csv"))
    assert by_beta_markdown(models, study) in report
    # 0.30, 0.31, 0.32: mean 0.31, sd 0.01, t half-width 4.303 · 0.01 / √3 = 0.025; the
    # study's Z-diff at β = 1 (0.3570, study_table.csv) lies above that interval.
    assert "| L8 | Z-diff | 0.310 [0.285, 0.335] | none |" in report
    assert published.stale_tables(str(tmp_path)) == []
