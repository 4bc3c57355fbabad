"""``kbetavae train``: train one BetaVAE (one β, one seed) into a run directory.

On Vertex AI the same command is a custom job or one trial of a hyperparameter-tuning job:
flags arrive as ``--beta=4.0``, outputs default to the ``AIP_*`` directories, and the run is
evaluated and its metric reported to the tuning service (``kbetavae.cloud``).
"""

from __future__ import annotations

import os

import typer

from cli import options
from cli.common import count, user_errors, whole_number
from cli.options import DEFAULTS
from kbetavae.cloud import DEFAULT_HYPERTUNE_METRIC, VertexEnvironment
from kbetavae.metrics import metric_row, registry
from kbetavae.metrics.protocol import DEFAULT_CLASSIFIER, FULL_POINTS


@user_errors
def train(
    beta: float = typer.Option(
        DEFAULTS.beta, "--beta", help="weight β of the KL term (objectives with a β)"
    ),
    seed: int = typer.Option(
        DEFAULTS.seed, "--seed", parser=whole_number, help="seeds weights, noise and the subset"
    ),
    epochs: options.Epochs = DEFAULTS.epochs,
    batch_size: options.BatchSize = DEFAULTS.batch_size,
    lr: options.LearningRate = DEFAULTS.lr,
    latent_dim: options.LatentDim = DEFAULTS.latent_dim,
    objective: options.Objective = DEFAULTS.objective,
    objective_args: options.ObjectiveArgs = "",
    reconstruction: options.Reconstruction = DEFAULTS.reconstruction,
    subset: options.Subset = DEFAULTS.subset,
    source: options.Source = DEFAULTS.source,
    data: options.Data = DEFAULTS.data,
    painting: options.Painting = DEFAULTS.painting,
    out: str = typer.Option(
        None, "--out", help="root of run directories (default: $AIP_MODEL_DIR or runs/)"
    ),
    name: str = typer.Option(
        None, "--name", help="run directory name (default: the sweep's, e.g. beta=4_seed=0)"
    ),
    jit: bool = typer.Option(False, "--jit/--no-jit", help="XLA-compile the train step"),
    precision: options.Precision = DEFAULTS.precision,
    tensorboard: bool = typer.Option(False, "--tensorboard", help="also write TensorBoard logs"),
    evaluate: bool = typer.Option(
        None,
        "--evaluate/--no-evaluate",
        help="compute the metrics after training -> <run>/metrics.json (default: on Vertex AI)",
    ),
    metrics: str = typer.Option(
        ",".join(registry.default_names()),
        "--metrics",
        help="with --evaluate: " + registry.help_text(),
    ),
    eval_points: options.EvalPoints = FULL_POINTS,
    zdiff_classifier: options.ZdiffClassifier = DEFAULT_CLASSIFIER,
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
    from cli.progress import train_reporter
    from kbetavae import cloud
    from kbetavae import io as kio
    from kbetavae.study import trial
    from kbetavae.training.cluster import is_chief
    from kbetavae.training.loop import train as train_run
    from kbetavae.training.rundir import (
        backup_epochs,
        backup_path,
        is_finished,
        metrics_path,
        resume_words,
        run_name,
    )

    vertex = VertexEnvironment.from_environ()
    config = options.train_config(
        beta=beta,
        seed=seed,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        latent_dim=latent_dim,
        objective=objective,
        objective_args=objective_args,
        reconstruction=reconstruction,
        subset=subset,
        source=source,
        data=data,
        painting=painting,
        jit_compile=jit,
        precision=precision,
        tensorboard=tensorboard,
    )
    cloud.check_hypertune_metric(hypertune_metric)
    evaluate = vertex.on_vertex if evaluate is None else evaluate
    if evaluate:  # bad metric options fail here, before anything is trained
        names = options.comma_list(metrics)
        plan = trial.evaluation_plan(config, names, eval_points, hypertune_metric, zdiff_classifier)
    root = out or vertex.out_root()
    if is_chief():  # reads and checks TF_CONFIG first; other workers write nothing here
        kio.check_writable(root, "--out")
    run = name or run_name(config)
    run_dir = os.path.join(root, run)
    backup_dir = vertex.backup_dir(run)  # None: train's default, <run_dir>/backup
    done = 0 if is_finished(run_dir) else backup_epochs(backup_path(run_dir, backup_dir))
    if done:
        typer.echo(f"{run_dir}: {resume_words(done, config.epochs)}")
    result = train_run(
        config,
        run_dir,
        backup_dir=backup_dir,
        callbacks=[] if quiet else [train_reporter()],
        verbose=0,  # Keras' own line lists every kl_i (~580 characters)
    )
    scores = "  ".join(
        f"{key} {result.metrics[key]:.4g}"
        for key in ("loss", "reconstruction", "kl")
        if isinstance(result.metrics.get(key), float)
    )
    typer.echo(f"{run_dir}: {result.status} after {count(result.epochs, 'epoch')}  {scores}")
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
            if column in registry.columns() and score is not None
        )
        typer.echo(f"{scores} -> {metrics_path(run_dir)}")
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
