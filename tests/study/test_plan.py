"""SweepPlan: a base TrainConfig crossed with βs and seeds; runs named as `train` names them."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import kbetavae.training.loop
from cli.main import app
from kbetavae.errors import InputError
from kbetavae.study.plan import SweepPlan
from kbetavae.study.results import sweep_run_dirs
from kbetavae.training import TrainConfig
from kbetavae.training.rundir import TrainResult, run_name


def test_configs_are_the_base_with_beta_and_seed_replaced():
    base = TrainConfig(epochs=3, subset=1000, lr=5e-4)
    plan = SweepPlan(betas=(1.0, 4.0), seeds=(0, 2), base=base)
    configs = plan.configs()
    assert [(c.beta, c.seed) for c in configs] == [(1.0, 0), (1.0, 2), (4.0, 0), (4.0, 2)]
    assert all(c == base.replace(beta=c.beta, seed=c.seed) for c in configs)


def test_the_bases_own_beta_and_seed_do_not_make_plans_differ():
    a = SweepPlan(base=TrainConfig(beta=7.0, seed=3))
    assert a == SweepPlan() and a.to_dict() == SweepPlan().to_dict()


def test_a_capacity_sweep_sets_gamma_and_the_capacity():
    plan = SweepPlan.of(
        betas=(1.0,),
        objective="capacity",
        objective_args={"gamma": 100.0, "capacity_max": 5.0},
    )
    (config,) = plan.configs()
    assert config.objective_args["gamma"] == 100.0
    assert config.objective_args["capacity_max"] == 5.0
    assert run_name(config) == "capacity=5_gamma=100_seed=0"
    assert SweepPlan.from_dict(plan.to_dict()) == plan


def test_a_plan_written_before_plans_held_a_base_config_still_reads():
    old = {
        "name": "study",
        "betas": [1.0, 4.0],
        "seeds": [0],
        "epochs": 2,
        "batch_size": 32,
        "lr": 0.001,
        "latent_dim": 10,
        "objective": "beta",
        "subset": 640,
        "source": "replica",
        "metrics": ["mig"],
        "eval_points": 200,
    }
    plan = SweepPlan.from_dict(old)
    assert (plan.base.epochs, plan.base.subset, plan.metrics) == (2, 640, ("mig",))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"objective_args": {"gamma": -1.0}, "objective": "capacity", "betas": (1.0,)}, "gamma"),
        ({"objective_args": {"warp": 1.0}, "objective": "capacity", "betas": (1.0,)}, "warp"),
        ({"latent_dim": 100_000}, "latent_dim must be an integer <= 1024"),
        ({"eval_points": 10}, "eval_points must be at least 100"),
    ],
)
def test_bad_settings_name_the_setting(settings, message):
    with pytest.raises(InputError, match=message):
        SweepPlan.of(**settings)


def test_train_and_sweep_give_a_run_the_same_name(tmp_path, monkeypatch):
    trained = []

    def fake_train(config, run_dir, **kwargs):
        trained.append((config, run_dir))
        return TrainResult(run_dir, "done", 1, 8, {"loss": 1.0})

    monkeypatch.setattr(kbetavae.training.loop, "train", fake_train)
    for objective_flags in (
        ["--beta", "4"],
        ["--beta", "4", "--objective", "btcvae"],
        ["--objective", "capacity", "--objective-args", "gamma=10"],
    ):
        args = ["train", "--seed", "2", "--out", str(tmp_path), "--quiet"]
        result = CliRunner().invoke(app, [*args, *objective_flags])
        assert result.exit_code == 0, result.output
        config, run_dir = trained[-1]
        plan = SweepPlan(betas=(config.beta,), seeds=(2,), base=config)
        ((_, _, swept_dir),) = sweep_run_dirs(str(tmp_path), plan)
        assert swept_dir == run_dir
