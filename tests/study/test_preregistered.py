"""The pre-registered analysis of seeds 4–7: the registered tests on known data, other
seeds kept out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy import stats

from kbetavae.study import preregistered
from kbetavae.study.motion import write_motion_csv
from kbetavae.study.results import write_results

H1_LOW = (0.70, 0.72, 0.74, 0.76)  # Modularity over active latents at β = 0.5, seeds 4–7
H1_HIGH = (0.90, 0.92, 0.94, 0.96)  # at β = 10
ALIGNED_MIG = (0.30, 0.32, 0.34, 0.36)  # β = 10's runs, each axis-aligned
OTHER_MIG = {
    0.5: (0.10, 0.12, 0.08, 0.11),
    1.0: (0.09, 0.13, 0.10, 0.12),
    50.0: (0.0, 0.05, 0.06, 0.0),
}
ACTIVE_50 = {0: 1, 1: 0, 2: 2, 3: 3, 4: 0, 5: 2, 6: 3, 7: 0}  # β = 50's active latents by seed


def _motion(run: str, beta: float, seed: int, aligned: bool) -> list[dict]:
    # Aligned: a 20 px move along x (0°) and one along y (90°); otherwise 20 px at 45°.
    angles = (0.0, 90.0) if aligned else (45.0, 45.0)
    return [
        {"run": run, "beta": beta, "seed": seed, "latent": k, "active": True, "kl": 2.0,
         "angle_deg": angle, "extent_px": 20.0, "straightness": 1.0, "size_change": 0.0,
         "mass_change": 0.0, "turn_deg": "", "vanished": 0}
        for k, angle in enumerate(angles)
    ]  # fmt: skip


def _record(mig: float, zdiff: float, modularity: float, active: int) -> dict:
    """A metrics.json record with these scores; one latent active at 0.01 nats, so
    Modularity over the active latents is its per-latent score, ``modularity``."""
    return {
        "active_latents": active,
        "kl_per_latent": [2.0, 0.001],
        "mig": {"score": mig},
        "zdiff": {"score": zdiff},
        "modularity": {"score": modularity, "active_score": modularity,
                       "per_latent": [modularity, 0.5]},
    }  # fmt: skip


def _report(tmp_path: Path, with_old_seeds: bool = True, aligned=(4, 5, 6, 7)) -> str:
    """βs 0.5, 1, 10 and 50 at seeds 4–7 (and 0–3 with values that would flip every test,
    which the registered analysis must ignore); β = 10's runs of ``aligned`` seeds are
    axis-aligned, no other run is."""
    rows, listed, motion = [], [], []
    seeds = (*preregistered.SEEDS, *((0, 1, 2, 3) if with_old_seeds else ()))
    for beta in (0.5, 1.0, 10.0, 50.0):
        for seed in seeds:
            k = seed - 4
            old = seed < 4
            modularity = {0.5: H1_LOW, 10.0: H1_HIGH}.get(beta, (0.80, 0.81, 0.79, 0.82))[k % 4]
            mig = ALIGNED_MIG[k % 4] if beta == 10.0 else OTHER_MIG[beta][k % 4]
            if old:  # seeds 0–3 reverse H1 and H2 and move H4
                modularity, mig = 1.0 - modularity, 0.5 - mig
            active = ACTIVE_50[seed] if beta == 50.0 else 2
            run = f"beta={beta:g}_seed={seed}"
            path = tmp_path / "runs" / run
            path.mkdir(parents=True)
            zdiff = 0.5 + 0.01 * ((k + round(2 * beta)) % 3)  # no β's mean far from another's
            record = _record(mig, zdiff, modularity, active)
            (path / "metrics.json").write_text(json.dumps(record))
            listed.append({"beta": beta, "seed": seed, "run_dir": f"runs/{run}"})
            rows.append(
                {"beta": beta, "seed": seed, "status": "done", "mig": mig, "zdiff": zdiff,
                 "modularity": modularity, "modularity_active": modularity,
                 "active_latents": active}
            )  # fmt: skip
            motion += _motion(run, beta, seed, aligned=beta == 10.0 and seed in aligned)
    (tmp_path / "sweep.json").write_text(json.dumps({"runs": listed}))
    write_results(str(tmp_path), rows)
    write_motion_csv(motion, str(tmp_path / "traversal_motion.csv"))
    return str(tmp_path)


def test_h1_and_h2_are_welch_tests_on_seeds_4_to_7_with_holm_over_the_two(tmp_path):
    """H1: β 10 − β 0.5 = 0.20 (both spaced 0.02: sd 0.0258, se 0.0183, t 10.95, df 6); H2:
    aligned MIG mean 0.33 against the 12 others'. The p-values are scipy's Welch test of
    the same numbers; Holm over 2 doubles the smaller and keeps the larger (if larger)."""
    h1, h2 = preregistered.confirmatory(_report(tmp_path))
    p1 = stats.ttest_ind(H1_HIGH, H1_LOW, equal_var=False).pvalue
    others = [v for values in OTHER_MIG.values() for v in values]
    p2 = stats.ttest_ind(ALIGNED_MIG, others, equal_var=False).pvalue
    assert h1.difference.delta == pytest.approx(0.20)
    assert h1.difference.df == pytest.approx(6.0)
    assert h1.difference.p == pytest.approx(p1)
    assert h2.difference.delta == pytest.approx(0.33 - sum(others) / 12)
    assert h2.difference.p == pytest.approx(p2)
    small, large = sorted((p1, p2))
    assert sorted((h1.adjusted_p, h2.adjusted_p)) == pytest.approx(
        [2 * small, max(2 * small, large)]
    )
    assert h1.called() and h2.called()


def test_a_registered_direction_reversed_does_not_replicate(tmp_path):
    """The same data with β 0.5 and 10 swapped in H1: significant, but the wrong way."""
    directory = _report(tmp_path, with_old_seeds=False)
    (h1,) = [t for t in preregistered.confirmatory(directory) if t.label.startswith("H1")]
    flipped = preregistered.Test(
        h1.label, h1.groups, preregistered.welch_difference(H1_HIGH, H1_LOW), 0.001
    )
    assert flipped.difference.delta < 0 and not flipped.called()


def test_h2_with_one_aligned_run_is_not_testable(tmp_path):
    directory = _report(tmp_path, with_old_seeds=False, aligned=(4,))
    h2 = preregistered.h2(directory, preregistered.scored_rows(directory))
    assert h2.difference is None and h2.groups == "aligned: n 1; others: n 15"
    assert "not testable" in preregistered.preregistered_markdown(directory)


def test_h3_counts_collapses_with_the_clopper_pearson_interval(tmp_path):
    """Seeds 4–7 at β 50: active [0, 2, 3, 0], 2 collapsed of 4, so H3 holds. All 8
    seeds: 3 of 8; exact interval [Beta(0.025; 3, 6), Beta(0.975; 4, 5)] quantiles."""
    from kbetavae.study.results import read_results

    result = preregistered.h3(read_results(_report(tmp_path)))
    assert (result["seeds"], result["collapsed"], result["holds"]) == (4, 2, True)
    assert (result["all_seeds"], result["collapsed_all"]) == (8, 3)
    expected = (stats.beta.ppf(0.025, 3, 6), stats.beta.ppf(0.975, 4, 5))
    assert result["interval_all"] == pytest.approx(expected)


def test_h4_tests_each_metric_and_beta_against_the_baseline_with_holm(tmp_path):
    """βs 0.5, 10 and 50 against 1 on three metrics: 9 tests here (18 in the study). β 10's
    MIG (0.33 against 0.11) differs; Z-diff's means are within 0.01 at every β."""
    from kbetavae.study.results import read_results

    tests = preregistered.h4(read_results(_report(tmp_path)))
    assert len(tests) == 9
    raw = [t.difference.p for t in tests]
    assert [t.adjusted_p for t in tests] == pytest.approx(preregistered.holm(raw))
    called = [t.label for t in tests if t.called_either_way()]
    assert "MIG: β 10 − β 1" in called
    assert not any(label.startswith("Z-diff") for label in called)


def test_the_markdown_reports_every_registered_item(tmp_path):
    text = preregistered.preregistered_markdown(_report(tmp_path))
    assert "| H1: Modularity (active) β 10 > β 0.5 | β 10: n 4; β 0.5: n 4 |" in text
    assert text.count("replicates") == 2 and "does not replicate" not in text
    assert "paired by seed, β 10 − β 0.5 = +0.200" in text
    assert "H3 (descriptive): β = 50 collapsed (0 active latents) in 2 of 4 runs" in text
    assert "H4, the pairs called different from the baseline:" in text


def test_without_runs_of_seeds_4_to_7_it_says_so(tmp_path):
    write_results(str(tmp_path), [{"beta": 1.0, "seed": 0, "status": "done", "mig": 0.1}])
    assert preregistered.preregistered_markdown(str(tmp_path)).startswith("No finished run")


def test_the_registered_scores_are_the_sweeps_own_where_an_archive_was_re_evaluated(tmp_path):
    """A run published from its archive keeps the sweep's record in metrics_float32.json
    and the archive's in metrics.json. The registration fixed the sweep's evaluation: here
    the archives' records swap H1's βs (β 0.5 gets β 10's Modularity and back), so H1
    replicates on the registered scores and the line beside says the archives' would not."""
    directory = _report(tmp_path, with_old_seeds=False)
    for seed, low, high in zip(preregistered.SEEDS, H1_LOW, H1_HIGH, strict=True):
        for beta, registered, archived in ((0.5, low, high), (10.0, high, low)):
            run = tmp_path / "runs" / f"beta={beta:g}_seed={seed}"
            (run / "metrics.json").replace(run / "metrics_float32.json")
            record = json.loads((run / "metrics_float32.json").read_text())
            assert record["modularity"]["active_score"] == registered
            record["modularity"] = {"score": archived, "active_score": archived,
                                    "per_latent": [archived, 0.5]}  # fmt: skip
            (run / "metrics.json").write_text(json.dumps(record))

    (h1, _) = preregistered.confirmatory(directory)
    assert h1.difference.delta == pytest.approx(0.20) and h1.called()
    (archived_h1, _) = preregistered.confirmatory(directory, preregistered.ARCHIVED)
    assert archived_h1.difference.delta == pytest.approx(-0.20) and not archived_h1.called()

    text = preregistered.preregistered_markdown(directory)
    assert "(8 of the 16 runs from `metrics_float32.json`" in text
    assert "paired by seed, β 10 − β 0.5 = +0.200" in text
    beside = next(line for line in text.splitlines() if line.startswith("Beside them"))
    assert "H1 Holm p" in beside and "H2 Holm p" in beside
    assert beside.count("does not replicate") == 1 and "(replicates)" in beside


def test_the_line_beside_says_which_archived_test_is_not_testable(tmp_path):
    """One aligned run (H2 not testable, as while seeds 4–7 are published seed by seed),
    every run re-evaluated from its archive: the line beside says so for H2 (it raised)."""
    directory = _report(tmp_path, with_old_seeds=False, aligned=(4,))
    for run in (tmp_path / "runs").iterdir():
        (run / "metrics_float32.json").write_text((run / "metrics.json").read_text())
    beside = next(
        line
        for line in preregistered.preregistered_markdown(directory).splitlines()
        if line.startswith("Beside them")
    )
    assert "H1 Holm p" in beside and "H2 not testable (fewer than 2 runs in a group)" in beside


def test_without_archive_records_no_line_beside_is_printed(tmp_path):
    text = preregistered.preregistered_markdown(_report(tmp_path))
    assert "(0 of the 16 runs from `metrics_float32.json`" in text
    assert "Beside them" not in text
