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
    as_flags,
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
from kbetavae.metrics.zdiff import DEFAULT_CLASSIFIER
from kbetavae.study.plan import PRESETS, PROTOCOL_POINTS, STUDY_BETAS


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
    seeds: str = typer.Option("0", "--seeds", help="comma-separated seeds"),
    epochs: options.Epochs = DEFAULTS.epochs,
    subset: options.Subset = DEFAULTS.subset,
    batch_size: options.BatchSize = DEFAULTS.batch_size,
    lr: options.LearningRate = DEFAULTS.lr,
    latent_dim: options.LatentDim = DEFAULTS.latent_dim,
    objective: options.Objective = DEFAULTS.objective,
    objective_args: options.ObjectiveArgs = "",
    reconstruction: options.Reconstruction = DEFAULTS.reconstruction,
    source: options.Source = DEFAULTS.source,
    data: options.Data = DEFAULTS.data,
    painting: options.Painting = DEFAULTS.painting,
    precision: options.Precision = DEFAULTS.precision,
    metrics: str = typer.Option(
        ",".join(registry.default_names()), "--metrics", help=registry.help_text()
    ),
    eval_points: int = typer.Option(
        PROTOCOL_POINTS,
        "--eval-points",
        parser=whole_number,
        help=f"metric sample size (protocol: {PROTOCOL_POINTS:,}); less is faster",
    ),
    zdiff_classifier: options.ZdiffClassifier = DEFAULT_CLASSIFIER,
    traverse_beta: options.TraverseBeta = None,
    # str, not Path: a Path would turn gs://bucket into gs:/bucket.
    out: str = typer.Option("runs", help="root of sweep directories (local or gs://)"),
    saved_models: str = typer.Option(
        "saved_models", help="root of SavedModel exports (local or gs://)"
    ),
    name: str = typer.Option("study", help="the sweep's directory name under --out"),
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
    """Train, evaluate and export a model per (β, seed), then tabulate and plot.

    Rerunning the same command resumes: finished runs are skipped, an interrupted run
    continues from its last epoch. A run whose files were damaged afterwards is named in
    one line; --redo RUN trains it afresh (other runs are kept).
    """
    from cli.progress import TerminalProgress, echo_summary
    from kbetavae.study.jobs import run_sweep_jobs
    from kbetavae.study.motion import write_sweep_motion
    from kbetavae.study.plan import SweepPlan, with_preset
    from kbetavae.viz.html_report import write_report
    from kbetavae.viz.report import (
        check_traverse_beta,
        fallback_traversal_beta,
        render_sweep_figures,
    )

    settings = with_preset(
        preset,
        {
            "name": name,
            "betas": _numbers(betas, "--betas"),
            "seeds": _numbers(seeds, "--seeds", int),
            "metrics": tuple(m.strip() for m in metrics.split(",") if m.strip()),
            "eval_points": eval_points,
            "zdiff_classifier": zdiff_classifier,
            "epochs": epochs,
            "batch_size": batch_size,
            "lr": lr,
            "latent_dim": latent_dim,
            "objective": objective,
            "objective_args": options.parse_objective_args(objective_args),
            "reconstruction": reconstruction,
            "subset": subset,
            "source": source,
            "data": data,
            "painting": painting,
            "precision": precision,
        },
        given=explicit_options(ctx),
    )
    plan = SweepPlan.of(**settings)
    options.warn_about_precision(plan.base.precision)
    name = plan.name
    check_traverse_beta(traverse_beta, plan.betas)
    progress = TerminalProgress(quiet)
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
            redo=tuple(r.strip() for r in redo.split(",") if r.strip()),
        )
        progress.label = ""
        # A β that failed to train is a note, not an error: the sweep's work is done.
        traverse_beta, note = fallback_traversal_beta(rows, traverse_beta)
        if note:
            progress.say(f"note: {as_flags(note, flag_names(sweep))}")
        progress.stage("rendering figures")
        render_sweep_figures(sweep_dir, traverse_beta=traverse_beta)
        if any(row.get("status") == "done" for row in rows):
            progress.stage("measuring the traversals' motion")
            write_sweep_motion(sweep_dir)
        progress.stage("writing report.html")
        write_report(sweep_dir)
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
    from kbetavae.viz.html_report import write_report
    from kbetavae.viz.report import render_sweep_figures

    check_sweep_dir(sweep_dir)
    written = render_sweep_figures(sweep_dir, traverse_beta=traverse_beta, image_index=image_index)
    typer.echo(f"wrote {count(len(written), 'figure')} under {os.path.join(sweep_dir, 'figures')}")
    typer.echo(f"wrote {write_report(sweep_dir)}")


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
    source: str = typer.Option("replica", help="replica, dsprites, or a .npz/.hdf5 path"),
    data: options.Data = DEFAULTS.data,
    painting: options.Painting = None,
    out: str = typer.Option("traversal.png", help="PNG to write (a .gif beside it)"),
    limit: float = typer.Option(3.0, help="sweep each latent over [-limit, limit]"),
    steps: int = typer.Option(10, min=2, max=50, help="columns per row"),
    kl_points: int = typer.Option(
        10_000,
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
    saved_models: str = typer.Option("saved_models", help="root of SavedModel exports"),
    version: int = typer.Option(1, min=1, help="the TF Serving version directory"),
    force: bool = typer.Option(False, "--force", help="replace an existing version"),
) -> None:
    """Export one run as a SavedModel: <saved_models>/<sweep>/<run>/<version>/ for a run of
    a sweep, <saved_models>/<run>/<version>/ for a run trained on its own."""
    from kbetavae import io as kio
    from kbetavae.export import export_saved_model, is_exported
    from kbetavae.models_io import load_model
    from kbetavae.study.results import export_dir

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
