"""A study grid: settings parsed from --objective specs or a TOML file, named and planned
so that every β sweep written before grids reads and names its runs as it did."""

from __future__ import annotations

import json

import pytest

from kbetavae.errors import InputError
from kbetavae.study.grid import (
    Setting,
    is_beta_only,
    keyed_by_beta,
    parse_spec,
    read_study_file,
    setting_of,
    setting_order,
    settings_of,
)
from kbetavae.study.plan import SweepPlan, group_label, run_groups
from kbetavae.training import rundir


def test_a_spec_is_one_setting_per_weight_and_papers_hyphens_are_accepted():
    assert parse_spec("btcvae:1,4,10") == [Setting("btcvae", w) for w in (1.0, 4.0, 10.0)]
    assert parse_spec("dipvae-i:10")[0].objective == "dipvae_i"
    assert [s.objective for s in settings_of(["beta:1", "factorvae:35"])] == ["beta", "factorvae"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("btcvae", "expected NAME:W1,W2"),
        ("btcvae:", "expected NAME:W1,W2"),
        ("btcvae:1,x", "'x' is not a number"),
        ("nope:1", "objective must be one of beta, capacity"),
        ("beta:-1", "finite numbers >= 0"),
    ],
)
def test_a_bad_spec_is_one_error_naming_it(spec, message):
    with pytest.raises(InputError, match=message):
        parse_spec(spec)


def test_a_study_file_varies_other_arguments_and_names_them(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text(
        '[[objective]]\nname = "btcvae"\nweights = [1, 4]\n\n'
        '[[objective]]\nname = "btcvae"\nweights = [4]\nargs = { estimator = "mss" }\n'
    )
    settings = read_study_file(str(path))
    plan = SweepPlan.of(settings=settings, seeds=(0,))
    assert [rundir.run_name(c) for c in plan.configs()] == [
        "btcvae_beta=1_seed=0",
        "btcvae_beta=4_seed=0",
        "btcvae_beta=4_estimator=mss_seed=0",
    ]
    path.write_text('[[objective]]\nname = "btcvae"\n')
    with pytest.raises(InputError, match="needs name and weights"):
        read_study_file(str(path))


def test_a_grid_plan_round_trips_and_names_each_run_once():
    plan = SweepPlan.of(settings=settings_of(["beta:1,4", "btcvae:4"]), seeds=(0, 1), epochs=1)
    assert SweepPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    names = [rundir.run_name(c) for c in plan.configs()]
    assert names == [
        "beta=1_seed=0",
        "beta=1_seed=1",
        "beta=4_seed=0",
        "beta=4_seed=1",
        "btcvae_beta=4_seed=0",
        "btcvae_beta=4_seed=1",
    ]
    assert plan.grid_text() == "settings beta=1, beta=4, btcvae_beta=4"
    with pytest.raises(InputError, match="names setting beta=4 more than once"):
        SweepPlan.of(settings=settings_of(["beta:4", "beta:4"]))


def test_a_beta_sweep_keeps_its_record_and_its_run_names():
    plan = SweepPlan.of(betas=(1.0, 4.0), seeds=(0,))
    record = plan.to_dict()
    assert "settings" not in record and record["betas"] == [1.0, 4.0]
    assert [rundir.run_name(c) for c in plan.configs()] == ["beta=1_seed=0", "beta=4_seed=0"]
    # the same runs given as a grid are the same directories
    grid = SweepPlan.of(settings=settings_of(["beta:1,4"]), seeds=(0,))
    assert [rundir.run_name(c) for c in grid.configs()] == ["beta=1_seed=0", "beta=4_seed=0"]
    assert plan.grid_text() == "β 1, 4"


def test_objectives_without_beta_sweep_their_main_weight():
    with pytest.raises(InputError, match="sweep its capacity_max as `objective` capacity:W1,W2"):
        SweepPlan.of(betas=(1.0, 4.0), objective="capacity")
    plan = SweepPlan.of(settings=settings_of(["capacity:5,25"]))
    assert [c.objective_args["capacity_max"] for c in plan.configs()] == [5.0, 25.0]
    assert {c.beta for c in plan.configs()} == {1.0}


def test_fused_groups_form_per_seed_across_objectives_but_not_with_an_adversary():
    plan = SweepPlan.of(settings=settings_of(["beta:1", "btcvae:4", "factorvae:10"]), seeds=(0,))
    groups = run_groups(plan.configs())
    assert [[rundir.run_name(c) for c in g] for g in groups] == [
        ["beta=1_seed=0", "btcvae_beta=4_seed=0"],
        ["factorvae_gamma=10_seed=0"],
    ]
    assert group_label(groups[0]) == "fused beta=1,btcvae_beta=4_seed=0"
    beta_only = SweepPlan.of(betas=(1.0, 4.0), seeds=(0,)).configs()
    assert group_label(run_groups(beta_only)[0]) == "fused beta=1,4_seed=0"


def test_a_grid_trains_seed_by_seed_the_adversarys_runs_included():
    plan = SweepPlan.of(settings=settings_of(["beta:1", "factorvae:10,30"]), seeds=(0, 1))
    names = [[rundir.run_name(c) for c in g] for g in run_groups(plan.configs())]
    assert names == [
        ["beta=1_seed=0"],
        ["factorvae_gamma=10_seed=0", "factorvae_gamma=30_seed=0"],
        ["beta=1_seed=1"],
        ["factorvae_gamma=10_seed=1", "factorvae_gamma=30_seed=1"],
    ]


def test_rows_written_before_grids_are_beta_settings():
    old = [{"beta": 4.0, "seed": 0}, {"beta": 1.0, "seed": 0}]
    assert [setting_of(r) for r in old] == ["beta=4", "beta=1"]
    assert is_beta_only(old) and keyed_by_beta(old)
    grid = [
        {"setting": "btcvae_beta=4", "objective": "btcvae", "weight": 4.0, "beta": 4.0},
        {"setting": "beta=4", "objective": "beta", "weight": 4.0, "beta": 4.0},
    ]
    assert not is_beta_only(grid) and not keyed_by_beta(grid)
    assert [setting_of(r) for r in sorted(grid, key=setting_order)] == ["beta=4", "btcvae_beta=4"]
