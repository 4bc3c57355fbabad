"""What ``kbetavae evaluate`` computes for a run: the options given, else its record's."""

from __future__ import annotations

import json

import pytest

from kbetavae.errors import InputError
from kbetavae.metrics.protocol import FULL_PROTOCOL, Protocol
from kbetavae.study.evaluation import recorded_choice

RECORDED = Protocol.scaled(500, "liblinear_ovr")


@pytest.fixture
def run_dir(tmp_path):
    record = {
        "metrics": ["mig", "sap"],
        "protocol": RECORDED.record(),
        "heldout": {"num_images": 123},
    }
    (tmp_path / "metrics.json").write_text(json.dumps(record))
    return str(tmp_path)


def test_a_run_is_evaluated_as_its_metrics_json_records(run_dir):
    names, protocol, recorded = recorded_choice(run_dir)
    assert names == ["mig", "sap"] and recorded
    assert protocol == RECORDED.replace(heldout_images=123)  # the held-out ELBO's own count


def test_each_option_given_replaces_the_records_choice(run_dir):
    names, protocol, recorded = recorded_choice(run_dir, ["dci"], 200, "lbfgs")
    assert (names, protocol, recorded) == (["dci"], Protocol.scaled(200, "lbfgs"), False)
    # Only the classifier given: the recorded sample sizes stay.
    _, protocol, _ = recorded_choice(run_dir, zdiff_classifier="lbfgs")
    assert protocol == RECORDED.replace(zdiff_classifier="lbfgs", heldout_images=123)
    # Only the points given: the recorded classifier stays.
    _, protocol, _ = recorded_choice(run_dir, eval_points=200)
    assert protocol == Protocol.scaled(200, "liblinear_ovr")


def test_without_a_record_the_defaults_are_the_full_protocols_three(tmp_path):
    for run_dir in (None, str(tmp_path)):
        names, protocol, recorded = recorded_choice(run_dir)
        assert (names, protocol, recorded) == (["mig", "zdiff", "modularity"], FULL_PROTOCOL, False)


def test_an_incomplete_recorded_protocol_asks_for_eval_points(run_dir, tmp_path):
    path = tmp_path / "metrics.json"
    record = json.loads(path.read_text())
    del record["protocol"]["num_bins"]
    path.write_text(json.dumps(record))
    with pytest.raises(InputError, match=r"metrics.json: .* lacks num_bins; give `eval_points`$"):
        recorded_choice(run_dir)
    assert recorded_choice(run_dir, eval_points=200)[1] == Protocol.scaled(200, "liblinear_ovr")
