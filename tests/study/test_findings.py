"""The report's first lines: what the sweep found, and which runs look untrained."""

from __future__ import annotations

import numpy as np
import pytest

from kbetavae.study.findings import (
    NO_INFORMATION_NATS,
    UNTRAINED_FRACTION,
    optimizer_steps,
    sweep_findings,
    untrained_reason,
)
from kbetavae.study.plan import PRESETS, SweepPlan
from kbetavae.training.config import TrainConfig


def _row(beta: float, active: int, seed: int = 0, **values) -> dict:
    return {"beta": beta, "seed": seed, "status": "done", "active_latents": active, **values}


def _motion(run: str, latent: int, angle: float | None, extent: float, active=True) -> dict:
    cell = "" if angle is None else str(angle)
    return {
        "run": run,
        "latent": str(latent),
        "active": str(active),
        "angle_deg": cell,
        "extent_px": str(extent),
    }


def test_no_information_reconstruction_is_the_entropy_of_the_grids_mean_image():
    from kbetavae.data import open_source

    data = open_source("replica")
    index = np.random.default_rng(0).choice(data.num_images, 20_000, replace=False)
    mean = data.images_at(np.sort(index)).mean(axis=0, dtype=np.float64)
    p = np.clip(mean, 1e-12, 1 - 1e-12)
    entropy = -(p * np.log(p) + (1 - p) * np.log1p(-p)).sum()
    assert entropy == pytest.approx(NO_INFORMATION_NATS, abs=3.0)


def test_a_run_without_active_latents_or_near_the_no_information_level_looks_untrained():
    assert untrained_reason(_row(4.0, 0, reconstruction=90.0)) == "0 active latents"
    near = UNTRAINED_FRACTION * NO_INFORMATION_NATS + 1
    reason = untrained_reason(_row(4.0, 3, heldout_reconstruction=near, reconstruction=50.0))
    assert reason.startswith("held-out reconstruction") and "565.5" in reason
    assert untrained_reason(_row(4.0, 3, heldout_reconstruction=near - 2)) is None
    # Without a held-out number the training one is compared on its reduction's scale.
    assert untrained_reason(_row(1.0, 2, reconstruction=0.138), "mean") is not None
    assert untrained_reason(_row(1.0, 2, reconstruction=0.02), "mean") is None
    assert untrained_reason(_row(1.0, 2, reconstruction=0.138), "sum") is None


def test_the_sentence_counts_latents_and_names_the_axes_they_move_the_sprite_along():
    plan = SweepPlan(betas=(1.0, 4.0), base=TrainConfig())
    rows = [_row(1.0, 6), _row(4.0, 4)]
    motion = [
        _motion("beta=1_seed=0", 0, 40.0, 20.0),
        _motion("beta=1_seed=0", 1, 2.0, 3.0),  # too short a move to count
        _motion("beta=4_seed=0", 0, -3.0, 30.0),
        _motion("beta=4_seed=0", 1, 88.0, 25.0),
        _motion("beta=4_seed=0", 2, None, 0.1),
        _motion("beta=4_seed=0", 5, 0.0, 30.0, active=False),
    ]
    findings = sweep_findings(plan, rows, motion)
    assert findings.sentence == (
        "β = 1 uses 6 latents, one of which moves the sprite at 40°; "
        "β = 4 uses 4 latents, two of which move the sprite along x and y."
    )
    assert findings.warning is None
    unmeasured = sweep_findings(plan, rows, None).sentence
    assert unmeasured.startswith("β = 1 uses 6 latents; β = 4 uses 4 latents.")
    assert "kbetavae motion" in unmeasured


def test_several_seeds_give_the_range_of_latents_and_the_seeds_with_both_axes():
    plan = SweepPlan(betas=(4.0,), seeds=(0, 1), base=TrainConfig())
    motion = [
        _motion("beta=4_seed=0", 0, 1.0, 30.0),
        _motion("beta=4_seed=0", 1, 89.0, 30.0),
        _motion("beta=4_seed=1", 0, 30.0, 30.0),
    ]
    findings = sweep_findings(plan, [_row(4.0, 3), _row(4.0, 5, seed=1)], motion)
    assert findings.sentence == (
        "β = 4 uses 3–5 latents (2 seeds; 1 with one latent moving the sprite along x and "
        "another along y)."
    )


def test_the_warning_names_the_untrained_runs_and_the_flag_that_fixes_them():
    short = SweepPlan(betas=(1.0, 4.0), base=TrainConfig(epochs=1, subset=2000))
    rows = [
        _row(1.0, 0, reconstruction=1188.0, heldout_reconstruction=602.6),
        _row(4.0, 1, reconstruction=1181.0, heldout_reconstruction=597.5),
    ]
    warning = sweep_findings(short, rows).warning
    assert warning.startswith("2 of 2 runs (0 active latents: β = 1; held-out reconstruction ")
    assert "β = 4" in warning and "597.5 nats" in warning
    assert "--epochs" in warning and "--subset" in warning and "--preset quick" in warning
    assert f"({optimizer_steps(short.base)} steps per run here;" in warning

    # Trained as long as the preset and still empty: the KL collapsed, β is the flag.
    long = SweepPlan(betas=(50.0,), base=TrainConfig())
    collapsed = sweep_findings(long, [_row(50.0, 0, reconstruction=565.1)]).warning
    assert collapsed.startswith("1 of 1 runs (0 active latents: β = 50)")
    assert "smaller β (--betas)" in collapsed
    mean = SweepPlan(betas=(1.0,), base=TrainConfig(reconstruction="mean"))
    assert "--reconstruction sum" in sweep_findings(mean, [_row(1.0, 0)]).warning


def test_the_quick_preset_trains_more_steps_than_the_one_epoch_sweep_it_replaces():
    quick = TrainConfig(epochs=PRESETS["quick"]["epochs"], subset=PRESETS["quick"]["subset"])
    assert optimizer_steps(quick) > 10 * optimizer_steps(TrainConfig(epochs=1, subset=2000))


def test_a_grid_names_each_setting_not_only_its_beta():
    from kbetavae.study.grid import settings_of

    plan = SweepPlan.of(settings=settings_of(["beta:4", "dipvae-i:10"]), seeds=(0, 1))
    rows = [
        {
            "setting": s,
            "objective": o,
            "weight": w,
            "beta": b,
            "seed": seed,
            "status": "done",
            "active_latents": a,
            "reconstruction": 100.0,
            "epochs": 1,
        }
        for s, o, w, b, a in (
            ("beta=4", "beta", 4.0, 4.0, 3),
            ("dipvae_i_lambda_od=10", "dipvae_i", 10.0, 1.0, 0),
        )
        for seed in (0, 1)
    ]
    findings = sweep_findings(plan, rows)
    assert findings.sentence.startswith(
        "β = 4 uses 3 latents (2 seeds); dipvae_i_lambda_od=10 uses no latent (2 seeds)."
    )
    assert "dipvae_i_lambda_od=10 seed 1" in findings.warning
