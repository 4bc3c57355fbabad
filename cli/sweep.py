"""``kbetavae sweep`` and the commands around its outputs: plot, report, motion, traverse,
export. Long because these six commands share their options and output checks; splitting
them is on the structure issue's list."""

from __future__ import annotations

import os
import shlex
import sys

import typer

from cli import ctrl_c, options
from cli.common import (
    check_sweep_dir,
    count,
    explicit_options,
    flag_names,
    user_errors,
    whole_number,
)
from cli.options import DEFAULTS
from kbetavae.errors import InputError
from kbetavae.metrics import registry
from kbetavae.metrics.protocol import DEFAULT_CLASSIFIER, FULL_POINTS
from kbetavae.metrics.traversal_motion import FIGURE_LIMIT, FIGURE_STEPS
from kbetavae.study.plan import PRESETS, STUDY_BETAS, SweepPlan
from kbetavae.study.results import FIGURES_DIR
from kbetavae.study.sweep import RUNS_ROOT, SAVED_MODELS_ROOT
from kbetavae.training.rundir import SAVED_MODEL_VERSION
from kbetavae.viz.model_traversal import DEFAULT_KL_POINTS

PLAN = SweepPlan()  # the plan's own defaults (name, seeds), as DEFAULTS gives a run's


def _numbers(text: str, option: str, kind=float) -> tuple:
    values = []
    for item in text.split(","):
        item = item.strip()
        try:
            values.append(kind(item))
        except ValueError:
            raise InputError(
                f"{option}: {item!r} is not {'an integer' if kind is int else 'a number'}"
                f" (expected a comma-separated list such as 1,4,10)"
            ) from None
    return tuple(values)


def _grid(specs: list[str], study: str | None, betas: str | None) -> tuple[str, tuple]:
    """The base objective and the grid's settings of ``--objective`` specs, a ``--study``
    file and (beside them) ``--betas``, the shorthand for ``beta:…``; no grid: ``--objective
    NAME`` alone (or the default) with ``--betas``, as before grids."""
    from kbetavae.study.grid import Setting, read_study_file, settings_of

    named = [s for s in specs if ":" not in s]
    if named and (len(specs) > 1 or study):
        raise InputError(
            f"--objective {named[0]}: give one --objective NAME (swept over --betas) or "
            "NAME:W1,W2 specs, not both"
        )
    if named or not (specs or study):
        return (named[0] if named else DEFAULTS.objective), ()
    grid = settings_of(specs)
    if study:
        grid += read_study_file(study)
    if betas is not None:
        grid = tuple(Setting("beta", b) for b in _numbers(betas, "--betas")) + grid
    return DEFAULTS.objective, grid


@user_errors
def sweep(
    ctx: typer.Context,
    preset: str = typer.Option(
        None,
        "--preset",
        help=f"a named set of settings ({', '.join(PRESETS)}; quick: the README's 3-minute "
        "sweep); flags given beside it override it",
    ),
    betas: str = typer.Option(
        ",".join(f"{b:g}" for b in STUDY_BETAS), "--betas", help="comma-separated β values"
    ),
    seeds: str = typer.Option(
        ",".join(map(str, PLAN.seeds)), "--seeds", help="comma-separated seeds"
    ),
    epochs: options.Epochs = DEFAULTS.epochs,
    subset: options.Subset = DEFAULTS.subset,
    batch_size: options.BatchSize = DEFAULTS.batch_size,
    lr: options.LearningRate = DEFAULTS.lr,
    latent_dim: options.LatentDim = DEFAULTS.latent_dim,
    objective: options.ObjectiveGrid = None,
    study: str = typer.Option(
        None,
        "--study",
        help="a TOML study file, one objective table per group (name, weights, optional "
        "args): grids that also vary other arguments; adds to --objective",
    ),
    objective_args: options.ObjectiveArgs = "",
    reconstruction: options.Reconstruction = DEFAULTS.reconstruction,
    source: options.Source = DEFAULTS.source,
    data: options.Data = DEFAULTS.data,
    painting: options.Painting = DEFAULTS.painting,
    precision: options.Precision = DEFAULTS.precision,
    metrics: str = typer.Option(
        ",".join(registry.default_names()), "--metrics", help=registry.help_text()
    ),
    eval_points: options.EvalPoints = FULL_POINTS,
    zdiff_classifier: options.ZdiffClassifier = DEFAULT_CLASSIFIER,
    traverse_beta: options.TraverseBeta = None,
    # str, not Path: a Path would turn gs://bucket into gs:/bucket.
    out: str = typer.Option(RUNS_ROOT, help="root of sweep directories (local or gs://)"),
    saved_models: str = typer.Option(
        SAVED_MODELS_ROOT, help="root of SavedModel exports (local or gs://)"
    ),
    name: str = typer.Option(PLAN.name, help="the sweep's directory name under --out"),
    force: bool = typer.Option(False, "--force", help="replace runs whose settings changed"),
    redo: str = typer.Option(
        "",
        "--redo",
        help="comma-separated runs to train afresh (e.g. beta=4_seed=0): the repair of a "
        "run whose files are damaged",
    ),
    fuse: bool = typer.Option(
        True, "--fuse/--no-fuse", help="train the βs of a seed together in one fused step"
    ),
    max_group: int = typer.Option(
        None, "--max-group", min=1, help="most runs per fused group (default: all βs of a seed)"
    ),
    jobs: int = typer.Option(
        1,
        "--jobs",
        parser=whole_number,
        help="processes sharing the runs, each with cores/jobs threads; pays only with more "
        "cores than one fused step uses",
    ),
    quiet: bool = typer.Option(False, "--quiet", help="log lines only, no live status"),
) -> None:
    """Train, evaluate and export a model per (setting, seed), then tabulate and plot.

    A setting is a β (--betas) or an objective at a weight (--objective btcvae:1,4,10,
    repeatable, or a --study file); settings of one seed that can share a step train fused.

    Rerunning the same command resumes: finished runs are skipped, an interrupted run
    continues from its last epoch. A run whose files were damaged afterwards is named in
    one line; --redo RUN trains it afresh (other runs are kept).
    """
    from cli.progress import TerminalProgress, echo_summary
    from kbetavae.study.jobs import run_sweep_jobs
    from kbetavae.study.plan import SweepPlan, with_preset

    given = explicit_options(ctx)
    base_objective, grid = _grid(objective or [], study, betas if "betas" in given else None)
    settings = with_preset(
        preset,
        {
            "name": name,
            **({"settings": grid} if grid else {"betas": _numbers(betas, "--betas")}),
            "seeds": _numbers(seeds, "--seeds", int),
            "metrics": tuple(options.comma_list(metrics)),
            "eval_points": eval_points,
            "zdiff_classifier": zdiff_classifier,
            "epochs": epochs,
            "batch_size": batch_size,
            "lr": lr,
            "latent_dim": latent_dim,
            "objective": base_objective,
            "objective_args": options.parse_objective_args(objective_args),
            "reconstruction": reconstruction,
            "subset": subset,
            "source": source,
            "data": data,
            "painting": painting,
            "precision": precision,
        },
        given=given,
    )
    plan = SweepPlan.of(**settings)
    options.warn_about_precision(plan.base.precision)
    name = plan.name
    progress = TerminalProgress(quiet, flags=flag_names(sweep))
    sweep_dir = os.path.join(out, name)
    try:
        rows = run_sweep_jobs(
            plan,
            out,
            saved_models,
            jobs=jobs,
            force=force,
            progress=progress,
            fuse=fuse,
            max_group=max_group,
            redo=tuple(options.comma_list(redo)),
            traverse_beta=traverse_beta,
        )
    except BaseException as exc:
        if not ctrl_c.caused_by_ctrl_c(exc):
            raise
        progress.close()
        typer.echo(
            f"kbetavae: interrupted; {progress.finished} finished run(s) are kept in "
            f"{sweep_dir} and an unfinished one resumes from its last epoch: "
            f"kbetavae {shlex.join(sys.argv[1:])}",
            err=True,
        )
        raise typer.Exit(ctrl_c.EXIT_CODE) from None
    finally:
        progress.close()
    echo_summary(rows, sweep_dir)


@user_errors
def plot(
    sweep_dir: str = typer.Argument(..., help="a sweep directory (runs/<name>; or gs://)"),
    traverse_beta: options.TraverseBeta = None,
    image_index: int = typer.Option(None, help="dataset index of the traversal's input image"),
) -> None:
    """Re-render a sweep's figures and report.html from its saved results."""
    from kbetavae.study.report import build_report

    check_sweep_dir(sweep_dir)
    drawn = build_report(sweep_dir, traverse_beta, image_index=image_index, strict=True)
    figures = os.path.join(sweep_dir, FIGURES_DIR)
    typer.echo(f"wrote {count(len(drawn.figures), 'figure')} under {figures}")
    typer.echo(f"wrote {drawn.path}")


@user_errors
def report(
    runs_dir: str = typer.Argument(..., help="a sweep directory (runs/<name>; or gs://)"),
) -> None:
    """Rebuild <sweep>/report.html: one self-contained page (figures embedded, no network).

    It shows the figures already under <sweep>/figures; `kbetavae plot` re-renders them
    (and the report).
    """
    from kbetavae.viz.html_report import write_report

    check_sweep_dir(runs_dir)
    typer.echo(f"wrote {write_report(runs_dir)}")


@user_errors
def motion(
    sweep_dir: str = typer.Argument(..., help="a sweep directory (runs/<name>; or gs://)"),
    out: str = typer.Option(None, help="CSV to write (default: <sweep>/traversal_motion.csv)"),
    image_index: int = typer.Option(None, help="dataset index of the traversal's input image"),
) -> None:
    """Measure how each latent's traversal moves the sprite, for every finished run.

    One CSV row per (run, latent): direction of the centroid's path (degrees from the x
    axis, in (-90, 90]), its extent in pixels, straightness, size/mass change, turn of the
    sprite, and whether the latent is active (mean KL > 0.01 nats, as metrics.json).
    """
    from kbetavae.study.motion import MOTION_CSV, motion_summary, sweep_motion, write_motion_csv

    check_sweep_dir(sweep_dir)
    out = out or os.path.join(sweep_dir, MOTION_CSV)
    rows = sweep_motion(sweep_dir, image_index=image_index)
    write_motion_csv(rows, out)
    for line in motion_summary(rows):
        typer.echo(line)
    typer.echo(f"wrote {out} ({count(len(rows), 'row')})")


@user_errors
def traverse(
    model_path: str = typer.Argument(..., help="a run dir, a .keras file or a SavedModel dir"),
    image_index: int = typer.Option(None, help="dataset index of the input image"),
    source: options.RunSource = None,
    data: options.RunData = None,
    painting: options.RunPainting = None,
    out: str = typer.Option("traversal.png", help="PNG to write (a .gif beside it)"),
    limit: float = typer.Option(FIGURE_LIMIT, help="sweep each latent over [-limit, limit]"),
    steps: int = typer.Option(FIGURE_STEPS, min=2, max=50, help="columns per row"),
    kl_points: int = typer.Option(
        DEFAULT_KL_POINTS,
        help="grid images behind each row's KL label (as `kbetavae evaluate --eval-points`)",
    ),
    seed: int = typer.Option(
        None, help="seed of the KL sample (default: the run's seed, else 0; as evaluate)"
    ),
) -> None:
    """Render latent traversals of any trained or exported model.

    Each row is labelled with the latent's mean KL over --kl-points grid images, the
    number `kbetavae evaluate` records in metrics.json for the same points and seed.
    """
    from kbetavae.viz.model_traversal import render_model_traversal

    drawn = render_model_traversal(
        model_path,
        out,
        source=source,
        data=data,
        painting=painting,
        image_index=image_index,
        limit=limit,
        steps=steps,
        kl_points=kl_points,
        seed=seed,
    )
    typer.echo(f"wrote {drawn.png} and {drawn.gif}: traversals of {drawn.title}")
    if drawn.kl is not None:
        labels = "  ".join(f"z{i} {value:.4g}" for i, value in enumerate(drawn.kl))
        typer.echo(f"row labels ({drawn.kl_caption}): {labels}")


@user_errors
def export(
    run_dir: str = typer.Argument(..., help="a run directory holding model.keras"),
    saved_models: str = typer.Option(SAVED_MODELS_ROOT, help="root of SavedModel exports"),
    version: int = typer.Option(
        int(SAVED_MODEL_VERSION), min=1, help="the TF Serving version directory"
    ),
    force: bool = typer.Option(False, "--force", help="replace an existing version"),
) -> None:
    """Export one run as a SavedModel: <saved_models>/<sweep>/<run>/<version>/ for a run of
    a sweep, <saved_models>/<run>/<version>/ for a run trained on its own."""
    from kbetavae import io as kio
    from kbetavae.study.results import export_dir
    from kbetavae.trained.export import export_saved_model, is_exported
    from kbetavae.trained.load import load_model

    kio.check_reachable(run_dir, "run directory")
    kio.check_reachable(saved_models, "--saved-models")
    target = export_dir(run_dir, saved_models, version)
    if is_exported(target) and not force:
        raise InputError(
            f"{target} already holds a SavedModel (TF Serving may be serving it); export to "
            "another --version, or replace it with --force"
        )
    model = load_model(run_dir)
    export_saved_model(model, target)
    typer.echo(f"wrote {target}")
