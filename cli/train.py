"""``kbetavae train``: train one BetaVAE (one β, one seed) into a run directory."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from cli.common import user_errors


def default_out() -> Path:
    """``$AIP_MODEL_DIR`` on Vertex AI, ``runs/`` elsewhere."""
    return Path(os.environ.get("AIP_MODEL_DIR") or "runs")


@user_errors
def train(
    beta: float = typer.Option(1.0, "--beta", help="weight of the KL term (objective beta)"),
    seed: int = typer.Option(0, "--seed", help="seeds weights, noise and the data subset"),
    epochs: int = typer.Option(10, "--epochs", help="passes over the training subset"),
    batch_size: int = typer.Option(32, "--batch-size", help="global batch size"),
    lr: float = typer.Option(1e-3, "--lr", help="Adam learning rate"),
    latent_dim: int = typer.Option(10, "--latent-dim", help="number of latents z"),
    objective: str = typer.Option(
        "beta", "--objective", help="beta (β·KL) or capacity (γ·|KL − C|, Burgess 2018)"
    ),
    gamma: float = typer.Option(1000.0, "--gamma", help="capacity objective: weight γ"),
    capacity_max: float = typer.Option(
        25.0, "--capacity-max", help="capacity objective: final C in nats"
    ),
    capacity_steps: int = typer.Option(
        100_000, "--capacity-steps", help="capacity objective: steps for C to reach its max"
    ),
    subset: int = typer.Option(50_000, "--subset", help="training images drawn from the grid"),
    source: str = typer.Option("replica", "--source", help="replica, dsprites or a file path"),
    out: Path = typer.Option(
        None, "--out", help="root of run directories (default: $AIP_MODEL_DIR or runs/)"
    ),
    name: str = typer.Option(
        None, "--name", help="run directory name (default: beta=<β>_seed=<seed>)"
    ),
    jit: bool = typer.Option(False, "--jit/--no-jit", help="XLA-compile the train step"),
    precision: str = typer.Option("float32", "--precision", help="float32 or mixed_bfloat16"),
    tensorboard: bool = typer.Option(False, "--tensorboard", help="also write TensorBoard logs"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
) -> None:
    """Train one model; rerunning resumes an interrupted run and skips a finished one."""
    from kbetavae.training import TrainConfig, run_name
    from kbetavae.training import train as train_run

    config = TrainConfig(
        beta=beta,
        seed=seed,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        latent_dim=latent_dim,
        objective=objective,
        gamma=gamma,
        capacity_max=capacity_max,
        capacity_steps=capacity_steps,
        subset=subset,
        source=source,
        jit_compile=jit,
        precision=precision,
        tensorboard=tensorboard,
    )
    run_dir = os.path.join(os.fspath(out or default_out()), name or run_name(config))
    result = train_run(config, run_dir, verbose=0 if quiet else "auto")
    metrics = "  ".join(
        f"{key} {result.metrics[key]:.4g}"
        for key in ("loss", "reconstruction", "kl")
        if isinstance(result.metrics.get(key), float)
    )
    typer.echo(f"{run_dir}: {result.status} after {result.epochs} epochs  {metrics}")
    if not result.ok:
        typer.echo(f"kbetavae: run failed: {result.reason}", err=True)
        raise typer.Exit(1)
