"""Protocol: the one home of an evaluation's sample sizes, their checks and their record."""

import json
from pathlib import Path

import pytest

from kbetavae.errors import InputError
from kbetavae.metrics.protocol import FULL_PROTOCOL, MIN_EVAL_POINTS, Protocol

PUBLISHED = Path(__file__).resolve().parents[2] / "docs" / "results" / "runs"


def test_the_full_protocol_is_disentanglement_libs_and_scaled_10000_gives_it():
    assert Protocol.scaled(10_000) == Protocol() == FULL_PROTOCOL
    assert (FULL_PROTOCOL.num_train, FULL_PROTOCOL.num_eval) == (10_000, 5_000)
    assert (FULL_PROTOCOL.pair_batch_size, FULL_PROTOCOL.heldout_images) == (64, 5_000)


def test_scaled_halves_the_test_samples_and_caps_the_heldout_images():
    small = Protocol.scaled(500, "liblinear_ovr")
    assert (small.num_points, small.num_train, small.num_variance_points) == (500, 500, 500)
    assert (small.num_test_points, small.num_eval, small.heldout_images) == (250, 250, 250)
    assert small.zdiff_classifier == "liblinear_ovr"
    assert Protocol.scaled(40_000).heldout_images == 5_000


@pytest.mark.parametrize("eval_points", [MIN_EVAL_POINTS - 1, 0, 100.0, True])
def test_eval_points_has_one_minimum(eval_points):
    with pytest.raises(InputError, match="eval_points must be"):
        Protocol.scaled(eval_points)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"num_points": 1}, "num_points must be an integer >= 2"),
        ({"num_eval": 0}, "num_eval must be an integer >= 1"),
        ({"pair_batch_size": 1}, "pair_batch_size must be an integer >= 2"),
        ({"heldout_images": 2.5}, "heldout_images must be an integer"),
        ({"zdiff_classifier": "svm"}, "^zdiff_classifier must be one of lbfgs, liblinear_ovr"),
    ],
)
def test_every_size_is_checked_where_the_protocol_is_made(changes, message):
    with pytest.raises(InputError, match=message):
        Protocol(**changes)


def test_the_record_is_what_the_published_runs_metrics_json_holds():
    # kbetavae collect compares runs by this entry: new runs must write it as old ones did.
    record = json.loads(next(PUBLISHED.glob("*/metrics.json")).read_text())["protocol"]
    assert Protocol.scaled(record["num_points"], record["zdiff_classifier"]).record() == record
    assert list(FULL_PROTOCOL.record()) == list(record)


@pytest.mark.parametrize("protocol", [FULL_PROTOCOL, Protocol.scaled(500, "liblinear_ovr")])
def test_from_record_gives_back_the_protocol_a_record_states(protocol):
    # The record leaves out the held-out images; scaled() sets them to half the points,
    # at most 5,000 (10,000 -> 5,000; 500 -> 250), and so does from_record.
    assert Protocol.from_record(protocol.record()) == protocol
    assert Protocol.from_record(protocol.record(), heldout_images=7).heldout_images == 7


def test_from_record_names_what_an_incomplete_record_lacks():
    record = FULL_PROTOCOL.record()
    del record["num_bins"], record["num_eval"]
    with pytest.raises(InputError, match="^the recorded protocol lacks num_eval, num_bins$"):
        Protocol.from_record(record)
