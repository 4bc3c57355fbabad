"""The README's quick start and ``--preset quick`` agree; flags beside a preset override it.

The quick start itself (about 3 minutes of training and evaluation on a 2-core CPU) is too
slow for ``make test``; ``python -m benchmarks bench_quickstart`` runs the README's command
as written and asserts that it learns (issue 23). These tests keep that command, the preset
and the README's description of them in agreement, without training.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks.bench_quickstart import readme_quickstart
from cli.main import app
from kbetavae.study.plan import PRESETS, SweepPlan, preset_settings
from kbetavae.training.precision import resolve_precision

README = Path(__file__).parents[2] / "README.md"


@pytest.fixture
def planned(monkeypatch, tmp_path):
    """Run ``kbetavae sweep ARGS`` up to its plan: the plan it would train, nothing trained."""
    import kbetavae.study.jobs

    plans: list[SweepPlan] = []

    def record(plan, *args, **kwargs):
        plans.append(plan)
        raise SystemExit(0)

    monkeypatch.setattr(kbetavae.study.jobs, "run_sweep_jobs", record)

    def run(*args: str) -> SweepPlan:
        out = ["--out", str(tmp_path / "runs"), "--saved-models", str(tmp_path / "sm")]
        result = CliRunner().invoke(app, ["sweep", *args, *out])
        assert result.exit_code == 0, result.output
        return plans.pop()

    return run


def test_the_readme_quick_start_is_the_quick_preset(planned):
    args = readme_quickstart(README)
    assert args == ["--preset", "quick"]
    assert planned(*args) == SweepPlan.of(**preset_settings("quick"))


def test_the_readme_describes_the_preset_it_runs():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Quick start") : text.index("## A short tour")]
    quick = PRESETS["quick"]
    betas = " and ".join(f"{b:g}" for b in quick["betas"])
    assert f"β = {betas} (seed {quick['seeds'][0]})" in section
    assert f"{quick['epochs']} epochs" in section
    assert f"{quick['subset']:,} replica images" in section
    assert f"`--eval-points {quick['eval_points']}`" in section
    assert "runs/quick/report.html" in section and quick["name"] == "quick"


def test_flags_given_beside_a_preset_override_it(planned):
    plan = planned("--preset", "quick", "--epochs", "1", "--betas", "4", "--name", "mine")
    quick = preset_settings("quick")
    assert (plan.base.epochs, plan.betas, plan.name) == (1, (4.0,), "mine")
    assert plan.base.subset == quick["subset"] and plan.eval_points == quick["eval_points"]
    assert quick["precision"] == "auto"  # resolved by the hardware, recorded resolved
    assert plan.base.precision == resolve_precision("auto")
    assert planned("--preset", "quick", "--precision", "float32").base.precision == "float32"


def test_without_a_preset_the_defaults_are_the_studys(planned):
    assert planned() == SweepPlan()


def test_an_unknown_preset_is_one_line_exit_2(tmp_path):
    result = CliRunner().invoke(app, ["sweep", "--preset", "fast", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--preset must be one of quick, got 'fast'" in result.output
    assert list(tmp_path.iterdir()) == []
