"""What a sweep found, in words: the sentence and the warning at the top of its report.

The sentence comes from the results (``results.csv``: active latents per run) and, when
``kbetavae motion`` or the sweep measured them, the traversals (``traversal_motion.csv``):
"β = 4 uses 4 latents; two of them move the sprite along x and y". The warning names the
runs that look untrained and the flag that fixes it.

A run looks untrained when it has no active latent (mean KL > 0.01 nats, as
``metrics.json`` counts them) or when its reconstruction is near what a model that ignores
its latents achieves: at least :data:`UNTRAINED_FRACTION` of :data:`NO_INFORMATION_NATS`.
That reference is the best a decoder can do with no information about the image: predict
every pixel by its mean over the dSprites grid, costing Σ over pixels of the binary entropy
of that mean — 565.5 nats on the replica's full grid (computed over all 737,280 images; the
study's collapsed runs sit at 565-569 nats, docs/results). The held-out reconstruction is
compared when the run has one (the trained model on unseen images, in summed nats whatever
the reduction); otherwise the training reconstruction on the scale of its reduction.

Example:
    >>> plan = SweepPlan(betas=(4.0,), base=TrainConfig(epochs=1))
    >>> rows = [{"beta": 4.0, "seed": 0, "status": "done", "active_latents": 0,
    ...          "reconstruction": 1185.0, "epochs": 1}]
    >>> sweep_findings(plan, rows).sentence
    'β = 4 uses no latent.'
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from typing import Any

from kbetavae import io as kio
from kbetavae.study.grid import setting_of, setting_order
from kbetavae.study.motion import (
    LONG_MOVE_PX,
    MOTION_CSV,
    along_axis,
    is_long_move,
    read_motion_csv,
)
from kbetavae.study.plan import PRESETS, SweepPlan
from kbetavae.training.config import TrainConfig
from kbetavae.training.rundir import run_name

# Σ_pixels H(p̄_pixel), nats: the reconstruction of a decoder that ignores z (module doc).
NO_INFORMATION_NATS = 565.5
# "Near" the no-information reconstruction: within a quarter of it. The study's trained runs
# are at most 0.55 of it (β = 50 with one active latent; every other run at most 0.38), its
# collapsed run 1.0 (docs/results/results.csv).
UNTRAINED_FRACTION = 0.75
_COUNTS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


@dataclasses.dataclass(frozen=True)
class Findings:
    """The report's first lines: ``sentence`` (what the sweep found) and ``warning`` (runs
    that look untrained and what to change; None when every run trained)."""

    sentence: str
    warning: str | None


def sweep_findings(
    plan: SweepPlan, rows: Sequence[dict], motion: Sequence[dict[str, str]] | None = None
) -> Findings:
    """The findings of a sweep from its plan, its ``results.csv`` rows and, if measured, its
    ``traversal_motion.csv`` rows (as :func:`kbetavae.study.motion.read_motion_csv` reads
    them)."""
    done = [r for r in rows if r.get("status") == "done"]
    if not done:
        return Findings("No run finished.", None)
    moves = _moves_by_run(motion)
    by_setting: dict[str, list[dict]] = {}
    for row in sorted(done, key=setting_order):
        by_setting.setdefault(setting_of(row), []).append(row)
    parts = [_setting_part(plan, runs, moves) for runs in by_setting.values()]
    sentence = "; ".join(parts) + "."
    if motion is None:
        sentence += " (`kbetavae motion` measures how the latents move the sprite.)"
    return Findings(
        sentence[0].upper() + sentence[1:] if sentence[0].isascii() else sentence,
        _untrained_warning(plan, done),
    )


def read_findings(sweep_dir: str, plan: SweepPlan, rows: Sequence[dict]) -> Findings:
    """:func:`sweep_findings` of ``sweep_dir``: its plan and results rows, and its
    ``traversal_motion.csv`` if the traversals were measured."""
    path = os.path.join(sweep_dir, MOTION_CSV)
    return sweep_findings(plan, rows, read_motion_csv(path) if kio.exists(path) else None)


def untrained_reason(row: dict, reconstruction: str = "sum") -> str | None:
    """Why a finished run looks untrained (see the module doc), or None if it does not."""
    active = row.get("active_latents")
    if active == 0:
        return "0 active latents"
    heldout = row.get("heldout_reconstruction")
    if _number(heldout):
        value, reference, which = heldout, NO_INFORMATION_NATS, "held-out reconstruction"
    elif _number(row.get("reconstruction")):
        value, which = row["reconstruction"], "reconstruction"
        reference = NO_INFORMATION_NATS / (TrainConfig().pixels if reconstruction == "mean" else 1)
    else:
        return None
    if value >= UNTRAINED_FRACTION * reference:
        return f"{which} {value:.4g} nats, near the {reference:.4g} of a model that ignores z"
    return None


def optimizer_steps(config: TrainConfig) -> int:
    """The optimizer steps of a run: epochs × steps per epoch."""
    per_epoch = config.steps_per_epoch or math.ceil(config.subset / config.batch_size)
    return config.epochs * per_epoch


def _label(plan: SweepPlan, row: dict) -> str:
    setting = setting_of(row)
    if setting != f"beta={row['beta']:g}":  # another objective's setting names itself
        return setting
    if plan.base.normalised_beta is None:
        return f"the {plan.base.objective} run"
    return f"β = {row['beta']:g}"


def _setting_part(plan: SweepPlan, runs: list[dict], moves: dict | None) -> str:
    active = sorted(int(r.get("active_latents") or 0) for r in runs)
    low, high = active[0], active[-1]
    count = ("no" if low == 0 else str(low)) if low == high else f"{low}–{high}"
    noun = "latent" if high <= 1 else "latents"
    part = f"{_label(plan, runs[0])} uses {count} {noun}"
    if len(runs) > 1:
        both = 0 if moves is None else sum(_moves_along_both_axes(plan, r, moves) for r in runs)
        axes = f"; {both} with one latent moving the sprite along x and another along y"
        return f"{part} ({len(runs)} seeds{axes if both else ''})"
    if moves is None or high == 0:
        return part
    directions = moves.get(_run_key(plan, runs[0]), [])
    if not directions:
        return f"{part}, none of which moves the sprite {LONG_MOVE_PX:g} px or more"
    if len(directions) == 1:
        which = "which moves" if high == 1 else "one of which moves"
    else:
        which = f"{_count(len(directions))} of which move"
    return f"{part}, {which} the sprite {_directions(directions)}"


def _moves_along_both_axes(plan: SweepPlan, row: dict, moves: dict) -> bool:
    return {"x", "y"} <= set(moves.get(_run_key(plan, row), []))


def _untrained_warning(plan: SweepPlan, done: list[dict]) -> str | None:
    found: dict[str, list[str]] = {}
    for row in done:
        reason = untrained_reason(row, plan.base.reconstruction)
        if reason:
            label = _label(plan, row)
            label += f" seed {row['seed']}" if len(plan.seeds) > 1 else ""
            found.setdefault(reason, []).append(label)
    if not found:
        return None
    runs = sum(len(labels) for labels in found.values())
    details = "; ".join(f"{reason}: {', '.join(labels)}" for reason, labels in found.items())
    return f"{runs} of {len(done)} runs ({details}); {_fix(plan)}."


def _fix(plan: SweepPlan) -> str:
    """The flag that fixes an untrained run: longer training if the plan trains fewer steps
    than the quick preset, else a smaller β (its KL collapsed)."""
    quick = PRESETS["quick"]
    steps = optimizer_steps(plan.base)
    quick_steps = optimizer_steps(
        TrainConfig(**{k: v for k, v in quick.items() if k in _TRAIN_FIELDS})
    )
    if steps < quick_steps:
        return (
            f"train longer with more --epochs or a larger --subset ({steps:,} steps per run "
            f"here; --preset quick trains {quick_steps:,})"
        )
    if plan.base.reconstruction == "mean":
        return (
            "the KL collapsed: try a smaller β (--betas), or --reconstruction sum (the mean "
            f"weighs β {plan.base.pixels:,} times more)"
        )
    return "the KL collapsed: try a smaller β (--betas)"


_TRAIN_FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}


def _moves_by_run(motion: Sequence[dict[str, str]] | None) -> dict[str, list[str]] | None:
    """Per run name: the direction of each active latent's long move ("x", "y" or "40°")."""
    if motion is None:
        return None
    moves: dict[str, list[str]] = {}
    for row in motion:
        if is_long_move(row):
            angle = float(row["angle_deg"])
            direction = (
                ("x" if abs(angle) < 45 else "y") if along_axis(angle) else f"at {angle:.0f}°"
            )
            moves.setdefault(row["run"], []).append(direction)
        else:
            moves.setdefault(row["run"], [])
    return moves


def _run_key(plan: SweepPlan, row: dict) -> str:
    """The run directory's name, as ``traversal_motion.csv`` names the run."""
    return run_name(plan.base.replace(beta=float(row["beta"]), seed=int(row["seed"])))


def _directions(directions: list[str]) -> str:
    """``["x", "at 40°", "y", "at -30°"]`` as "along x and y and at 40° and -30°"."""
    axes = [d for d in ("x", "y") if d in directions]
    angles = [d.removeprefix("at ") for d in directions if d not in ("x", "y")]
    said = [f"along {' and '.join(axes)}"] if axes else []
    if angles:
        listed = ", ".join(angles[:-1]) + " and " + angles[-1] if len(angles) > 1 else angles[0]
        said.append(f"at {listed}")
    return " and ".join(said)


def _count(n: int) -> str:
    return _COUNTS[n] if 0 <= n < len(_COUNTS) else str(n)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
