"""A sweep on remote storage (TensorFlow's in-memory ram://), and collect merging its runs.

ram:// lives in one process, so the sweep runs in-process through the CLI (CliRunner); on
Vertex AI the same paths are gs:// buckets.
"""

from __future__ import annotations

import json
import math
import os
import uuid

import numpy as np
import pytest
import tensorflow as tf
from typer.testing import CliRunner

from cli.main import app
from kbetavae import io as kio
from kbetavae.errors import InputError
from kbetavae.study.collect import collect

SWEEP = ["--betas", "1,4", "--seeds", "0", "--epochs", "1", "--subset", "500"]
SMALL = ["--eval-points", "100", "--traverse-beta", "4", "--quiet"]
RUN_FILES = ["config.json", "done.json", "history.csv", "metrics.json", "model.keras"]


def figure_names(sweep_dir: str) -> list[str]:
    found = kio.glob(sweep_dir, "figures/*") + kio.glob(sweep_dir, "figures/traversals/*")
    return sorted(os.path.relpath(path, sweep_dir) for path in found if not kio.is_dir(path))


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A finished 2-run sweep under ram://; the test's working directory stays empty."""
    root = f"ram://kbetavae-{uuid.uuid4().hex[:8]}"
    home = tmp_path_factory.mktemp("cwd")
    previous = os.getcwd()
    os.chdir(home)
    try:
        args = ["sweep", *SWEEP, *SMALL, "--name", "t", "--out", f"{root}/runs"]
        result = CliRunner().invoke(app, [*args, "--saved-models", f"{root}/sm"])
    finally:
        os.chdir(previous)
    assert result.exit_code == 0, result.output
    return {"root": root, "sweep": f"{root}/runs/t", "home": home}


def test_a_sweep_to_remote_storage_writes_everything_there_and_nothing_locally(swept):
    sweep = swept["sweep"]
    assert os.listdir(swept["home"]) == []
    rows = kio.read_text(f"{sweep}/results.csv").splitlines()
    assert len(rows) == 3 and all(",done," in row for row in rows[1:])
    for run in ("beta=1_seed=0", "beta=4_seed=0"):
        names = sorted(os.path.basename(p) for p in kio.glob(f"{sweep}/{run}", "*"))
        assert names == RUN_FILES  # the backup was removed from the bucket too
        assert kio.exists(f"{swept['root']}/sm/t/{run}/1/saved_model.pb")
    assert {"figures/loss_kl.png", "figures/metrics_vs_beta.png"} <= set(figure_names(sweep))
    assert 'data-figure="metrics_vs_beta"' in kio.read_text(f"{sweep}/report.html")


def test_a_remote_saved_model_serves_its_signatures(swept):
    loaded = tf.saved_model.load(f"{swept['root']}/sm/t/beta=4_seed=0/1")
    out = loaded.signatures["encode"](images=tf.zeros((2, 64, 64, 1)))
    assert out["mu"].shape == (2, 10) and np.all(np.isfinite(out["mu"]))


def test_collect_over_the_run_dirs_reproduces_the_sweep_table_figures_and_report(swept):
    sweep = swept["sweep"]
    runs = [f"{sweep}/beta=4_seed=0", f"{sweep}/beta=1_seed=0"]  # any order
    # The library draws the report, as the CLI does: a script's collect has one too.
    merged = collect(runs, f"{swept['root']}/collected", traverse_beta=4.0)
    out = merged.out
    assert merged.report.path == f"{out}/report.html" and merged.report.note is None
    assert kio.read_text(f"{out}/results.csv") == kio.read_text(f"{sweep}/results.csv")
    assert kio.read_text(f"{out}/results.md") == kio.read_text(f"{sweep}/results.md")
    assert figure_names(out) == figure_names(sweep)
    for name in figure_names(sweep):  # drawn by the same code from the same files
        assert kio.read_bytes(f"{out}/{name}") == kio.read_bytes(f"{sweep}/{name}"), name
    assert merged.unfinished == []
    report = kio.read_text(f"{out}/report.html")
    assert "merged by <code>kbetavae collect</code>" in report and runs[0] in report
    record = json.loads(kio.read_text(f"{out}/sweep.json"))
    assert [r["run_dir"] for r in record["runs"]] == runs[::-1]  # ordered by β
    planned = json.loads(kio.read_text(f"{sweep}/sweep.json"))["plan"]
    assert {**record["plan"], "name": "t"} == planned  # the plan the sweep had


def test_collect_cli_takes_a_sweep_dir_and_a_collected_set(swept):
    sweep = swept["sweep"]
    first = f"{swept['root']}/cli-collected"
    result = CliRunner().invoke(app, ["collect", sweep, "--out", first, "--no-figures"])
    assert result.exit_code == 0, result.output
    assert "collected 2 runs: β 1, 4; seeds 0" in result.output
    assert kio.read_text(f"{first}/results.csv") == kio.read_text(f"{sweep}/results.csv")
    # A merged set is itself a source: it contributes the runs it lists.
    again = f"{swept['root']}/cli-collected-again"
    result = CliRunner().invoke(app, ["collect", first, "--out", again, "--no-figures"])
    assert result.exit_code == 0, result.output
    assert kio.read_text(f"{again}/results.csv") == kio.read_text(f"{sweep}/results.csv")


def test_a_collected_set_is_not_swept_into(swept):
    out = f"{swept['root']}/collected-once"
    collect([swept["sweep"]], out, report=False)
    args = ["sweep", *SWEEP, *SMALL, "--name", "collected-once", "--out", swept["root"]]
    result = CliRunner().invoke(app, [*args, "--saved-models", f"{swept['root']}/sm"])
    assert result.exit_code == 2
    assert "merged by `kbetavae collect`" in result.output


def copy_run(source: str, target: str, **config_changes) -> None:
    """A run directory's small files, with its config edited."""
    for name in ("done.json", "history.csv", "metrics.json"):
        kio.write_text_atomic(f"{target}/{name}", kio.read_text(f"{source}/{name}"))
    record = json.loads(kio.read_text(f"{source}/config.json"))
    record["config"].update(config_changes)
    kio.write_json_atomic(f"{target}/config.json", record)


def test_other_studies_and_one_run_twice_are_refused_other_objectives_form_a_grid(swept):
    root, sweep = swept["root"], swept["sweep"]
    copy_run(f"{sweep}/beta=4_seed=0", f"{root}/other/lr", lr=0.01, beta=8.0)
    with pytest.raises(InputError, match=r"the runs differ in lr \(0\.001 in .*, 0\.01 in"):
        collect([sweep, f"{root}/other/lr"], f"{root}/never")
    copy_run(f"{sweep}/beta=4_seed=0", f"{root}/other/twin")
    with pytest.raises(InputError, match=r"two runs of beta=4_seed=0: .*; collect one of them"):
        collect([sweep, f"{root}/other/twin"], f"{root}/never")
    assert not kio.exists(f"{root}/never")
    # A btcvae run of the same β and seed is another setting: the runs collect as a grid.
    copy_run(f"{sweep}/beta=4_seed=0", f"{root}/other/tc", objective="btcvae")
    merged = collect([sweep, f"{root}/other/tc"], f"{root}/grid")
    assert merged.plan.grid_text() == "settings beta=1, beta=4, btcvae_beta=4"
    assert [r["setting"] for r in merged.rows] == ["beta=1", "beta=4", "btcvae_beta=4"]


def test_unfinished_runs_are_left_out_and_reported(swept):
    root, sweep = swept["root"], swept["sweep"]
    config = kio.read_text(f"{sweep}/beta=1_seed=0/config.json")
    kio.write_text_atomic(f"{root}/job/trial-9/model/beta=9_seed=0/config.json", config)
    copy_run(f"{sweep}/beta=4_seed=0", f"{root}/job/trial-4/model/beta=4_seed=0")
    merged = collect([f"{root}/job"], f"{root}/job-collected", report=False)
    assert merged.report is None
    assert [(r["beta"], r["seed"], r["status"]) for r in merged.rows] == [(4.0, 0, "done")]
    assert merged.unfinished == [f"{root}/job/trial-9/model/beta=9_seed=0"]
    assert math.isfinite(merged.rows[0]["mig"])


def test_a_directory_without_runs_is_refused(swept):
    kio.write_text_atomic(f"{swept['root']}/empty/readme.txt", "no runs here")
    with pytest.raises(InputError, match=r"holds no runs \(a run directory has config.json"):
        collect([f"{swept['root']}/empty"], f"{swept['root']}/never")


def test_udr_of_collected_runs_encodes_their_data_variant(tmp_path, monkeypatch):
    # a colour study's models take 3-channel images: UDR must draw them through the variant
    from kbetavae.study import collect as collect_module
    from kbetavae.study import setting_scores
    from kbetavae.study.plan import SweepPlan
    from kbetavae.training import TrainConfig, rundir

    config = TrainConfig(data="color-dsprites")
    runs = []
    for seed in (0, 1):
        run_dir = str(tmp_path / f"beta=1_seed={seed}")
        os.makedirs(run_dir)
        rundir.write_metrics(run_dir, {})
        result = rundir.TrainResult(run_dir, "done", 1, 1, {})
        runs.append(collect_module.Run(run_dir, config.replace(seed=seed), result))
    drawn = []
    monkeypatch.setattr(setting_scores, "scorable", lambda run_dirs: True)
    monkeypatch.setattr(
        setting_scores, "score_setting", lambda run_dirs, data, points: drawn.append(data)
    )
    collect_module.score_settings(runs, SweepPlan(base=config, seeds=(0, 1), betas=(1.0,)))
    assert [data.image_shape for data in drawn] == [(64, 64, 3)]
