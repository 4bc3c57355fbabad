"""``--jobs N`` in the library: cores per job, groups per job, input checks, the report."""

from __future__ import annotations

import logging

import pytest

from kbetavae.errors import InputError
from kbetavae.study.jobs import check_jobs, run_sweep_jobs, threads_per_job
from kbetavae.study.plan import SweepPlan, max_group_for_jobs, run_groups
from kbetavae.study.sweep import Progress


@pytest.mark.parametrize(
    ("jobs", "cores", "threads"),
    [(1, 8, 8), (2, 8, 4), (3, 8, 2), (2, 2, 1), (3, 2, 1), (4, 1, 1), (2, 3, 1)],
)
def test_each_job_gets_an_equal_whole_share_of_the_cores_and_at_least_one(jobs, cores, threads):
    assert threads_per_job(jobs, cores=cores) == threads


def _sizes(plan: SweepPlan, jobs: int) -> list[int]:
    configs = plan.configs()
    return [len(g) for g in run_groups(configs, max_group_for_jobs(configs, jobs))]


def test_a_seed_s_betas_are_cut_so_that_every_job_has_a_group():
    plan = SweepPlan.of(betas=(1.0, 2.0, 4.0, 8.0), seeds=(0,))
    assert _sizes(plan, 2) == [2, 2]
    assert _sizes(plan, 3) == [2, 2]  # ceil(4 / 3) = 2 per group: three jobs, two groups
    assert _sizes(plan, 4) == [1, 1, 1, 1]
    seven = SweepPlan.of(betas=(0.5, 1.0, 2.5, 5.0, 7.5, 10.0, 50.0), seeds=(0, 1))
    # Two seeds, three jobs: each seed's group cut in two, as wide as possible.
    assert _sizes(seven, 3) == [4, 3, 4, 3]


def test_plans_with_a_group_per_job_already_are_not_cut():
    plan = SweepPlan.of(betas=(1.0, 4.0), seeds=(0, 1, 2))
    assert max_group_for_jobs(plan.configs(), 2) is None
    assert max_group_for_jobs(plan.configs(), 3) is None


@pytest.mark.parametrize("jobs", [0, -1, 1.5, "2", True])
def test_jobs_must_be_a_whole_number_of_at_least_one(jobs):
    with pytest.raises(InputError, match="jobs must be an integer >= 1"):
        check_jobs(jobs)


def test_more_jobs_than_cores_is_said_in_one_warning(caplog, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    with caplog.at_level(logging.WARNING, logger="kbetavae.study.jobs"):
        assert check_jobs(2) == 2
        assert caplog.records == []
        assert check_jobs(3) == 3
    assert len(caplog.records) == 1
    assert "--jobs 3 is more than the 2 CPU cores" in caplog.records[0].getMessage()


def test_jobs_on_a_bucket_are_refused_before_anything_starts(tmp_path):
    plan = SweepPlan.of(betas=(1.0, 4.0), epochs=1, subset=64)
    with pytest.raises(InputError, match="jobs needs a local `out`"):
        run_sweep_jobs(plan, "gs://some-bucket/runs", tmp_path / "sm", jobs=2)
    assert list(tmp_path.iterdir()) == []


def test_the_sweep_draws_its_report_unless_asked_not_to(monkeypatch, tmp_path):
    import kbetavae.study.jobs as jobs

    drawn = []
    monkeypatch.setattr(jobs, "run_sweep", lambda *args, **kwargs: [{"status": "done"}])

    def build_report(sweep_dir, beta, **kwargs):
        drawn.append((sweep_dir, beta, kwargs["motion"], isinstance(kwargs["progress"], Progress)))

    monkeypatch.setattr(jobs, "build_report", build_report)
    plan = SweepPlan.of(name="t", betas=(1.0, 4.0))
    assert run_sweep_jobs(plan, tmp_path, traverse_beta=4.0) == [{"status": "done"}]
    assert drawn == [(f"{tmp_path}/t", 4.0, True, True)]
    run_sweep_jobs(plan, tmp_path, report=False)
    assert len(drawn) == 1
    with pytest.raises(InputError, match="traverse_beta 5 is not one of the swept βs"):
        run_sweep_jobs(plan, tmp_path, traverse_beta=5.0)  # before anything runs
