"""Publishing keeps what re-evaluation needs: each run's encoder in float16 (encoder.npz),
from which ``kbetavae evaluate`` recomputes the encoder's metrics without the model.

A real sweep of two tiny models (β = 1 and 4, two epochs on 512 images, 100 evaluation
points) is published with ``--from-archive``: metrics.json is then the archive's evaluation
and metrics_float32.json the sweep's. The float32-vs-float16 differences of these tiny
models' metrics are measured and bounded in
:func:`test_the_float16_archive_moves_the_metrics_little`.
"""

from __future__ import annotations

import importlib
import json
import shutil

import pytest
from typer.testing import CliRunner

from cli.main import app
from kbetavae.metrics import registry
from kbetavae.trained.archive import read_weights

pytest.importorskip("tensorflow")
runner = CliRunner()
SMALL = ["--eval-points", "100"]
RUNS = ("beta=1_seed=0", "beta=4_seed=0")
# What evaluate adds to say what it read, and the seconds: the rest must be equal.
UNCOMPARED = ("timing", "model", "source")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    from kbetavae.study.plan import SweepPlan
    from kbetavae.study.sweep import run_sweep

    root = tmp_path_factory.mktemp("archive")
    plan = SweepPlan.of(name="tiny", betas=(1.0, 4.0), epochs=2, subset=512, eval_points=100)
    run_sweep(plan, root / "runs", root / "sm")
    return root / "runs" / "tiny"


@pytest.fixture(scope="module")
def published(sweep, tmp_path_factory):
    """``(report directory, publish's output)`` of the sweep published from its archives."""
    dest = tmp_path_factory.mktemp("docs") / "results"
    args = ["publish", str(sweep), str(dest), "--no-motion", "--from-archive"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return dest, result.output


def compared(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in UNCOMPARED}


def test_publish_writes_an_archive_per_run_and_says_how_big(published):
    dest, output = published
    for run in RUNS:
        path = dest / "runs" / run / "encoder.npz"
        assert sum(w.size for w in read_weights(str(path))) == 252_052
        assert 400_000 < path.stat().st_size < 0.51 * 252_052 * 4
    assert "wrote 2 encoder archives (encoder.npz, float16): 0.9 MB in all" in output
    assert "metrics.json from the archives" in output
    # Both runs are of seed 0: evaluated together, on one draw of images.
    together = "evaluating beta=1_seed=0, beta=4_seed=0 from their encoder archives (seed 0"
    assert together in output and output.count("evaluating ") == 1
    assert not list(dest.rglob("model.keras"))


def test_published_metrics_are_the_archives_and_the_sweeps_are_kept_beside(sweep, published):
    dest, _ = published
    for run in RUNS:
        swept = json.loads((sweep / run / "metrics.json").read_text())
        kept = json.loads((dest / "runs" / run / "metrics_float32.json").read_text())
        archived = json.loads((dest / "runs" / run / "metrics.json").read_text())
        assert kept == swept
        assert archived["encoder"] == {"archive": "encoder.npz", "weights": "float16"}
        assert archived["heldout"] == swept["heldout"]  # needs the decoder: the sweep's
        assert archived["protocol"] == swept["protocol"] and archived["seed"] == 0


def test_evaluate_on_the_published_run_reproduces_its_metrics_json_exactly(published, tmp_path):
    dest, _ = published
    for run in RUNS:
        run_dir = dest / "runs" / run
        out = tmp_path / f"{run}.json"
        result = runner.invoke(app, ["evaluate", str(run_dir), "-o", str(out), *SMALL])
        assert result.exit_code == 0, result.output
        note = [line for line in result.output.splitlines() if "kbetavae: note:" in line]
        assert note == [
            "kbetavae: note: cannot recompute from the encoder archive: heldout (needs the "
            "decoder); kept from metrics.json"
        ]
        evaluated = json.loads(out.read_text())
        published_record = json.loads((run_dir / "metrics.json").read_text())
        assert compared(evaluated) == compared(published_record)
        assert evaluated["model"] == str(run_dir / "encoder.npz")


def test_the_float16_archive_moves_the_metrics_little(published):
    # Measured on these tiny models at 100 points: MIG moved by 0 and -0.0030, Modularity by
    # -0.0004 and +0.000003, Z-diff by 0, the per-latent KL by 3e-7 nats at most.
    dest, _ = published
    for run in RUNS:
        float32 = json.loads((dest / "runs" / run / "metrics_float32.json").read_text())
        float16 = json.loads((dest / "runs" / run / "metrics.json").read_text())
        scores = {
            name: float16[name]["score"] - float32[name]["score"] for name in float16["metrics"]
        }
        kl = max(
            abs(a - b)
            for a, b in zip(float16["kl_per_latent"], float32["kl_per_latent"], strict=True)
        )
        print(f"{run}: Δ scores {scores}, max |Δ KL| {kl:.3g} nats")
        assert all(abs(d) <= 0.02 for d in scores.values()), scores
        assert kl < 1e-3
        assert float16["active_latents"] == float32["active_latents"]
        assert set(float16["metrics"]) == set(registry.default_names())


def test_a_damaged_or_missing_archive_is_one_line_and_exit_2(published, tmp_path):
    dest, _ = published
    run_dir = tmp_path / RUNS[0]
    shutil.copytree(dest / "runs" / RUNS[0], run_dir)
    archive = run_dir / "encoder.npz"
    archive.write_bytes(archive.read_bytes()[:1000])
    result = runner.invoke(app, ["evaluate", str(run_dir), *SMALL])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert f"{archive} is damaged (BadZipFile" in result.output
    assert "`kbetavae publish <sweep> <report>`" in result.output
    archive.unlink()
    result = runner.invoke(app, ["evaluate", str(run_dir), *SMALL])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "whose model.keras is gone and which has no encoder.npz" in result.output


def test_publishing_without_from_archive_keeps_the_sweeps_metrics(sweep, published, tmp_path):
    dest = tmp_path / "results"
    shutil.copytree(published[0], dest)  # published from the archives before
    result = runner.invoke(app, ["publish", str(sweep), str(dest), "--no-motion"])
    assert result.exit_code == 0, result.output
    assert "wrote 2 encoder archives" in result.output
    for run in RUNS:
        published_record = (dest / "runs" / run / "metrics.json").read_text()
        assert published_record == (sweep / run / "metrics.json").read_text()
        assert not (dest / "runs" / run / "metrics_float32.json").exists()
        assert (dest / "runs" / run / "encoder.npz").exists()


def test_metrics_the_sweep_left_out_are_computed_from_the_archives(sweep, published, tmp_path):
    # The sweep computed the three defaults; publishing with --metrics adds SAP to every
    # run, and `kbetavae evaluate` on the published run (no options) computes the same.
    dest = tmp_path / "results"
    shutil.copytree(published[0], dest)
    wanted = "mig,zdiff,modularity,sap"
    args = ["publish", str(sweep), str(dest), "--no-motion", "--from-archive"]
    result = runner.invoke(app, [*args, "--metrics", wanted])
    assert result.exit_code == 0, result.output
    for run in RUNS:
        record = json.loads((dest / "runs" / run / "metrics.json").read_text())
        assert record["metrics"] == wanted.split(",") and 0 <= record["sap"]["score"] <= 1
        swept = json.loads((dest / "runs" / run / "metrics_float32.json").read_text())
        assert (
            "sap" not in swept
            and record["mig"]
            == json.loads((published[0] / "runs" / run / "metrics.json").read_text())["mig"]
        )  # the same archive and draws: the same MIG as published before
        out = tmp_path / f"{run}.json"
        evaluated = runner.invoke(app, ["evaluate", str(dest / "runs" / run), "-o", str(out)])
        assert evaluated.exit_code == 0, evaluated.output
        assert "100 eval points, as the run recorded" in evaluated.output
        assert compared(json.loads(out.read_text())) == compared(record)
    assert "sap" in (dest / "results.csv").read_text().splitlines()[0].split(",")


def test_metrics_are_refused_where_runs_would_stay_evaluated_otherwise(sweep, published, tmp_path):
    dest = tmp_path / "results"
    shutil.copytree(published[0], dest)
    args = ["publish", str(sweep), str(dest), "--no-motion"]
    alone = runner.invoke(app, [*args, "--metrics", "mig,sap"])
    assert alone.exit_code == 2 and alone.output.count("\n") == 1
    assert "--metrics needs --from-archive" in alone.output
    # A published run of another sweep, whose model is not here, keeps its three metrics.
    other = dest / "runs" / "beta=1_seed=1"
    shutil.copytree(dest / "runs" / RUNS[0], other)
    config = json.loads((other / "config.json").read_text())
    config["config"]["seed"] = 1
    (other / "config.json").write_text(json.dumps(config))
    before = sorted(p.read_bytes() for p in dest.rglob("*") if p.is_file())
    refused = runner.invoke(app, [*args, "--from-archive", "--metrics", "mig,sap"])
    assert refused.exit_code == 2 and refused.output.count("\n") == 1, refused.output
    assert f"{other} lists mig,zdiff,modularity, not mig,sap" in refused.output
    assert sorted(p.read_bytes() for p in dest.rglob("*") if p.is_file()) == before


def test_publishing_again_keeps_the_runs_evaluated_already_and_resumes_the_rest(
    sweep, published, tmp_path
):
    # A publish from the archives takes minutes a run: one stopped part-way resumes. Run 0
    # is as a finished publish left it; run 1 as a stop during its evaluation left it (the
    # sweep's metrics.json copied, no float32 record yet).
    dest = tmp_path / "results"
    shutil.copytree(published[0], dest)
    stopped = dest / "runs" / RUNS[1]
    shutil.copy(sweep / RUNS[1] / "metrics.json", stopped / "metrics.json")
    (stopped / "metrics_float32.json").unlink()
    finished = (dest / "runs" / RUNS[0] / "metrics.json").read_bytes()
    args = ["publish", str(sweep), str(dest), "--no-motion", "--from-archive"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"{RUNS[0]}: evaluated from its archive already, kept" in result.output
    assert f"evaluating {RUNS[0]}" not in result.output
    assert f"evaluating {RUNS[1]} from its encoder archive (seed 0, one draw)" in result.output
    assert (dest / "runs" / RUNS[0] / "metrics.json").read_bytes() == finished
    for run in RUNS:  # the resumed run evaluated as the first publish did (timing aside)
        again_record, first = (
            json.loads((d / "runs" / run / "metrics.json").read_text())
            for d in (dest, published[0])
        )
        assert compared(again_record) == compared(first)
    # Other metrics asked for: nothing published matches, every run is evaluated again.
    again = runner.invoke(app, [*args, "--metrics", "mig,modularity"])
    assert again.exit_code == 0, again.output
    assert f"evaluating {', '.join(RUNS)} from their encoder archives" in again.output


def stop_in_the_second_run(monkeypatch):
    """Make the second run's metrics raise KeyboardInterrupt (a Ctrl-C); a function that
    undoes it."""
    # The package exports the function `evaluate`, which hides the module of that name.
    evaluate_module = importlib.import_module("kbetavae.metrics.evaluate")
    evaluate_with = evaluate_module._evaluate_with
    calls = []

    def stop_at_the_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return evaluate_with(*args, **kwargs)

    monkeypatch.setattr(evaluate_module, "_evaluate_with", stop_at_the_second)
    return lambda: monkeypatch.setattr(evaluate_module, "_evaluate_with", evaluate_with)


def test_a_publish_stopped_inside_a_group_keeps_the_runs_it_finished(
    sweep, published, tmp_path, monkeypatch
):
    # Both runs are one group (seed 0). A stop (Ctrl-C) while the second run's metrics are
    # computed must not lose the first's: at the full protocol each run takes minutes.
    from kbetavae.study.publish import publish

    resume = stop_in_the_second_run(monkeypatch)
    dest = tmp_path / "results"
    with pytest.raises(KeyboardInterrupt):
        publish(str(sweep), str(dest), from_archive=True)
    resume()
    kept, stopped = (json.loads((dest / "runs" / r / "metrics.json").read_text()) for r in RUNS)
    first = json.loads((published[0] / "runs" / RUNS[0] / "metrics.json").read_text())
    assert compared(kept) == compared(first)
    assert "encoder" not in stopped  # still the sweep's record: evaluated again below
    assert not (dest / "runs" / RUNS[1] / "metrics_float32.json").exists()
    lines = []
    publish(str(sweep), str(dest), from_archive=True, say=lines.append)
    assert f"{RUNS[0]}: evaluated from its archive already, kept" in lines
    assert f"evaluating {RUNS[1]} from its encoder archive (seed 0, one draw)" in lines
    for run in RUNS:
        again = json.loads((dest / "runs" / run / "metrics.json").read_text())
        assert compared(again) == compared(
            json.loads((published[0] / "runs" / run / "metrics.json").read_text())
        )


def test_a_publish_stopped_with_a_code_cache_resumes_without_encoding_again(
    sweep, published, tmp_path, monkeypatch
):
    # At the full protocol a seed's group spends most of an hour encoding before its first
    # run is done; with --code-cache a stop loses none of that: the codes were kept.
    from kbetavae.metrics import representation
    from kbetavae.study.publish import publish

    resume = stop_in_the_second_run(monkeypatch)
    dest, cache = tmp_path / "results", tmp_path / "codes"
    with pytest.raises(KeyboardInterrupt):
        publish(str(sweep), str(dest), from_archive=True, code_cache=str(cache))
    resume()
    assert len(list(cache.glob("*.npz"))) == len(RUNS)  # one file per archive

    def no_encoding(*args, **kwargs):
        raise AssertionError("encoded images the cache holds")

    monkeypatch.setattr(representation, "_encode_index_many", no_encoding)
    publish(str(sweep), str(dest), from_archive=True, code_cache=str(cache))
    loaded = []
    for run in RUNS:
        again = json.loads((dest / "runs" / run / "metrics.json").read_text())
        first = json.loads((published[0] / "runs" / run / "metrics.json").read_text())
        assert compared(again) == compared(first)  # bit for bit: the same codes
        loaded.append(again["timing"]["codes_loaded"] == again["images_encoded"])
    assert loaded == [False, True]  # the first run was kept; the second read every code


def test_a_code_cache_without_from_archive_is_one_line_and_exit_2(sweep, tmp_path):
    args = ["publish", str(sweep), str(tmp_path / "r"), "--no-motion", "--code-cache", "c"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "error: --code-cache needs --from-archive" in result.output


def test_a_reports_runs_are_evaluated_from_their_own_archives(sweep, published, tmp_path):
    # A report published again (seeds trained in another session: no models, only their
    # archives) gets metrics its sweep left out; the float32 record stays the sweep's.
    dest = tmp_path / "results"
    args = ["publish", str(published[0]), str(dest), "--no-motion", "--from-archive"]
    result = runner.invoke(app, [*args, "--metrics", "mig,zdiff,modularity,sap"])
    assert result.exit_code == 0, result.output
    assert f"evaluating {', '.join(RUNS)} from their encoder archives" in result.output
    for run in RUNS:
        record = json.loads((dest / "runs" / run / "metrics.json").read_text())
        before = json.loads((published[0] / "runs" / run / "metrics.json").read_text())
        assert record["metrics"] == ["mig", "zdiff", "modularity", "sap"]
        assert record["mig"] == before["mig"]  # the same archive and draws
        swept = json.loads((sweep / run / "metrics.json").read_text())
        assert json.loads((dest / "runs" / run / "metrics_float32.json").read_text()) == swept
        assert (dest / "runs" / run / "encoder.npz").read_bytes() == (
            published[0] / "runs" / run / "encoder.npz"
        ).read_bytes()


def test_a_reports_runs_evaluated_as_asked_come_as_they_are(published, tmp_path):
    for from_archive in (["--from-archive"], []):
        dest = tmp_path / f"results{len(from_archive)}"
        args = ["publish", str(published[0]), str(dest), "--no-motion", *from_archive]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "evaluating" not in result.output
        for run in RUNS:
            for file in ("metrics.json", "metrics_float32.json", "encoder.npz"):
                copied = (dest / "runs" / run / file).read_bytes()
                assert copied == (published[0] / "runs" / run / file).read_bytes(), file
