"""The loss in words: one sentence per registered objective, its own regulariser."""

import pytest

from kbetavae.model.loss_text import REGULARISERS, loss_sentence


def test_every_registered_objective_has_its_regulariser_sentence():
    from kbetavae.model.objectives import OBJECTIVES

    assert set(REGULARISERS) == set(OBJECTIVES)


@pytest.mark.parametrize("objective", sorted(set(REGULARISERS) - {"beta"}))
def test_no_other_objective_is_described_as_beta_times_kl(objective):
    assert "β · KL" not in loss_sentence(objective, {}, "sum", 4096)


def test_the_sentence_names_the_reduction_the_form_and_the_settings():
    sentence = loss_sentence("btcvae", {"form": "disentanglement_lib", "alpha": 1.0}, "mean", 4096)
    assert sentence.startswith("Bernoulli reconstruction averaged over 4096 pixels plus ")
    assert "(β − 1) · TC" in sentence and sentence.endswith(
        "alpha = 1.0, form = disentanglement_lib"
    )
