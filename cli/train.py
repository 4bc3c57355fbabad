"""``kbetavae train``: train one BetaVAE (one β, one seed) into a run directory.

On Vertex AI the same command is a custom job or one trial of a hyperparameter-tuning job:
flags arrive as ``--beta=4.0``, outputs default to the ``AIP_*`` directories, and the run is
evaluated and its metric reported to the tuning service (``kbetavae.cloud``).
"""

from __future__ import annotations

import os

import typer

from cli.common import user_errors, whole_number
from kbetavae.cloud import DEFAULT_HYPERTUNE_METRIC, VertexEnvironment
from kbetavae.sweep import DEFAULT_METRICS, metric_row


@user_errors
def train(
    beta: float = typer.Option(1.0, "--beta", help="weight of the KL term (objective beta)"),
    seed: int = typer.Option(
        0, "--seed", parser=whole_number, help="seeds weights, noise and the data subset"
    ),
    epochs: int = typer.Option(
        10, "--epochs", parser=whole_number, help="passes over the training subset"
    ),
    batch_size: int = typer.Option(
        32, "--batch-size", parser=whole_number, help="global batch size"
    ),
    lr: float = typer.Option(1e-3, "--lr", help="Adam learning rate"),
    latent_dim: int = typer.Option(
        10, "--latent-dim", parser=whole_number, help="number of latents z"
    ),
    objective: str = typer.Option(
        "beta", "--objective", help="beta (β·KL) or capacity (γ·|KL − C|, Burgess 2018)"
    ),
    gamma: float = typer.Option(1000.0, "--gamma", help="capacity objective: weight γ"),
    capacity_max: float = typer.Option(
        25.0, "--capacity-max", help="capacity objective: final C in nats"
    ),
    capacity_steps: int = typer.Option(
        100_000,
        "--capacity-steps",
        parser=whole_number,
        help="capacity objective: steps for C to reach its max",
    ),
    subset: int = typer.Option(
        50_000, "--subset", parser=whole_number, help="training images drawn from the grid"
    ),
    source: str = typer.Option("replica", "--source", help="replica, dsprites or a file path"),
    out: str = typer.Option(
        None, "--out", help="root of run directories (default: $AIP_MODEL_DIR or runs/)"
    ),
    name: str = typer.Option(
        None, "--name", help="run directory name (default: beta=<β>_seed=<seed>)"
    ),
    jit: bool = typer.Option(False, "--jit/--no-jit", help="XLA-compile the train step"),
    precision: str = typer.Option("float32", "--precision", help="float32 or mixed_bfloat16"),
    tensorboard: bool = typer.Option(False, "--tensorboard", help="also write TensorBoard logs"),
    evaluate: bool = typer.Option(
        None,
        "--evaluate/--no-evaluate",
        help="compute the metrics after training -> <run>/metrics.json (default: on Vertex AI)",
    ),
    metrics: str = typer.Option(
        ",".join(DEFAULT_METRICS), "--metrics", help="with --evaluate; also sap, factorvae, dci"
    ),
    eval_points: int = typer.Option(
        10_000,
        "--eval-points",
        parser=whole_number,
        help="with --evaluate: metric sample size (protocol: 10,000)",
    ),
    hypertune_metric: str = typer.Option(
        DEFAULT_HYPERTUNE_METRIC,
        "--hypertune-metric",
        help="with --evaluate: the metric reported to Vertex AI hyperparameter tuning "
        "(when cloudml-hypertune is installed)",
    ),
    saved_models: str = typer.Option(
        None,
        "--saved-models",
        help="also export a SavedModel to <dir>/<run>/1 "
        "(default: $AIP_MODEL_DIR/saved_models on Vertex AI, else no export)",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
) -> None:
    """Train one model; rerunning resumes an interrupted run and skips a finished one."""
    from kbetavae import cloud, trial
    from kbetavae.cluster import is_chief
    from kbetavae.training import TrainConfig, run_name
    from kbetavae.training import train as train_run

    vertex = VertexEnvironment.from_environ()
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
    cloud.check_hypertune_metric(hypertune_metric)
    evaluate = vertex.on_vertex if evaluate is None else evaluate
    if evaluate:  # bad metric options fail here, before anything is trained
        names = [m.strip() for m in metrics.split(",") if m.strip()]
        plan = trial.evaluation_plan(config, names, eval_points, hypertune_metric)
    run = name or run_name(config)
    run_dir = os.path.join(out or vertex.out_root(), run)
    result = train_run(
        config, run_dir, backup_dir=vertex.backup_dir(run), verbose=0 if quiet else "auto"
    )
    scores = "  ".join(
        f"{key} {result.metrics[key]:.4g}"
        for key in ("loss", "reconstruction", "kl")
        if isinstance(result.metrics.get(key), float)
    )
    typer.echo(f"{run_dir}: {result.status} after {result.epochs} epochs  {scores}")
    if not result.ok:
        typer.echo(f"kbetavae: run failed: {result.reason}", err=True)
        raise typer.Exit(1)
    if not is_chief():  # in a multi-worker job the chief evaluates, reports and exports
        return
    if evaluate:
        record = trial.evaluate_run(result, plan)
        value = cloud.objective_value(record, hypertune_metric)
        scores = "  ".join(
            f"{column} {score:.3f}"
            for column, score in metric_row(record).items()
            if column in cloud.HYPERTUNE_METRICS and score is not None
        )
        typer.echo(f"{scores} -> {os.path.join(run_dir, 'metrics.json')}")
        if cloud.report_metric(hypertune_metric, value, global_step=result.steps):
            typer.echo(f"reported {hypertune_metric} {value:.4f} to hyperparameter tuning")
        elif vertex.trial_id:
            typer.echo(
                "kbetavae: warning: cloudml-hypertune is not installed, so the trial's "
                f"{hypertune_metric} is not reported (pip install 'kbetavae[hypertune]')",
                err=True,
            )
    saved_models = saved_models or vertex.saved_models_root()
    if saved_models:
        typer.echo(f"SavedModel -> {trial.export_run(result, saved_models)}")
