"""What ``kbetavae traverse`` calls a model: its run, never a version directory."""

import pytest

from kbetavae.viz.model_traversal import model_title


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
