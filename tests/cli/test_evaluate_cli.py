"""``kbetavae evaluate``: metrics.json from a run directory or a SavedModel."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app

tf = pytest.importorskip("tensorflow")
runner = CliRunner()
SMALL = ["--eval-points", "100"]


class StripEncoder(tf.Module):
    """A SavedModel like the exported ones: ``encode`` images -> mu (mean of 4 row strips
    and 4 column strips: position-like latents), logvar 0."""

    @tf.function(input_signature=[tf.TensorSpec([None, 64, 64, 1], tf.float32, name="images")])
    def encode(self, images):
        rows = tf.reduce_mean(tf.reshape(images, [-1, 4, 16, 64]), axis=[2, 3])
        cols = tf.reduce_mean(tf.reshape(images, [-1, 64, 4, 16]), axis=[1, 3])
        mu = 10.0 * tf.concat([rows, cols], axis=1)
        return {"mu": mu, "logvar": tf.zeros_like(mu)}


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("serving") / "strips" / "3"
    module = StripEncoder()
    tf.saved_model.save(module, str(path), signatures={"encode": module.encode})
    return path


def test_evaluate_a_saved_model_writes_beside_its_serving_directory_not_into_it(saved_model):
    before = sorted(p.name for p in saved_model.parent.rglob("*"))
    result = runner.invoke(app, ["evaluate", str(saved_model), *SMALL])
    assert result.exit_code == 0, result.output
    # TF Serving polls strips/ for version directories: nothing new may appear in it.
    assert sorted(p.name for p in saved_model.parent.rglob("*")) == before
    report = json.loads((saved_model.parent.parent / "strips_v3_metrics.json").read_text())
    assert report["metrics"] == ["mig", "zdiff", "modularity"]
    assert report["source"] == "replica" and report["num_latents"] == 8
    assert report["protocol"]["num_points"] == 100 and report["protocol"]["num_eval"] == 50
    assert "mig " in result.output and "strips_v3_metrics.json" in result.output
    assert "(100 eval points, " in result.output  # the sample size it used, said


def test_a_serving_directory_evaluates_its_highest_version(saved_model, tmp_path):
    out = tmp_path / "m.json"
    result = runner.invoke(
        app, ["evaluate", str(saved_model.parent), "--metrics", "mig", "-o", str(out), *SMALL]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["model"] == str(saved_model)


def test_evaluate_a_run_directory_uses_its_source_and_seed(tmp_path):
    import keras

    from kbetavae import BetaVAE

    run_dir = tmp_path / "beta=4_seed=2"
    run_dir.mkdir()
    model = BetaVAE(seed=0)
    model(np.zeros((1, 64, 64, 1), np.float32))
    keras.saving.save_model(model, run_dir / "model.keras")
    (run_dir / "config.json").write_text(json.dumps({"config": {"source": "replica", "seed": 2}}))
    result = runner.invoke(app, ["evaluate", str(run_dir), "--metrics", "mig,modularity", *SMALL])
    assert result.exit_code == 0, result.output
    report = json.loads((run_dir / "metrics.json").read_text())
    assert report["seed"] == 2 and report["num_latents"] == 10
    assert set(report) >= {"mig", "modularity", "active_latents", "kl_per_latent"}


def test_a_path_without_a_model_is_one_line_and_exit_2(tmp_path):
    result = runner.invoke(app, ["evaluate", str(tmp_path)])
    assert result.exit_code == 2
    assert "neither model.keras" in result.output and result.output.strip().count("\n") == 0
    missing = runner.invoke(app, ["evaluate", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_a_saved_model_without_encode_is_one_line_and_exit_2(tmp_path):
    module = tf.Module()
    module.double = tf.function(
        lambda x: {"y": 2 * x}, input_signature=[tf.TensorSpec([None], tf.float32)]
    )
    tf.saved_model.save(module, str(tmp_path), signatures={"double": module.double})
    result = runner.invoke(app, ["evaluate", str(tmp_path)])
    assert result.exit_code == 2 and "no 'encode' signature" in result.output


def test_unknown_metric_is_one_line_and_exit_2(saved_model):
    result = runner.invoke(app, ["evaluate", str(saved_model), "--metrics", "mig,irs"])
    assert result.exit_code == 2 and "--metrics: unknown irs" in result.output


def test_evaluate_writes_the_metrics_json_the_sweep_wrote_held_out_elbo_included(tmp_path):
    # The sweep evaluates its fused group's two models together; `kbetavae evaluate`
    # evaluates each run alone from its model.keras: the same record but for the timing
    # and the two keys that say what evaluate read (model, source).
    from kbetavae.study.plan import SweepPlan
    from kbetavae.study.sweep import run_sweep

    plan = SweepPlan.of(name="tiny", betas=(1.0, 4.0), epochs=1, subset=256, eval_points=100)
    run_sweep(plan, tmp_path / "runs", tmp_path / "sm")
    run_dirs = sorted((tmp_path / "runs" / "tiny").glob("beta=*"))
    assert len(run_dirs) == 2
    for run_dir in run_dirs:
        swept = json.loads((run_dir / "metrics.json").read_text())
        out = tmp_path / f"{run_dir.name}.json"
        # No options: the metrics and the 100-point protocol are the run's record's.
        result = runner.invoke(app, ["evaluate", str(run_dir), "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert "(100 eval points, as the run recorded," in result.output
        evaluated = json.loads(out.read_text())
        assert swept["heldout"]["num_images"] == 50
        assert {k: v for k, v in evaluated.items() if k not in ("timing", "model", "source")} == {
            k: v for k, v in swept.items() if k != "timing"
        }
