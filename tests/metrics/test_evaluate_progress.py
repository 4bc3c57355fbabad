"""evaluate(progress=...): images encoded so far against the images it expects to encode."""

import numpy as np
import pytest

from kbetavae.metrics import Protocol, evaluate
from kbetavae.metrics.progress import expected_encodes

SMALL = Protocol(num_points=300, num_test_points=150, num_train=200, num_eval=100)


@pytest.mark.parametrize("code_table", ["lazy", "none", "grid"])
def test_progress_counts_encoded_images_and_ends_complete(fakes, code_table):
    calls = []
    report = evaluate(
        fakes.rotated_encoder(),
        fakes.FactorImages(sizes=(3, 6, 4, 8, 8)),
        code_table=code_table,
        batch_size=64,
        progress=lambda done, total: calls.append((done, total)),
        protocol=SMALL,
    )
    done = [d for d, _ in calls]
    assert len(calls) > 10 and done == sorted(done)
    assert all(d <= t for d, t in calls)
    assert calls[-1] == (report["images_encoded"], report["images_encoded"])


def test_expected_encodes_matches_the_distinct_images_of_uniform_draws():
    rng = np.random.default_rng(0)
    num_images, draws = 737_280, 1_930_000
    distinct = np.unique(rng.integers(0, num_images, draws)).size
    estimate = expected_encodes(draws, num_images, "lazy")
    assert abs(estimate - distinct) / distinct < 0.002
    assert expected_encodes(draws, num_images, "none") == draws
    assert expected_encodes(draws, num_images, "grid") == num_images


def test_the_lazy_estimate_is_close_for_the_metrics_own_draws(fakes):
    # Z-diff's pairs share one factor, so its draws are not exactly uniform.
    calls = []
    ground_truth = fakes.FactorImages()
    report = evaluate(
        fakes.rotated_encoder(), ground_truth, progress=lambda d, t: calls.append(t), protocol=SMALL
    )
    assert abs(calls[0] - report["images_encoded"]) / report["images_encoded"] < 0.02


def test_progress_does_not_change_the_numbers(fakes):
    ground_truth = fakes.FactorImages()
    quiet = evaluate(fakes.rotated_encoder(), ground_truth, protocol=SMALL)
    shown = evaluate(
        fakes.rotated_encoder(), ground_truth, progress=lambda d, t: None, protocol=SMALL
    )
    assert {k: v for k, v in quiet.items() if k != "timing"} == {
        k: v for k, v in shown.items() if k != "timing"
    }
