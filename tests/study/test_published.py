"""The published report's tables are generated from its results.csv, never typed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kbetavae.study import published
from kbetavae.study.publish import missing_run_files
from kbetavae.study.results import read_results, results_markdown, sweep_run_dirs

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"
# The study's report and every report beside it (the loss-scaling test's loss-mean/).
REPORTS = [
    d
    for d in (RESULTS, *sorted(RESULTS.iterdir()))
    if (d / "README.md").is_file() and (d / "results.csv").is_file()
]


def test_the_loss_scaling_test_is_published_beside_the_study():
    assert [d.relative_to(RESULTS).as_posix() for d in REPORTS] == [".", "loss-mean"]


@pytest.mark.parametrize("report", REPORTS, ids=lambda d: d.name)
def test_the_published_tables_match_the_published_data(report):
    assert published.stale_tables(str(report)) == []


@pytest.mark.parametrize("report", REPORTS, ids=lambda d: d.name)
def test_every_run_of_the_report_is_published_with_its_files(report):
    rows = read_results(str(report))
    assert rows
    assert missing_run_files(str(report)) == []
    listed = {(beta, seed) for beta, seed, _ in sweep_run_dirs(str(report))}
    assert {(r["beta"], r["seed"]) for r in rows} == listed


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
    # β = 1: two seeds, the mean and the bootstrap interval of the mean: resampling two
    # values gives means of both low, one of each or both high, so it spans the two values.
    kl = "11.00 [10.00, 12.00]"
    assert lines[2] == f"| 1 | 2 | 101.00 [100.00, 102.00] | {kl} | {kl} |"
    # β = 10: one finished seed, its values; β·KL = 10 × 3.
    assert lines[3] == "| 10 | 1 | 120.00 | 3.00 | 30.00 |"


def test_the_motion_table_lists_the_active_latents_as_measured(tmp_path):
    from kbetavae.study.motion import MOTION_COLUMNS, write_motion_csv

    def row(latent, active, angle):
        values = dict.fromkeys(MOTION_COLUMNS, 0.0)
        values.update(run="beta=5_seed=0", beta=5.0, seed=0, latent=latent, active=active)
        values.update(kl=1.234, angle_deg=angle, extent_px=12.34, straightness=0.987)
        values.update(size_change=0.25, vanished=False)
        return values

    rows = [row(0, True, 26.3), row(1, False, 80.0), row(2, True, float("nan"))]
    write_motion_csv(rows, str(tmp_path / "traversal_motion.csv"))
    lines = published.motion_markdown(str(tmp_path)).splitlines()
    assert len(lines) == 2 + 2  # the inactive latent is left out
    assert lines[2] == "| 5 | 0 | z0 | 1.23 | 26 | 12.3 | 0.99 | 25% |"
    assert lines[3] == "| 5 | 0 | z2 | 1.23 | — | 12.3 | 0.99 | 25% |"  # no direction: still
    assert "no traversal_motion.csv" in published.motion_markdown(str(tmp_path / "none"))


def test_the_order_table_calls_only_what_welch_and_holm_support():
    """Three βs of three seeds. MIG: β = 10 sits 0.3 above β = 1 and 2.5 with an sd of 0.01
    (Welch's t ≈ 37, p < 0.001 even ×3 for Holm), while β = 1 and 2.5 differ by 0.01 with
    the same sd (t ≈ 1.2: not ordered). Z-diff is the same everywhere."""
    mig = {1.0: [0.10, 0.11, 0.12], 2.5: [0.11, 0.12, 0.13], 10.0: [0.40, 0.41, 0.42]}
    rows = [
        {"beta": beta, "seed": seed, "status": "done", "mig": value, "zdiff": 0.8 + seed / 100}
        for beta, values in mig.items()
        for seed, value in enumerate(values)
    ]
    lines = published.order_markdown(rows).splitlines()
    assert lines[0] == "| β pair | MIG | Z-diff |"
    assert lines[2].startswith("| 1 – 2.5 | not ordered (p 0.288, Holm 0.288) |")
    assert lines[3].startswith("| 1 – 10 | **10 > 1** (p < 0.001, Holm < 0.001) |")
    assert lines[4].startswith("| 2.5 – 10 | **10 > 2.5** (p < 0.001, Holm < 0.001) |")
    assert all(line.endswith("| not ordered (p 1.000, Holm 1.000) |") for line in lines[2:5])
    assert lines[-1] == "2 of 6 comparisons ordered (Holm-adjusted p < 0.05 within each metric)."


def test_the_order_table_orders_nothing_below_three_seeds():
    rows = [
        {"beta": beta, "seed": seed, "status": "done", "mig": beta + seed / 10}
        for beta in (1.0, 10.0)
        for seed in (0, 1)
    ]
    assert "nothing is ordered" in published.order_markdown(rows)


def test_the_axes_table_finds_runs_whose_long_moves_follow_both_image_axes(tmp_path):
    """Three runs: β = 10 moves the sprite 30 px at -3° and 88° (x and y: within 10°), plus a
    short 5 px move at 0° that does not count; β = 5 moves it at 26° and 58° (neither); β = 1
    at 8° only (x). MIG 0.4 for the first against 0.1 and 0.2 for the others: with one run
    against two, the exact rank-sum p is 2 × 1/3 — the smallest possible for these sizes."""
    from kbetavae.study.motion import MOTION_COLUMNS, write_motion_csv
    from kbetavae.study.results import write_results

    def move(beta, latent, angle, extent):
        values = dict.fromkeys(MOTION_COLUMNS, 0.0)
        values.update(run=f"beta={beta:g}_seed=0", beta=beta, seed=0, latent=latent)
        values.update(active=True, kl=2.0, angle_deg=angle, extent_px=extent, vanished=False)
        return values

    moves = [move(10.0, 0, -3.0, 30.0), move(10.0, 1, 88.0, 30.0), move(10.0, 2, 0.0, 5.0)]
    moves += [move(5.0, 0, 26.0, 25.0), move(5.0, 1, 58.0, 25.0), move(1.0, 0, 8.0, 20.0)]
    moves.append({**move(1.0, 1, float("nan"), 0.1), "active": False})
    write_motion_csv(moves, str(tmp_path / "traversal_motion.csv"))
    mig = {1.0: 0.2, 5.0: 0.1, 10.0: 0.4}
    rows = [
        {"beta": b, "seed": 0, "status": "done", "active_latents": 2, "mig": m, "zdiff": 0.8}
        for b, m in mig.items()
    ]
    write_results(str(tmp_path), rows)
    lines = published.axes_markdown(str(tmp_path)).splitlines()
    assert lines[2] == "| 1 | 0 | 2 | 8 | x | 0.200 | 0.800 |"
    assert lines[3] == "| 5 | 0 | 2 | 26, 58 | — | 0.100 | 0.800 |"
    assert lines[4] == "| 10 | 0 | 2 | -3, 88 | x and y | 0.400 | 0.800 |"
    assert lines[-1].startswith("MIG of the 1 runs with a long move (≥ 15 px) within 10° of")
    assert lines[-1].endswith(
        ": 0.400–0.400; of the other 2: 0.100–0.200 (Mann–Whitney U, two-sided p 0.667)."
    )


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


def test_the_kl_table_ranks_each_runs_latents_before_averaging_seeds(tmp_path):
    """Seed 0 uses z0 (3 nats), seed 1 uses z1 (1 nat): index by index the mean would be
    1.5 and 0.5; ranked within each run first, the most used latent averages (3 + 1)/2 = 2
    and the other (0.001 + 0.002)/2 = 0.0015, which is below 0.01 nats: not bold."""
    import json

    from kbetavae.study.results import write_results

    kl = {0: [3.0, 0.001], 1: [0.002, 1.0]}
    runs = []
    for seed, values in kl.items():
        run = tmp_path / "runs" / f"beta=4_seed={seed}"
        run.mkdir(parents=True)
        record = {"kl_per_latent": values, "protocol": {"num_points": 10_000}, "seed": seed}
        (run / "metrics.json").write_text(json.dumps(record))
        runs.append({"beta": 4.0, "seed": seed, "run_dir": f"runs/{run.name}"})
    (tmp_path / "sweep.json").write_text(json.dumps({"runs": runs}))
    write_results(str(tmp_path), [{"beta": 4.0, "seed": s, "status": "done"} for s in kl])
    lines = published.kl_markdown(str(tmp_path)).splitlines()
    assert lines[:3] == ["| β | #1 | #2 |", "|---|---|---|", "| 4 | **2** | 0.0015 |"]
    assert "latents ranked by KL within each run, then mean over up to 2 seeds" in lines[-1]
