"""``publish``: a sweep's evidence (not its models) copied into a report directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kbetavae.errors import InputError
from kbetavae.study.plan import SweepPlan
from kbetavae.study.publish import missing_run_files, publish
from kbetavae.study.results import write_results
from kbetavae.training.rundir import run_name

RUNS = {(1.0, 0): "done", (4.0, 0): "done", (4.0, 1): "failed"}


@pytest.fixture
def sweep(tmp_path) -> Path:
    plan = SweepPlan.of(name="s", betas=(1.0, 4.0), seeds=(0, 1), epochs=1, subset=64)
    sweep_dir = tmp_path / "runs" / "s"
    sweep_dir.mkdir(parents=True)
    (sweep_dir / "sweep.json").write_text(json.dumps({"plan": plan.to_dict()}))
    rows = []
    for (beta, seed), status in RUNS.items():
        run_dir = sweep_dir / run_name(plan.base.replace(beta=beta, seed=seed))
        run_dir.mkdir()
        rows.append({"beta": beta, "seed": seed, "status": status, "epochs": 1})
        (run_dir / "config.json").write_text(json.dumps({"beta": beta, "seed": seed}))
        (run_dir / "history.csv").write_text("epoch,loss\n0,1.0\n")
        (run_dir / "model.keras").write_bytes(b"weights")
        if status == "done":
            (run_dir / "metrics.json").write_text(json.dumps({"mig": beta / 10}))
            (run_dir / "done.json").write_text("{}")
    (sweep_dir / "figures" / "traversals").mkdir(parents=True)
    (sweep_dir / "figures" / "metrics_vs_beta.png").write_bytes(b"png")
    (sweep_dir / "figures" / "traversals" / "beta=1_seed=0.gif").write_bytes(b"gif")
    (sweep_dir / "report.html").write_text("<html></html>")
    write_results(str(sweep_dir), rows)
    return sweep_dir


def test_publish_copies_the_evidence_and_leaves_models_and_the_page_out(sweep, tmp_path):
    dest = tmp_path / "docs"
    publish(str(sweep), str(dest))
    files = {str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()}
    assert {"sweep.json", "results.csv", "results.md", "figures/metrics_vs_beta.png"} <= files
    assert "figures/traversals/beta=1_seed=0.gif" in files
    assert {"runs/beta=1_seed=0/metrics.json", "runs/beta=4_seed=0/done.json"} <= files
    assert "runs/beta=4_seed=1/history.csv" in files  # a failed run's evidence too
    assert not any(f.endswith("model.keras") for f in files)
    assert "report.html" not in files
    assert (dest / "results.csv").read_text() == (sweep / "results.csv").read_text()
    assert missing_run_files(str(dest)) == []


def test_a_finished_run_without_its_files_is_reported(sweep, tmp_path):
    dest = tmp_path / "docs"
    publish(str(sweep), str(dest))
    (dest / "runs" / "beta=4_seed=0" / "metrics.json").unlink()
    assert missing_run_files(str(dest)) == ["runs/beta=4_seed=0/metrics.json"]


def test_publishing_a_directory_without_results_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no results.csv"):
        publish(str(tmp_path), str(tmp_path / "docs"))
