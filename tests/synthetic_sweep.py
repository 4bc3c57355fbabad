"""A small sweep directory built from files, without training: what figures, the report and
publishing read.

Four β (7.5 and 10 sit close on a log axis), two seeds each; β = 10 seed 1 failed, so
β = 10 has one finished seed and the others have two. Every finished run holds the same
untrained BetaVAE (figures decode real images), a history, and a metrics.json whose
numbers are made up but shaped like evaluate()'s; config.json and done.json as training
writes them. ``build_sweep`` takes the β and seeds to write, so a second sweep of the same
study (other seeds) can be built beside the first.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np

BETAS = (1.0, 4.0, 7.5, 10.0)
SEEDS = (0, 1)
FAILED = (10.0, 1)
# Angle brackets: the report must escape whatever a failure message holds.
FAILED_REASON = "loss became NaN at epoch 2 <script>alert(1)</script>"
LATENTS = 10
EPOCHS = 3


def kl_of(beta: float, seed: int) -> np.ndarray:
    """Per-latent KL of a run: falls with β; a collapsed latent at ~1e-4 nats."""
    kl = np.linspace(2.0, 0.02, LATENTS) / beta + 0.01 * seed
    kl[-1] = 1e-4
    return kl


def row_of(beta: float, seed: int) -> dict:
    if (beta, seed) == FAILED:
        return {
            "beta": beta,
            "seed": seed,
            "status": "failed",
            "epochs": 2,
            "reason": FAILED_REASON,
        }
    return {
        "beta": beta,
        "seed": seed,
        "status": "done",
        "epochs": EPOCHS,
        "loss": 200.0 + beta,
        "reconstruction": 190.0 + beta,
        "kl": float(kl_of(beta, seed).sum()),
        "active_latents": int((kl_of(beta, seed) > 0.01).sum()),
        "mig": float(0.05 * np.log(beta + 1) + 0.01 * seed),
        "zdiff": 0.6 + 0.01 * beta + 0.02 * seed,
        "modularity": 0.8 + 0.01 * seed,
        "train_seconds": 10.0,
        "eval_seconds": 5.0,
        "reason": None,
    }


def metrics_record(beta: float, seed: int) -> dict:
    rng = np.random.default_rng(int(beta * 10) + seed)
    mi = rng.random((LATENTS, 5))
    return {
        "seed": seed,
        "metrics": ["mig", "zdiff", "modularity"],
        "num_latents": LATENTS,
        "active_latents": int((kl_of(beta, seed) > 0.01).sum()),
        "active_latents_method": "kl",
        "kl_per_latent": kl_of(beta, seed).tolist(),
        "mig": {"score": row_of(beta, seed)["mig"], "matrix": (mi * 0.3).tolist()},
        # Z-diff features of a collapsed code are thousandths: the matrix must not print 0.00.
        "zdiff": {"score": row_of(beta, seed)["zdiff"], "matrix": (mi * 0.004).tolist()},
        "modularity": {
            "score": row_of(beta, seed)["modularity"],
            "matrix": mi.tolist(),
            "per_latent": rng.random(LATENTS).tolist(),
        },
        "protocol": {"num_points": 200, "num_test_points": 100},
    }


def _write_history(run_dir: Path, beta: float, seed: int, epochs: int = EPOCHS) -> None:
    columns = ["epoch", "kl", *[f"kl_{i}" for i in range(LATENTS)], "loss", "reconstruction"]
    with open(run_dir / "history.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for epoch in range(epochs):  # as many rows as done.json records
            kl = kl_of(beta, seed) * (1 + 0.5 * (EPOCHS - epoch))
            writer.writerow([epoch, kl.sum(), *kl, 300.0 - 10 * epoch, 290.0 - 10 * epoch])


def build_sweep(
    root: Path,
    with_figures: bool = True,
    name: str = "syn",
    betas: tuple[float, ...] = BETAS,
    seeds: tuple[int, ...] = SEEDS,
) -> Path:
    """Write the sweep directory ``root/<name>`` (figures rendered for real) and return it."""
    import keras

    from kbetavae import BetaVAE
    from kbetavae.provenance import provenance
    from kbetavae.study.plan import SweepPlan
    from kbetavae.study.results import write_results
    from kbetavae.training.rundir import TrainResult, run_name, write_config, write_result

    plan = SweepPlan.of(
        name=name, betas=betas, seeds=seeds, epochs=EPOCHS, subset=640, eval_points=200
    )
    sweep_dir = root / plan.name
    sweep_dir.mkdir(parents=True)
    (sweep_dir / "sweep.json").write_text(json.dumps({"plan": plan.to_dict(), **provenance()}))
    keras.utils.set_random_seed(0)  # the weights (and so the figures) must not depend on test order
    model = BetaVAE(seed=0)
    model(np.zeros((1, 64, 64, 1), np.float32))
    model_file = root / "model.keras"
    keras.saving.save_model(model, model_file)
    rows = []
    for beta in betas:
        for seed in seeds:
            config = plan.base.replace(beta=beta, seed=seed)
            run_dir = sweep_dir / run_name(config)
            run_dir.mkdir()
            row = row_of(beta, seed)
            rows.append(row)
            write_config(str(run_dir), config)
            _write_history(run_dir, beta, seed, row["epochs"])
            if row["status"] == "done":
                shutil.copy(model_file, run_dir / "model.keras")
                (run_dir / "metrics.json").write_text(json.dumps(metrics_record(beta, seed)))
            result = TrainResult(
                run_dir=str(run_dir),
                status=row["status"],
                epochs=row["epochs"],
                steps=row["epochs"] * 20,
                reason=row["reason"],
                seconds=row.get("train_seconds", 0.0),
                metrics={k: row[k] for k in ("loss", "reconstruction", "kl") if k in row},
            )
            write_result(result)
    write_results(str(sweep_dir), rows)
    if with_figures:
        from kbetavae.data import open_source
        from kbetavae.viz.report import render_sweep_figures

        render_sweep_figures(str(sweep_dir), data=open_source("replica"), traverse_beta=4.0)
    return sweep_dir
