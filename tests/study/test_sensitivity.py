"""Threshold sensitivity: claims recomputed across a stated range of their thresholds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from kbetavae.study import sensitivity
from kbetavae.study.motion import MOTION_COLUMNS, write_motion_csv
from kbetavae.study.results import read_results, write_results

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"


def _report(tmp_path: Path, runs: dict[tuple[float, int], dict]) -> str:
    """A results directory with one ``metrics.json`` per (β, seed): ``runs`` gives each
    run's ``kl`` (per latent) and ``modularity`` (per latent)."""
    listed, rows = [], []
    for (beta, seed), run in runs.items():
        path = tmp_path / "runs" / f"beta={beta:g}_seed={seed}"
        path.mkdir(parents=True)
        record = {"kl_per_latent": run["kl"], "modularity": {"per_latent": run["modularity"]}}
        (path / "metrics.json").write_text(json.dumps(record))
        listed.append({"beta": beta, "seed": seed, "run_dir": f"runs/{path.name}"})
        rows.append({"beta": beta, "seed": seed, "status": "done", "mig": run.get("mig", 0.1)})
    (tmp_path / "sweep.json").write_text(json.dumps({"runs": listed}))
    write_results(str(tmp_path), rows)
    return str(tmp_path)


def test_at_the_reports_threshold_the_published_counts_and_modularity_come_back():
    """At 0.01 nats the recomputation gives every published run's ``active_latents`` and
    ``modularity_active`` as its evaluation wrote them into ``results.csv``."""
    published = {(r["beta"], r["seed"]): r for r in read_results(str(RESULTS))}
    recomputed = sensitivity.activity_rows(str(RESULTS), 0.01)
    assert len(recomputed) == len(published) == 56
    for row in recomputed:
        original = published[(row["beta"], row["seed"])]
        assert row["active_latents"] == original["active_latents"]
        if original["modularity_active"] is None:
            assert row["modularity_active"] is None
        else:
            assert row["modularity_active"] == pytest.approx(original["modularity_active"])


def test_a_higher_threshold_drops_weak_latents_from_modularity_over_active_ones(tmp_path):
    """One run, KL [2, 0.03, 0.004] and per-latent Modularity [0.9, 0.6, 0.7]: above 0.001
    nats all three are active (mean 0.7333), above 0.01 the first two (0.75), above 0.05
    the first (0.9), above 5 none (undefined: the run counts as collapsed)."""
    directory = _report(
        tmp_path, {(1.0, 0): {"kl": [2.0, 0.03, 0.004], "modularity": [0.9, 0.6, 0.7]}}
    )
    expected = {0.001: (3, 2.2 / 3), 0.01: (2, 0.75), 0.05: (1, 0.9), 5.0: (0, None)}
    for threshold, (count, modularity) in expected.items():
        (row,) = sensitivity.activity_rows(directory, threshold)
        assert row["active_latents"] == count
        expected_modularity = None if modularity is None else pytest.approx(modularity)
        assert row["modularity_active"] == expected_modularity
    lines = sensitivity.activity_counts_markdown(directory, (0.001, 5.0)).splitlines()
    assert lines[2:4] == ["| 0.001 | 3 |", "| 5 | 0 |"]


def test_the_activity_table_follows_the_claimed_pair_across_thresholds(tmp_path):
    """Three seeds at β = 0.5 and 10. β = 10: one latent of 2 nats, Modularity 0.95, 0.96,
    0.97 (and one inactive). β = 0.5: the same plus a weak latent of 0.02 nats scoring 0.5,
    so at 0.01 nats its Modularity over active latents is (m + 0.5) / 2 = 0.725, 0.73,
    0.735, far below β = 10; at 0.05 nats the weak latent drops out and the βs are equal."""
    runs = {}
    for seed, m in enumerate((0.95, 0.96, 0.97)):
        runs[(10.0, seed)] = {"kl": [2.0, 0.001], "modularity": [m, 0.6]}
        runs[(0.5, seed)] = {"kl": [2.0, 0.02], "modularity": [m, 0.5]}
    directory = _report(tmp_path, runs)
    lines = sensitivity.activity_markdown(directory, (0.01, 0.05)).splitlines()
    at_001, at_005 = lines[2].split(" | "), lines[3].split(" | ")
    assert at_001[0] == "| 0.01 (report's)" and at_005[0] == "| 0.05"
    assert at_001[1].startswith("0.730 [") and at_001[2].startswith("0.960 [")
    # Welch–Satterthwaite: sds 0.005 and 0.01 over three seeds each
    va, vb = 0.005**2 / 3, 0.01**2 / 3
    df = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 2)
    half = stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    assert at_001[3] == f"+0.230 [{0.23 - half:+.3f}, {0.23 + half:+.3f}]"
    assert at_001[6] == "10 > 0.5 / 10 > 0.5" and at_001[7] == "none |"
    assert at_005[3].startswith("+0.000") and at_005[4] == "1.000, 1.000"
    assert at_005[6] == "none / none"


def test_the_axes_sensitivity_table_regroups_the_runs_at_each_extent_and_angle(tmp_path):
    """Four runs: A moves the sprite 30 px at 0° and 30 px at 88°; B 30 px at 7° and 30 px
    at -84°; C 13 px at 0° and 13 px at 90°; D 30 px at 45° only."""
    moves = {
        (1.0, 0): [(0.0, 30.0), (88.0, 30.0)],
        (2.0, 0): [(7.0, 30.0), (-84.0, 30.0)],
        (3.0, 0): [(0.0, 13.0), (90.0, 13.0)],
        (4.0, 0): [(45.0, 30.0)],
    }
    mig = {1.0: 0.40, 2.0: 0.30, 3.0: 0.20, 4.0: 0.10}
    rows = []
    for (beta, seed), run in moves.items():
        for latent, (angle, extent) in enumerate(run):
            values = dict.fromkeys(MOTION_COLUMNS, 0.0)
            values.update(run=f"beta={beta:g}_seed=0", beta=beta, seed=seed, latent=latent)
            values.update(active=True, kl=2.0, angle_deg=angle, extent_px=extent, vanished=False)
            rows.append(values)
    write_motion_csv(rows, str(tmp_path / "traversal_motion.csv"))
    write_results(
        str(tmp_path), [{"beta": b, "seed": 0, "status": "done", "mig": m} for b, m in mig.items()]
    )
    lines = sensitivity.axes_sensitivity_markdown(str(tmp_path), (12.0, 15.0), (5.0, 10.0))
    lines = lines.splitlines()
    # 12 px within 5°: A and C; within 10°: A, B and C (one run left: no comparison)
    assert lines[2].startswith("| 12 | 5 | 2 of 4 | 0.200–0.400 | 0.100–0.300 | no |")
    assert lines[3] == "| 12 | 10 | 3 of 4 | 0.200–0.400 | 0.100 | — | — | — |"
    assert lines[4].startswith("| 15 | 5 | 1 of 4 | 0.400 | 0.100–0.300 | — |")
    # 15 px, 10°: A and B (0.4, 0.3) against C and D (0.2, 0.1): separate; the exact
    # rank-sum p of 2 against 2 fully separated is 2 / C(4, 2) = 1/3
    cells = lines[5].split(" | ")
    assert cells[:6] == ["| 15", "10", "2 of 4", "0.300–0.400", "0.100–0.200", "yes"]
    assert cells[7] == f"{2 / math.comb(4, 2):.3f} |"
    # Welch: variances 0.005 / 2 each, t = 0.2 / √0.005 = 2√2, df 2, and for 2 degrees of
    # freedom the two-sided p is 1 − t / √(t² + 2)
    t = 0.2 / math.sqrt(0.005)
    assert cells[6] == f"{1 - t / np.sqrt(t * t + 2):.3f}"
