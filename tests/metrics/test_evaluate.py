"""evaluate(): every metric of an encoder in one JSON-serialisable dict."""

import json
import subprocess
import sys

import numpy as np
import pytest

from kbetavae.errors import InputError
from kbetavae.metrics import Protocol, evaluate, evaluate_many, registry

ALL_METRICS = registry.names()

# Reduced sample sizes (the sweep tests use such); the pair batch stays 64.
SMALL = Protocol(
    num_points=2_000,
    num_test_points=500,
    num_train=500,
    num_eval=300,
    num_variance_points=1_000,
)


def numbers(report):
    """The report without its timing, which is the only part that varies between runs."""
    return json.dumps({k: v for k, v in report.items() if k != "timing"}, allow_nan=False)


def test_importing_the_metrics_does_not_import_tensorflow():
    code = (
        "import sys, kbetavae.metrics; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_default_report_has_the_three_metrics_their_matrices_and_active_latents(fakes):
    report = evaluate(fakes.identity_encoder(), fakes.FactorImages(), protocol=SMALL)
    json.loads(numbers(report))
    assert report["metrics"] == ["mig", "zdiff", "modularity"]
    assert report["mig"]["score"] > 0.8
    assert report["zdiff"]["score"] > 0.95
    assert report["modularity"]["score"] > 0.95
    assert np.shape(report["mig"]["matrix"]) == (5, 5)
    assert np.shape(report["zdiff"]["matrix"]) == (5, 5)
    assert np.shape(report["modularity"]["per_latent"]) == (5,)
    # logvar = 0 and mu = factor class: KL_i = mean(mu_i^2) / 2, far above 0.01 nats.
    assert report["active_latents"] == 5 and report["active_latents_method"] == "kl"
    assert report["num_latents"] == 5
    assert report["factor_names"] == ["shape", "scale", "orientation", "posX", "posY"]


def test_same_seed_gives_bit_identical_numbers_and_another_seed_does_not(fakes):
    ground_truth = fakes.FactorImages()
    first = numbers(evaluate(fakes.rotated_encoder(), ground_truth, seed=3, protocol=SMALL))
    second = numbers(evaluate(fakes.rotated_encoder(), ground_truth, seed=3, protocol=SMALL))
    other = numbers(evaluate(fakes.rotated_encoder(), ground_truth, seed=4, protocol=SMALL))
    assert first == second
    assert first != other


def test_code_table_modes_give_the_same_numbers(fakes):
    # The encoder is deterministic, so looking codes up cannot change a number.
    ground_truth = fakes.FactorImages()
    lazy = evaluate(fakes.rotated_encoder(), ground_truth, code_table="lazy", protocol=SMALL)
    none = evaluate(fakes.rotated_encoder(), ground_truth, code_table="none", protocol=SMALL)
    grid = evaluate(fakes.rotated_encoder(), ground_truth, code_table="grid", protocol=SMALL)
    assert (
        numbers(lazy)[:-1]
        == numbers(none).replace(
            f'"images_encoded": {none["images_encoded"]}',
            f'"images_encoded": {lazy["images_encoded"]}',
        )[:-1]
    )
    assert grid["images_encoded"] == 737_280
    assert lazy["images_encoded"] < none["images_encoded"] == lazy["images_drawn"]
    for name in ("mig", "zdiff", "modularity", "kl_per_latent"):
        assert lazy[name] == none[name] == grid[name]


def test_a_metric_does_not_depend_on_which_others_run(fakes):
    ground_truth = fakes.FactorImages()
    alone = evaluate(fakes.rotated_encoder(), ground_truth, ["zdiff"], protocol=SMALL)
    together = evaluate(fakes.rotated_encoder(), ground_truth, protocol=SMALL)
    assert alone["zdiff"] == together["zdiff"]
    assert "mig" not in alone


def test_collapsed_encoder_has_defined_scores_and_no_active_latents(fakes):
    # mu = 0, logvar = 0 everywhere: the posterior is the prior. All MI is 0, so MIG 0
    # and Modularity 0 (zero-MI latents score 0); Z-diff features are all 0, so the
    # classifier guesses the most frequent factor: about 1 in 5. KL is exactly 0.
    report = evaluate(
        fakes.collapsed_encoder(), fakes.FactorImages(), ALL_METRICS[:3], protocol=SMALL
    )
    assert report["mig"]["score"] == 0.0
    assert report["modularity"]["score"] == 0.0
    assert report["zdiff"]["score"] == pytest.approx(0.2, abs=0.06)
    assert report["active_latents"] == 0
    assert report["kl_per_latent"] == [0.0] * 10
    json.loads(numbers(report))


def test_every_metric_on_a_small_grid(fakes):
    # A 2 x 3 x 4 grid keeps gradient boosting (one tree per class per round) fast.
    ground_truth = fakes.FactorImages(sizes=(2, 3, 4))

    def encode(images):
        return images + 0.01 * np.sin(np.arange(len(images)))[:, None]  # mu only

    report = evaluate(encode, ground_truth, ALL_METRICS, protocol=SMALL)
    json.loads(numbers(report))
    assert set(ALL_METRICS) <= set(report)
    assert report["active_latents_method"] == "mu_variance"
    assert report["active_latents"] == 3
    assert report["factorvae"]["score"] == 1.0
    assert report["dci"]["score"] > 0.9


def test_a_model_with_an_encode_method_is_accepted(fakes):
    class Model:
        def __init__(self):
            self.encoder = fakes.identity_encoder()

        def encode(self, images):
            return self.encoder(images)

    report = evaluate(Model(), fakes.FactorImages(), ["mig"], protocol=Protocol(num_points=1_000))
    assert report["mig"]["score"] > 0.8


def test_nan_codes_are_an_input_error_that_says_so(fakes):
    def diverged(images):
        return np.full((len(images), 4), np.nan, dtype=np.float32)

    with pytest.raises(InputError, match="non-finite.*model is broken or diverged"):
        evaluate(diverged, fakes.FactorImages(), protocol=SMALL)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metrics": ["mig", "irs"]}, "^metrics: unknown irs"),
        ({"metrics": []}, "^metrics: unknown \\(none given\\)"),
        ({"code_table": "disk"}, "code_table"),
        ({"protocol": {"num_points": 100}}, "protocol must be a Protocol, got dict"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_arguments_are_input_errors(fakes, kwargs, message):
    with pytest.raises(InputError, match=message):
        evaluate(fakes.identity_encoder(), fakes.FactorImages(), **kwargs)


def test_something_that_cannot_encode_is_an_input_error(fakes):
    with pytest.raises(InputError, match="load the model first"):
        evaluate("runs/beta=4_seed=0/model.keras", fakes.FactorImages())
    with pytest.raises(InputError, match="expected a model with .encode"):
        evaluate(42, fakes.FactorImages())


def test_evaluate_passes_the_zdiff_classifier_and_records_it(fakes):
    protocol = Protocol(
        num_points=200,
        num_test_points=100,
        num_train=300,
        num_eval=100,
        zdiff_classifier="liblinear_ovr",
    )
    report = evaluate(fakes.identity_encoder(), fakes.FactorImages(), ["zdiff"], protocol=protocol)
    assert report["protocol"] == protocol.record()
    assert report["protocol"]["zdiff_classifier"] == "liblinear_ovr"
    assert report["zdiff"]["classifier"]["solver"] == "liblinear"


def test_evaluate_many_equals_evaluate_per_model_and_renders_each_image_once(fakes):
    ground_truth = fakes.FactorImages()
    encoders = [fakes.identity_encoder(), fakes.rotated_encoder(), fakes.padded_encoder()]
    metrics = ("mig", "zdiff", "modularity", "sap", "factorvae")
    reports = evaluate_many(encoders, ground_truth, metrics, seed=5, protocol=SMALL)
    distinct = reports[0]["images_encoded"]
    assert ground_truth.images_rendered == distinct  # once for the group, not 3 times
    for encoder, report in zip(encoders, reports, strict=True):
        alone = evaluate(encoder, fakes.FactorImages(), metrics, seed=5, protocol=SMALL)
        assert numbers(report) == numbers(alone)
    assert reports[0]["mig"]["score"] != reports[1]["mig"]["score"]  # not one model's copy


def test_evaluate_many_hands_each_report_over_as_soon_as_it_is_ready(fakes):
    # A caller writes each member's record before the next member's metrics are computed,
    # so a stop loses one member's work, not the group's.
    small = SMALL.replace(num_train=50, num_eval=30)
    encoders = [fakes.identity_encoder(), fakes.rotated_encoder()]
    heard = []

    def on_report(k, report):
        heard.append((k, numbers(report), report["timing"]["total_seconds"]))

    reports = evaluate_many(
        encoders, fakes.FactorImages(), seed=2, protocol=small, on_report=on_report
    )
    assert [k for k, *_ in heard] == [0, 1]
    assert [text for _, text, *_ in heard] == [numbers(r) for r in reports]
    # Member 0's share so far is all the group's seconds until then; the returned reports
    # carry the final 1/K share.
    assert heard[0][2] > 0
    assert reports[0]["timing"]["total_seconds"] == reports[1]["timing"]["total_seconds"]


def test_evaluate_many_with_grid_tables_equals_lazy_ones(fakes):
    small = SMALL.replace(num_train=50, num_eval=30)
    encoders = [fakes.identity_encoder(), fakes.rotated_encoder()]
    grid = evaluate_many(encoders, fakes.FactorImages(), seed=1, code_table="grid", protocol=small)
    lazy = evaluate_many(encoders, fakes.FactorImages(), seed=1, protocol=small)
    assert grid[0]["images_encoded"] == 737_280
    for report in grid + lazy:
        del report["images_encoded"]  # how many were encoded, not what they gave
    assert [numbers(r) for r in grid] == [numbers(r) for r in lazy]


@pytest.mark.parametrize(
    ("members", "kwargs", "message"),
    [
        ([], {}, "at least one"),
        ([None], {}, "expected a model with .encode"),
    ],
)
def test_evaluate_many_rejects_bad_arguments_naming_them(fakes, members, kwargs, message):
    with pytest.raises(InputError, match=message):
        evaluate_many(members, fakes.FactorImages(), **kwargs)


def test_evaluate_many_with_a_code_store_evaluates_again_without_encoding(fakes):
    # The codes are handed to the store as each report is complete; a second evaluation
    # (a stopped publish run again) starts from them and gives the same numbers.
    small = SMALL.replace(num_train=50, num_eval=30)
    encoders = [fakes.identity_encoder(), fakes.rotated_encoder()]
    store = fakes.MemoryStore()
    first = evaluate_many(encoders, fakes.FactorImages(), seed=3, protocol=small, code_store=store)
    assert store.saves >= 1
    assert [r["timing"]["codes_loaded"] for r in first] == [0, 0]
    seen = [encoder.images_seen for encoder in encoders]
    again = evaluate_many(encoders, fakes.FactorImages(), seed=3, protocol=small, code_store=store)
    assert [encoder.images_seen for encoder in encoders] == seen  # nothing encoded
    assert [numbers(r) for r in again] == [numbers(r) for r in first]
    assert again[0]["timing"]["codes_loaded"] == first[0]["images_encoded"]


def test_a_code_store_needs_a_code_table(fakes):
    with pytest.raises(InputError, match='code_table="none" has none'):
        evaluate_many(
            [fakes.identity_encoder()],
            fakes.FactorImages(),
            code_table="none",
            code_store=fakes.MemoryStore(),
        )
