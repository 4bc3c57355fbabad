"""``kbetavae sweep --objective NAME:W1,W2 ...``: a grid of methods from one command, its
runs named per setting, its table grouped by setting, UDR per run, the methods' report."""

from __future__ import annotations

import csv
import json
import math

import pytest

from ..grid_sweep import SETTINGS


def test_the_grid_trains_every_setting_and_seed_and_scores_udr(grid_sweep):
    with open(grid_sweep / "results.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["setting"], r["seed"]) for r in rows] == [
        (s, seed) for s in SETTINGS for seed in ("0", "1")
    ]
    assert [r["objective"] for r in rows] == ["beta", "beta", "dipvae_i", "dipvae_i"]
    assert [float(r["weight"]) for r in rows] == [4.0, 4.0, 10.0, 10.0]
    for row in rows:
        assert row["status"] == "done"
        for key in ("mig", "udr_lasso", "udr_spearman"):
            assert math.isfinite(float(row[key])), (key, row)
            assert 0.0 <= float(row[key]) <= 1.0
    record = json.loads((grid_sweep / "beta=4_seed=1" / "metrics.json").read_text())
    assert record["udr_spearman"]["num_models"] == 2
    assert record["udr_spearman"]["pairwise"][1] is None  # a model is not its own pair
    plan = json.loads((grid_sweep / "sweep.json").read_text())["plan"]
    assert [s["objective"] for s in plan["settings"]] == ["beta", "dipvae_i"]


def test_the_grid_tables_and_figures_are_grouped_by_setting(grid_sweep):
    markdown = (grid_sweep / "results.md").read_text()
    assert "## Summary per setting" in markdown
    assert "| dipvae_i_lambda_od=10 | 2/2 |" in markdown
    assert "### Best setting per method: mig" in markdown
    assert "### The model udr_lasso picks, per method" in markdown
    figures = sorted(p.name for p in (grid_sweep / "figures").iterdir())
    assert figures == ["metrics_vs_weight.png", "udr_vs_metrics.png"]
    html = (grid_sweep / "report.html").read_text()
    assert 'id="methods"' in html and 'data-setting="dipvae_i_lambda_od=10"' in html


def test_rerunning_the_grid_trains_nothing(grid_sweep, tmp_path):
    from ..grid_sweep import run_grid_sweep

    rerun = run_grid_sweep(grid_sweep.parent.parent)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "epoch 1/1" not in rerun.stderr
    assert "already finished" in rerun.stderr


def test_collect_of_a_grid_keeps_its_settings_and_scores_udr_where_missing(grid_sweep, tmp_path):
    import shutil

    from kbetavae.study.collect import collect

    copy = tmp_path / "copy"
    shutil.copytree(grid_sweep, copy)
    for metrics in copy.glob("*/metrics.json"):
        record = json.loads(metrics.read_text())
        del record["udr_lasso"], record["udr_spearman"]
        metrics.write_text(json.dumps(record))
    merged = collect([str(copy)], str(tmp_path / "collected"))
    assert merged.plan.grid_text() == f"settings {', '.join(SETTINGS)}"
    assert [(r["setting"], r["seed"]) for r in merged.rows] == [
        (s, seed) for s in SETTINGS for seed in (0, 1)
    ]
    swept = {(r["setting"], r["seed"]): r for r in csv.DictReader(open(grid_sweep / "results.csv"))}
    for row in merged.rows:
        # the same sample and models: the scores the sweep wrote
        expected = float(swept[(row["setting"], str(row["seed"]))]["udr_spearman"])
        assert row["udr_spearman"] == pytest.approx(expected, abs=1e-9)


def test_a_published_grid_scores_udr_over_its_archives_and_republishes_them(grid_sweep, tmp_path):
    """publish scores each setting's UDR from the float16 encoder archives it publishes (the
    sweep's float32 models' scores are replaced by scores over exactly the published
    archives); a published report published again carries its archives along."""
    from kbetavae.study.publish import missing_run_files, publish

    dest = tmp_path / "methods"
    publish(str(grid_sweep), str(dest))
    assert missing_run_files(str(dest)) == []
    for setting in SETTINGS:
        for seed in (0, 1):
            name = f"{setting}_seed={seed}"
            swept = json.loads((grid_sweep / name / "metrics.json").read_text())
            published = json.loads((dest / "runs" / name / "metrics.json").read_text())
            for udr in ("udr_lasso", "udr_spearman"):
                assert swept[udr]["encoders"] == "model"
                assert published[udr]["encoders"] == "archive"
                assert published[udr]["num_models"] == 2
                # float16 weights move the codes in the last bits only
                assert published[udr]["score"] == pytest.approx(swept[udr]["score"], abs=0.02)
    again = tmp_path / "again"
    publish(str(dest), str(again))
    for archive in dest.glob("runs/*/encoder.npz"):
        copied = again / "runs" / archive.parent.name / "encoder.npz"
        assert copied.read_bytes() == archive.read_bytes()
    assert (again / "results.csv").read_text() == (dest / "results.csv").read_text()
