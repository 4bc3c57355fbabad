"""Fused groups of a sweep: the βs of one seed, cut at --max-group."""

from __future__ import annotations

import pytest

from kbetavae.errors import InputError
from kbetavae.study.plan import SweepPlan, run_groups
from kbetavae.study.sweep import run_sweep

PLAN = SweepPlan.of(betas=(1.0, 4.0, 10.0), seeds=(0, 1), epochs=1, subset=64)


def _pairs(groups):
    return [[(c.beta, c.seed) for c in group] for group in groups]


def test_the_betas_of_one_seed_form_one_group():
    assert _pairs(run_groups(PLAN.configs())) == [
        [(1.0, 0), (4.0, 0), (10.0, 0)],
        [(1.0, 1), (4.0, 1), (10.0, 1)],
    ]


def test_groups_are_cut_at_max_group():
    assert _pairs(run_groups(PLAN.configs(), max_group=2)) == [
        [(1.0, 0), (4.0, 0)],
        [(10.0, 0)],
        [(1.0, 1), (4.0, 1)],
        [(10.0, 1)],
    ]


def test_a_max_group_below_one_is_refused_with_the_option_named(tmp_path):
    with pytest.raises(InputError, match="max_group must be"):
        run_sweep(PLAN, tmp_path / "runs", tmp_path / "sm", max_group=0)
    assert not (tmp_path / "runs").exists()
