"""The objective table is the one home of objective facts: a toy objective registered there
alone (one class + one entry) trains, names its runs, sweeps and fuses."""

from __future__ import annotations

import numpy as np
import pytest

from kbetavae.errors import InputError
from kbetavae.model import catalog
from kbetavae.model.objectives import OBJECTIVES, Objective, make_objective
from kbetavae.study.grid import parse_spec
from kbetavae.study.plan import SweepPlan
from kbetavae.training import TrainConfig, rundir


class Toy(Objective):
    """strength·KL: a β-VAE whose weight has another name and no β."""

    key = "toy"

    def __init__(self, strength: float = 2.0, **kwargs):
        super().__init__(**kwargs)
        self.strength = float(strength)

    def regularizer(self, kl, mu, logvar, z, step):
        return self.strength * kl, {}

    def get_config(self):
        return {**super().get_config(), "strength": self.strength}


@pytest.fixture
def toy():
    entry = catalog.register(catalog.ObjectiveFacts("toy", "strength", Toy, title="Toy"))
    yield entry
    catalog.unregister("toy")


def test_the_builtin_table_holds_the_six_objectives_and_their_facts():
    assert catalog.names() == ("beta", "capacity", "btcvae", "dipvae_i", "dipvae_ii", "factorvae")
    assert [n for n in catalog.names() if catalog.facts(n).has_beta] == ["beta", "btcvae"]
    assert [n for n in catalog.names() if not catalog.facts(n).fusable] == ["factorvae"]
    for name in catalog.names():
        assert OBJECTIVES[name].key == name
        assert OBJECTIVES[name].main_weight == catalog.facts(name).main_weight


def test_a_toy_objective_is_one_class_and_one_entry(toy):
    assert "toy" in OBJECTIVES and OBJECTIVES["toy"] is Toy
    assert make_objective("toy", strength=3.0).main_weight == "strength"
    config = TrainConfig(objective="toy", objective_args={"strength": 3})
    assert config.objective_args == {"strength": 3.0}
    assert config.normalised_beta is None  # no β: β_norm does not apply
    assert rundir.run_name(config) == "toy_strength=3_seed=0"
    plan = SweepPlan.of(settings=tuple(parse_spec("toy:1,3")), seeds=(0, 1))
    assert [rundir.run_name(c) for c in plan.configs()][1:3] == [
        "toy_strength=1_seed=1",
        "toy_strength=3_seed=0",
    ]


def test_a_toy_objective_trains_through_betavae(toy):
    from kbetavae.model.vae import BetaVAE

    model = BetaVAE(objective="toy", objective_args={"strength": 5.0}, seed=0)
    images = (np.random.default_rng(0).random((4, 64, 64, 1)) > 0.5).astype("float32")
    terms = model.compute_terms(images)
    assert float(terms["loss"]) == pytest.approx(
        float(terms["reconstruction"]) + 5.0 * float(terms["kl"]), rel=1e-5
    )


def test_whether_runs_fuse_is_the_tables_answer(toy):
    from kbetavae.training.fused import can_fuse

    toys = [TrainConfig(objective="toy", objective_args={"strength": s}) for s in (1, 3)]
    assert can_fuse([*toys, TrainConfig(beta=4.0)])  # objectives may differ in a group
    catalog.register(catalog.ObjectiveFacts("toy", "strength", Toy, fusable=False))
    assert not can_fuse(toys)


def test_beta_is_resolved_in_one_place(toy):
    with pytest.raises(
        InputError, match="objective toy has no β, got beta=4; vary its main weight strength"
    ):
        TrainConfig(objective="toy", beta=4.0)
    assert catalog.resolve_beta("btcvae", 4.0, {}) == {"beta": 4.0}
    with pytest.raises(InputError, match="disagree"):
        catalog.resolve_beta("beta", 4.0, {"beta": 2.0})


def test_an_unknown_objective_is_one_error_naming_the_choices():
    with pytest.raises(InputError, match="objective must be one of beta, capacity"):
        TrainConfig(objective="nope")
