"""The sweep as a user runs it: a real subprocess, its files, its SavedModels, a kill -9."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app

KBETAVAE = [sys.executable, "-m", "cli.main"]
SMALL = ["--seeds", "0", "--subset", "1000", "--eval-points", "100", "--quiet"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
EXPECTED_FIGURES = [
    "loss_kl.png",
    "loss_reconstruction.png",
    "loss_total.png",
    "metrics_vs_beta.png",
    "kl_per_latent.png",
    "matrices_beta=1.png",
    "reconstructions.png",
]


def _sweep(tmp: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    command = [
        *KBETAVAE,
        "sweep",
        "--out",
        str(tmp / "runs"),
        "--saved-models",
        str(tmp / "sm"),
        "--name",
        "t",
        *SMALL,
        *args,
    ]
    return subprocess.run(
        command, capture_output=True, text=True, env=ENV, cwd=tmp, timeout=900, **kwargs
    )


def _rows(tmp: Path) -> list[dict]:
    with open(tmp / "runs" / "t" / "results.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("sweep")
    done = _sweep(tmp, "--betas", "1,4", "--epochs", "1", "--traverse-beta", "4")
    assert done.returncode == 0, done.stderr[-3000:]
    return tmp


def test_table_has_a_row_per_run_with_finite_metrics(swept):
    rows = _rows(swept)
    assert [(float(r["beta"]), int(r["seed"])) for r in rows] == [(1.0, 0), (4.0, 0)]
    for row in rows:
        assert row["status"] == "done"
        for key in ("mig", "zdiff", "modularity", "reconstruction", "kl"):
            assert math.isfinite(float(row[key])), (key, row)
    summary = (swept / "runs" / "t" / "results.md").read_text()
    assert "Summary per β" in summary and "| 4 |" in summary


def test_every_figure_is_a_valid_png_of_sensible_size(swept):
    from PIL import Image

    figures = swept / "runs" / "t" / "figures"
    names = [*EXPECTED_FIGURES, "matrices_beta=4.png", "traversals_beta=4.png"]
    for name in names:
        path = figures / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        with Image.open(path) as image:
            assert image.width >= 400 and image.height >= 250, (name, image.size)
        assert path.stat().st_size > 10_000, name
    for run in ("beta=1_seed=0", "beta=4_seed=0"):
        with Image.open(figures / "traversals" / f"{run}.gif") as gif:
            assert gif.n_frames >= 10


def test_run_dirs_record_config_versions_and_git_revision(swept):
    sweep = json.loads((swept / "runs" / "t" / "sweep.json").read_text())
    assert sweep["plan"]["betas"] == [1.0, 4.0] and "tensorflow" in sweep["versions"]
    assert "git_revision" in sweep
    config = json.loads((swept / "runs" / "t" / "beta=4_seed=0" / "config.json").read_text())
    assert config["config"]["beta"] == 4.0 and config["config"]["batch_size"] == 32


def test_saved_models_load_in_a_fresh_process_with_documented_signatures(swept):
    code = textwrap.dedent(
        """
        import json, sys
        import numpy as np
        import tensorflow as tf
        model = tf.saved_model.load(sys.argv[1])
        images = tf.constant(np.random.default_rng(0).integers(0, 2, (3, 64, 64, 1)), tf.float32)
        enc = model.signatures["encode"](images=images)
        dec = model.signatures["decode"](z=tf.zeros((2, 10)))
        rec = model.signatures["reconstruct"](images=images)
        default = model.signatures["serving_default"](images=images)
        print(json.dumps({
            "signatures": sorted(model.signatures),
            "encode": {k: list(v.shape) for k, v in enc.items()},
            "decode": {k: list(v.shape) for k, v in dec.items()},
            "reconstruct": {k: list(v.shape) for k, v in rec.items()},
            "default_is_encode": bool(np.array_equal(default["mu"], enc["mu"])),
            "probs_range": [float(tf.reduce_min(rec["probs"])), float(tf.reduce_max(rec["probs"]))],
            "deterministic": bool(np.array_equal(
                model.signatures["encode"](images=images)["mu"], enc["mu"])),
        }))
        """
    )
    path = swept / "sm" / "t" / "beta=4_seed=0" / "1"
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["signatures"] == ["decode", "encode", "reconstruct", "serving_default"]
    assert report["encode"] == {"mu": [3, 10], "logvar": [3, 10]}
    assert report["decode"] == {"probs": [2, 64, 64, 1]}
    assert report["reconstruct"] == {"probs": [3, 64, 64, 1]}
    assert report["default_is_encode"] and report["deterministic"]
    low, high = report["probs_range"]
    assert 0.0 <= low <= high <= 1.0


def test_saved_model_cli_lists_the_three_signatures(swept):
    cli = Path(sys.executable).with_name("saved_model_cli")
    path = swept / "sm" / "t" / "beta=1_seed=0" / "1"
    out = subprocess.run(
        [str(cli), "show", "--dir", str(path), "--all"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    for name in ("encode", "decode", "reconstruct"):
        assert f"signature_def['{name}']" in out.stdout


def test_plot_rerenders_the_figures_and_the_report_from_saved_results(swept):
    figures = swept / "runs" / "t" / "figures"
    report = swept / "runs" / "t" / "report.html"
    before = (figures / "metrics_vs_beta.png").stat().st_mtime_ns
    report_before = report.stat().st_mtime_ns
    result = CliRunner().invoke(app, ["plot", str(swept / "runs" / "t"), "--traverse-beta", "1"])
    assert result.exit_code == 0, result.output
    assert (figures / "metrics_vs_beta.png").stat().st_mtime_ns > before
    assert report.stat().st_mtime_ns > report_before
    assert (figures / "traversals_beta=1.png").is_file()


def test_traverse_renders_any_exported_model(swept, tmp_path):
    out = tmp_path / "trav.png"
    result = CliRunner().invoke(
        app,
        [
            "traverse",
            str(swept / "sm" / "t" / "beta=1_seed=0" / "1"),
            "--out",
            str(out),
            "--image-index",
            "12345",
            "--kl-points",
            "100",  # the sweep's --eval-points, with its seed (0): metrics.json's sample
            "--seed",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 10_000 and out.with_suffix(".gif").is_file()
    # Titled by its run, not by the SavedModel's version directory "1".
    assert "traversals of beta=1_seed=0 (SavedModel version 1)" in result.output
    # Row labels are metrics.json's kl_per_latent, not one image's KL.
    record = json.loads((swept / "runs" / "t" / "beta=1_seed=0" / "metrics.json").read_text())
    expected = "  ".join(f"z{i} {v:.4g}" for i, v in enumerate(record["kl_per_latent"]))
    assert "row labels (mean KL over 100 grid images (seed 0), nats): " + expected in result.output


def test_sweep_writes_report_html_and_report_rebuilds_it(swept):
    report = swept / "runs" / "t" / "report.html"
    html = report.read_text()
    assert html.count('<tr data-beta="1"') >= 2 and html.count('<tr data-beta="4"') >= 2
    assert 'data-figure="metrics_vs_beta"' in html and "data-missing" not in html
    report.unlink()
    done = subprocess.run(
        [*KBETAVAE, "report", str(swept / "runs" / "t")],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == f"wrote {report}"
    assert report.read_text().count("<img ") == html.count("<img ")


def test_report_of_a_directory_that_is_not_a_sweep_is_one_line_exit_2(tmp_path):
    done = subprocess.run(
        [*KBETAVAE, "report", str(tmp_path)], capture_output=True, text=True, env=ENV, timeout=300
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"kbetavae: error: {tmp_path} is not a sweep directory (no sweep.json/results.csv)"
    )
    assert list(tmp_path.iterdir()) == []


def test_export_writes_one_run_as_a_saved_model(swept, tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "export",
            str(swept / "runs" / "t" / "beta=4_seed=0"),
            "--saved-models",
            str(tmp_path),
            "--version",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    saved = tmp_path / "t" / "beta=4_seed=0" / "2" / "saved_model.pb"
    assert saved.is_file()
    before = saved.stat().st_mtime_ns
    # The same version again: refused in one line, the served export untouched ...
    again = [*KBETAVAE, "export", str(swept / "runs" / "t" / "beta=4_seed=0")]
    again += ["--saved-models", str(tmp_path), "--version", "2"]
    refused = subprocess.run(again, capture_output=True, text=True, env=ENV)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f"kbetavae: error: {saved.parent} already holds a SavedModel (TF Serving may be "
        "serving it); export to another --version, or replace it with --force"
    ]
    assert saved.stat().st_mtime_ns == before
    # ... unless --force.
    forced = subprocess.run([*again, "--force"], capture_output=True, text=True, env=ENV)
    assert forced.returncode == 0, forced.stderr
    assert saved.is_file() and saved.stat().st_mtime_ns != before


def test_export_of_a_run_outside_a_sweep_goes_to_saved_models_run_version(swept, tmp_path):
    solo = tmp_path / "runs" / "beta=4_seed=0"  # as `kbetavae train` leaves it: no sweep.json
    shutil.copytree(swept / "runs" / "t" / "beta=4_seed=0", solo)
    result = CliRunner().invoke(app, ["export", str(solo), "--saved-models", str(tmp_path / "sm")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "sm" / "beta=4_seed=0" / "1" / "saved_model.pb").is_file()
    assert not (tmp_path / "sm" / "runs").exists()


def test_a_killed_sweep_resumes_without_retraining_finished_runs(tmp_path):
    # Runs one after the other (a fused group's resume: tests/training/test_fused.py).
    args = ["--betas", "1,4", "--epochs", "2", "--no-fuse"]
    command = [
        *KBETAVAE,
        "sweep",
        "--out",
        str(tmp_path / "runs"),
        "--saved-models",
        str(tmp_path / "sm"),
        "--name",
        "t",
        *SMALL,
        *args,
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV, cwd=tmp_path
    )
    second = tmp_path / "runs" / "t" / "beta=4_seed=0"
    first_done = tmp_path / "runs" / "t" / "beta=1_seed=0" / "done.json"
    deadline = time.monotonic() + 600
    # Kill once the second run has backed up its first epoch (the backup's epoch marker
    # is written last, atomically).
    while time.monotonic() < deadline and process.poll() is None:
        if (second / "backup" / "training_metadata.json").is_file():
            break
        time.sleep(0.1)
    assert process.poll() is None, process.stdout.read()[-3000:]
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (second / "done.json").exists()
    first_stamp = first_done.stat().st_mtime_ns

    rerun = _sweep(tmp_path, *args)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    log = rerun.stderr
    assert "[1/2] beta=1_seed=0: already finished" in log
    assert "beta=1_seed=0: epoch" not in log  # the finished run was not retrained
    assert "[2/2] beta=4_seed=0: epoch 2/2" in log
    assert "[2/2] beta=4_seed=0: epoch 1/2" not in log  # resumed after epoch 1
    assert "[2/2] beta=4_seed=0: resuming from epoch 2/2 (1 done before)" in log
    assert first_done.stat().st_mtime_ns == first_stamp
    history = (second / "history.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in history[1:]] == ["0", "1"]
    rows = _rows(tmp_path)
    assert [r["status"] for r in rows] == ["done", "done"]
    assert all(math.isfinite(float(r["mig"])) for r in rows)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--betas", "-1"], "--betas values must be finite numbers >= 0"),
        (["--betas", "abc"], "--betas: 'abc' is not a number"),
        (["--epochs", "0"], "epochs"),
        (["--subset", "10000000"], "larger than the dataset"),
        (["--source", "mnist"], "unknown source 'mnist'"),
        # a study grid (tests/cli/test_sweep_grid_cli.py trains one)
        (["--objective", "beta:1,x"], "--objective 'beta:1,x': 'x' is not a number"),
        (["--objective", "btcvae", "--objective", "beta:1"], "give one --objective NAME"),
        (["--objective", "nope:1"], "objective must be one of beta, capacity"),
        (["--objective", "beta:4,4"], "names setting beta=4 more than once"),
        (["--objective", "capacity", "--betas", "1,4"], "sweep its capacity_max as"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, message):
    result = CliRunner().invoke(
        app,
        ["sweep", "--out", str(tmp_path / "runs"), "--saved-models", str(tmp_path / "sm"), *args],
    )
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_unwritable_out_is_one_line_exit_2(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = CliRunner().invoke(
        app,
        [
            "sweep",
            "--out",
            str(blocker / "runs"),
            "--saved-models",
            str(tmp_path / "sm"),
            "--betas",
            "1",
            "--epochs",
            "1",
            "--subset",
            "100",
        ],
    )
    assert result.exit_code == 2 and "--out" in result.output and "not writable" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_changing_the_plan_of_an_existing_sweep_is_refused_without_force(tmp_path):
    from kbetavae.study.plan import SweepPlan
    from kbetavae.study.sweep import _claim_sweep_dir

    _claim_sweep_dir(str(tmp_path / "t"), SweepPlan(name="t", betas=(1.0,)), force=False)
    result = CliRunner().invoke(
        app,
        [
            "sweep",
            "--out",
            str(tmp_path),
            "--saved-models",
            str(tmp_path / "sm"),
            "--name",
            "t",
            "--betas",
            "1,4",
        ],
    )
    assert result.exit_code == 2 and "--force" in result.output
