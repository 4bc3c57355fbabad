"""``publish`` and ``publish_figures``: a sweep's evidence (not its models) merged into a
report directory.

The sweeps are the synthetic ones of ``tests/synthetic_sweep.py`` (files, no training):
seed 0 of β = 1 and 4 first, then seed 1 of the same study from a second sweep, as a study
too long for one sitting is published.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from kbetavae.errors import InputError
from kbetavae.study.motion import MOTION_CSV, write_motion_csv
from kbetavae.study.publish import missing_run_files
from kbetavae.study.publish import publish as publish_runs
from kbetavae.study.results import read_results, sweep_run_dirs

from ..synthetic_sweep import build_sweep, row_of

BETAS = (1.0, 4.0)
MODEL_FREE = ("loss_kl.png", "loss_reconstruction.png", "loss_total.png", "metrics_vs_beta.png")
FROM_MODELS = ("traversals_beta=4.png", "reconstructions.png")


def publish(sweep_dir: str, dest: str) -> None:
    """What ``kbetavae publish`` does: the runs and tables, then the figures (viz layer)."""
    from kbetavae.viz.report import publish_figures

    publish_runs(sweep_dir, dest)
    publish_figures(sweep_dir, dest)


def motion_rows(seed: int, angle: float) -> list[dict]:
    """Two latents of every run, the first moving at ``angle``."""
    return [
        {"run": f"beta={beta:g}_seed={seed}", "beta": beta, "seed": seed, "latent": latent,
         "active": True, "kl": 1.0, "angle_deg": angle if latent == 0 else 0.0,
         "extent_px": 10.0, "straightness": 1.0, "size_change": 0.0, "mass_change": 0.0,
         "turn_deg": 0.0, "vanished": False}
        for beta in BETAS for latent in (0, 1)
    ]  # fmt: skip


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory) -> dict[int, Path]:
    """Seed 0 and seed 1 of one study, as two sweeps with their figures and motion."""
    root = tmp_path_factory.mktemp("sweeps")
    built = {}
    for seed, angle in ((0, 30.0), (1, -60.0)):
        sweep = build_sweep(root, name=f"s{seed}", betas=BETAS, seeds=(seed,))
        (sweep / "report.html").write_text("<html></html>")
        write_motion_csv(motion_rows(seed, angle), str(sweep / MOTION_CSV))
        built[seed] = sweep
    return built


def files_of(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


def test_publish_copies_the_evidence_and_leaves_models_and_the_page_out(sweeps, tmp_path):
    dest = tmp_path / "docs"
    publish(str(sweeps[0]), str(dest))
    files = files_of(dest)
    assert {"sweep.json", "results.csv", "results.md", MOTION_CSV} <= files
    assert {f"figures/{name}" for name in (*MODEL_FREE, *FROM_MODELS)} <= files
    assert {"figures/traversals/beta=1_seed=0.gif", "figures/traversals/beta=4_seed=0.gif"} <= files
    for run in ("beta=1_seed=0", "beta=4_seed=0"):
        assert {f"runs/{run}/{f}" for f in ("config.json", "history.csv", "metrics.json")} <= files
        assert f"runs/{run}/done.json" in files
    assert not any(f.endswith("model.keras") for f in files)
    # In its place the encoder in float16: 252,052 weights, about 0.46 MB.
    assert {f"runs/{run}/encoder.npz" for run in ("beta=1_seed=0", "beta=4_seed=0")} <= files
    assert (dest / "runs" / "beta=4_seed=0" / "encoder.npz").stat().st_size < 0.51e6
    assert not any(f.endswith("metrics_float32.json") for f in files)
    assert "report.html" not in files
    # The table is the sweep's, re-tabulated from the published run files.
    rows = read_results(str(dest))
    assert [(r["beta"], r["seed"], r["mig"]) for r in rows] == [
        (b, 0, pytest.approx(row_of(b, 0)["mig"])) for b in BETAS
    ]
    assert missing_run_files(str(dest)) == []


def test_runs_are_listed_relative_to_the_report_so_it_can_move(sweeps, tmp_path):
    dest = tmp_path / "docs"
    publish(str(sweeps[0]), str(dest))
    record = json.loads((dest / "sweep.json").read_text())
    assert [r["run_dir"] for r in record["runs"]] == ["runs/beta=1_seed=0", "runs/beta=4_seed=0"]
    assert record["plan"]["name"] == "s0" and record["sources"] == ["runs"]
    moved = tmp_path / "elsewhere"
    shutil.move(dest, moved)
    assert [d for _, _, d in sweep_run_dirs(str(moved))] == [
        str(moved / "runs" / "beta=1_seed=0"),
        str(moved / "runs" / "beta=4_seed=0"),
    ]
    assert missing_run_files(str(moved)) == []


def test_a_second_sweep_of_other_seeds_is_merged_and_keeps_the_first_seeds_figures(
    sweeps, tmp_path
):
    dest = tmp_path / "docs"
    publish(str(sweeps[0]), str(dest))
    first = {name: (dest / "figures" / name).read_bytes() for name in (*MODEL_FREE, *FROM_MODELS)}
    publish(str(sweeps[1]), str(dest))

    rows = read_results(str(dest))
    assert [(r["beta"], r["seed"]) for r in rows] == [(1.0, 0), (1.0, 1), (4.0, 0), (4.0, 1)]
    assert "2 seeds" in (dest / "results.md").read_text()
    figures = dest / "figures"
    # Traversal and reconstructions show each β's first seed: still seed 0's drawings.
    for name in FROM_MODELS:
        assert (figures / name).read_bytes() == first[name], name
    seed_1 = (sweeps[1] / "figures" / "traversals_beta=4.png").read_bytes()  # "seed 1" title
    assert (figures / "traversals_beta=4.png").read_bytes() != seed_1
    # Loss curves and metrics are redrawn over both seeds.
    assert (figures / "metrics_vs_beta.png").read_bytes() != first["metrics_vs_beta.png"]
    assert len(list((figures / "traversals").glob("*.gif"))) == 4
    motion = list(csv.DictReader(io.StringIO((dest / MOTION_CSV).read_text())))
    assert [(r["run"], r["latent"]) for r in motion] == [
        (f"beta={b:g}_seed={s}", str(z)) for b in BETAS for s in (0, 1) for z in (0, 1)
    ]
    moved = {(r["run"], float(r["angle_deg"])) for r in motion if r["latent"] == "0"}
    assert moved == {(f"beta={b:g}_seed={s}", a) for b in BETAS for s, a in ((0, 30), (1, -60))}
    assert missing_run_files(str(dest)) == []


def test_publishing_a_sweep_again_replaces_its_runs(sweeps, tmp_path):
    dest = tmp_path / "docs"
    publish(str(sweeps[0]), str(dest))
    table = (dest / "results.csv").read_text()
    motion = (dest / MOTION_CSV).read_text()
    publish(str(sweeps[0]), str(dest))
    assert (dest / "results.csv").read_text() == table
    assert (dest / MOTION_CSV).read_text() == motion


def test_only_the_published_runs_motion_is_merged_however_often_it_is_published(sweeps, tmp_path):
    """A sweep's motion file with rows of a run that is not published (unfinished, or
    removed): they stay out, and a second publish leaves the file as the first did."""
    sweep = tmp_path / "s0"
    shutil.copytree(sweeps[0], sweep)
    stray = [{**row, "run": "beta=9_seed=0", "beta": 9.0} for row in motion_rows(0, 30.0)[:2]]
    write_motion_csv(motion_rows(0, 30.0) + stray, str(sweep / MOTION_CSV))
    dest = tmp_path / "docs"
    publish(str(sweep), str(dest))
    motion = (dest / MOTION_CSV).read_text()
    runs = [r["run"] for r in csv.DictReader(io.StringIO(motion))]
    assert runs == [f"beta={b:g}_seed=0" for b in BETAS for _ in (0, 1)]
    publish(str(sweep), str(dest))
    assert (dest / MOTION_CSV).read_text() == motion


def test_a_run_republished_without_its_model_keeps_its_archive_if_it_is_the_same_training(
    sweeps, tmp_path
):
    dest = tmp_path / "docs"
    publish(str(sweeps[0]), str(dest))
    archive = (dest / "runs" / "beta=4_seed=0" / "encoder.npz").read_bytes()
    without = tmp_path / "without"
    shutil.copytree(sweeps[0], without)
    for model in without.glob("*/model.keras"):
        model.unlink()
    publish_runs(str(without), str(dest))
    assert (dest / "runs" / "beta=4_seed=0" / "encoder.npz").read_bytes() == archive
    # Trained again (another done.json): the archive was the old training's, so it goes.
    done = without / "beta=4_seed=0" / "done.json"
    done.write_text(json.dumps({**json.loads(done.read_text()), "finished_at": "later"}))
    publish_runs(str(without), str(dest))
    assert not (dest / "runs" / "beta=4_seed=0" / "encoder.npz").exists()
    assert (dest / "runs" / "beta=1_seed=0" / "encoder.npz").exists()


def test_a_model_that_cannot_be_read_stops_publish_before_anything_is_written(sweeps, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(sweeps[0], damaged)
    model = damaged / "beta=4_seed=0" / "model.keras"
    model.write_bytes(model.read_bytes()[:1000])
    dest = tmp_path / "docs"
    result = CliRunner().invoke(app, ["publish", str(damaged), str(dest), "--no-motion"])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert f"{model} is not a .keras file" in result.output
    assert not dest.exists()


def test_runs_of_another_study_are_refused_before_anything_is_written(sweeps, tmp_path):
    dest = tmp_path / "docs"
    publish(str(sweeps[0]), str(dest))
    before = {name: (dest / name).read_bytes() for name in files_of(dest)}
    other = build_sweep(tmp_path, with_figures=False, name="other", betas=(1.0,), seeds=(2,))
    config = other / "beta=1_seed=2" / "config.json"
    record = json.loads(config.read_text())
    record["config"]["epochs"] = 7
    config.write_text(json.dumps(record))
    with pytest.raises(InputError, match="differ in epochs"):
        publish(str(other), str(dest))
    assert {name: (dest / name).read_bytes() for name in files_of(dest)} == before


def test_a_finished_run_without_its_files_is_reported(sweeps, tmp_path):
    dest = tmp_path / "docs"
    publish(str(sweeps[0]), str(dest))
    (dest / "runs" / "beta=4_seed=0" / "metrics.json").unlink()
    assert missing_run_files(str(dest)) == ["runs/beta=4_seed=0/metrics.json"]


def test_publishing_a_directory_without_results_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no results.csv"):
        publish(str(tmp_path), str(tmp_path / "docs"))


def test_a_sweep_without_finished_runs_is_refused_and_nothing_is_written(sweeps, tmp_path):
    unfinished = tmp_path / "unfinished"
    shutil.copytree(sweeps[0], unfinished)
    for done in unfinished.glob("*/done.json"):
        done.unlink()
    with pytest.raises(InputError, match="no finished runs"):
        publish(str(unfinished), str(tmp_path / "docs"))
    assert not (tmp_path / "docs").exists()


def test_a_run_still_training_is_left_out_until_it_finishes(sweeps, tmp_path):
    # The methods sweep published seed 4 while seed 5 trained: seed 5's half-written
    # config.json and history.csv went into the report with it.
    sweep = tmp_path / "training"
    shutil.copytree(sweeps[0], sweep)
    (sweep / "beta=4_seed=0" / "done.json").unlink()
    dest = tmp_path / "docs"
    publish_runs(str(sweep), str(dest))
    assert not (dest / "runs" / "beta=4_seed=0").exists()
    assert [r["beta"] for r in read_results(str(dest))] == [1.0]
    assert missing_run_files(str(dest)) == []


def test_the_cli_publishes_and_bad_input_is_one_line_exit_2(sweeps, tmp_path):
    dest = tmp_path / "docs"
    result = CliRunner().invoke(app, ["publish", str(sweeps[0]), str(dest)])
    assert result.exit_code == 0, result.output
    assert "published 2 runs" in result.output and "β 1, 4; seeds 0" in result.output
    assert missing_run_files(str(dest)) == []
    result = CliRunner().invoke(app, ["publish", str(tmp_path / "nowhere"), str(dest)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "kbetavae: error:" in result.output


def test_plot_redraws_a_published_report_without_its_models(sweeps, tmp_path):
    from kbetavae.viz.report import render_sweep_figures

    dest = tmp_path / "docs"
    publish(str(sweeps[0]), str(dest))
    traversal = (dest / "figures" / "traversals_beta=4.png").read_bytes()
    written = render_sweep_figures(str(dest))  # no model.keras under runs/: files only
    assert {p.rsplit("/", 1)[-1] for p in written} >= set(MODEL_FREE)
    assert not any("traversal" in p or "reconstructions" in p for p in written)
    assert (dest / "figures" / "traversals_beta=4.png").read_bytes() == traversal
