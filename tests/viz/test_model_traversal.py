"""What ``kbetavae traverse`` calls a model: its run, never a version directory."""

import json

import pytest

from kbetavae.viz.model_traversal import model_title, run_seed


@pytest.mark.parametrize(
    ("path", "title"),
    [
        ("saved_models/study/beta=4_seed=0/1", "beta=4_seed=0 (SavedModel version 1)"),
        ("saved_models/study/beta=4_seed=0/12/", "beta=4_seed=0 (SavedModel version 12)"),
        ("runs/study/beta=4_seed=0/model.keras", "beta=4_seed=0"),
        ("elsewhere/my_model.keras", "my_model.keras"),
        ("exported/encoder", "encoder"),
    ],
)
def test_model_title_names_the_run(path, title):
    assert model_title(path) == title


def test_run_seed_reads_the_run_config_and_is_none_elsewhere(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"config": {"seed": 7}}))
    assert run_seed(str(tmp_path / "model.keras")) == 7
    assert run_seed(str(tmp_path / "nowhere" / "1")) is None
