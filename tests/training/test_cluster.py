"""kbetavae.training.cluster: TF_CONFIG is checked, the strategy and the chief follow it."""

import json
import os

import pytest

from kbetavae.errors import InputError
from kbetavae.training.cluster import is_chief, read_tf_config, strategy_kind, worker_scratch


def cluster(workers: int, chief: bool = False, task=("worker", 0)) -> dict:
    spec = {"worker": [f"w{i}:2222" for i in range(workers)]}
    if chief:
        spec["chief"] = ["c:2222"]
    return {"cluster": spec, "task": {"type": task[0], "index": task[1]}}


@pytest.mark.parametrize(
    "tf_config, gpus, expected",
    [
        ({}, 0, "default"),
        ({}, 1, "default"),
        ({}, 2, "mirrored"),
        (cluster(1), 2, "mirrored"),
        (cluster(2), 0, "multi_worker"),
        (cluster(1, chief=True), 0, "multi_worker"),
    ],
)
def test_strategy_kind_follows_tf_config_and_gpus(tf_config, gpus, expected):
    assert strategy_kind(tf_config, gpus) == expected


@pytest.mark.parametrize(
    "tf_config, expected",
    [
        (None, True),
        (cluster(2, task=("worker", 0)), True),
        (cluster(2, task=("worker", 1)), False),
        (cluster(2, chief=True, task=("chief", 0)), True),
        (cluster(2, chief=True, task=("worker", 0)), False),
    ],
)
def test_only_the_chief_writes_the_run(monkeypatch, tf_config, expected):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
    assert is_chief() is expected


def test_vertex_ai_tf_config_with_extra_keys_is_accepted():
    # Vertex AI adds "job", "environment" and, in tuning jobs, the trial id.
    vertex = {
        "cluster": {"chief": ["cmle-training-workerpool0-1:2222"], "worker": ["w:2222"]},
        "task": {"type": "worker", "index": 0, "trial": "3"},
        "job": {"worker_pool_specs": []},
        "environment": "cloud",
    }
    tf_config = read_tf_config({"TF_CONFIG": json.dumps(vertex)})
    assert strategy_kind(tf_config, 0) == "multi_worker" and not is_chief(tf_config)


@pytest.mark.parametrize("text", [None, "", "  ", "{}"])
def test_no_tf_config_is_one_process(text):
    environ = {} if text is None else {"TF_CONFIG": text}
    assert read_tf_config(environ) == {}


@pytest.mark.parametrize(
    "tf_config, message",
    [
        ('{"cluster": {"worker": ["a:1"]', r"^TF_CONFIG is not valid JSON \("),
        ('["a:1", "b:1"]', r"^TF_CONFIG must be a JSON object"),
        (cluster(2, task=("worker", 2)), r"task index 2 is out of range: .* 2 'worker' tasks"),
        (cluster(2, task=("worker", -1)), r"task index -1 is out of range"),
        (cluster(2, task=("chief", 0)), r"task type 'chief' is not in the cluster"),
        ({"cluster": {"worker": ["a:1", "b:1"]}}, r"names a cluster but no 'task'"),
        ({"cluster": {"worker": ["a"]}, "task": {"type": "worker"}}, r"'host:port' addresses"),
        ({"cluster": {"ps": ["a:1"], "worker": ["b:1"]}, "task": {}}, r"has 'ps' tasks"),
    ],
)
def test_a_bad_tf_config_is_an_input_error_saying_what_is_wrong(tf_config, message):
    text = tf_config if isinstance(tf_config, str) else json.dumps(tf_config)
    with pytest.raises(InputError, match=message) as raised:
        read_tf_config({"TF_CONFIG": text})
    assert "\n" not in str(raised.value)


def test_a_worker_scratch_directory_is_private_and_removed_the_chief_has_none():
    with worker_scratch(chief=True) as scratch:
        assert scratch is None
    with worker_scratch(chief=False) as scratch:
        assert os.path.isdir(scratch) and os.listdir(scratch) == []
        open(os.path.join(scratch, "model.keras"), "wb").close()
    assert not os.path.exists(scratch)
