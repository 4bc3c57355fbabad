"""``kbetavae collect`` and ``kbetavae publish``: merge finished runs from many jobs (or
sittings) into one results table and figures."""

from __future__ import annotations

import os

import typer

from cli import options
from cli.common import as_flags, check_sweep_dir, count, flag_names, user_errors


@user_errors
def collect(
    dirs: list[str] = typer.Argument(
        ...,
        help="run directories, sweep directories or job roots (runs up to 3 levels down); "
        "local or gs://",
    ),
    out: str = typer.Option(
        os.path.join("runs", "collected"), "--out", help="where the table and figures go"
    ),
    traverse_beta: options.TraverseBeta = None,
    figures: bool = typer.Option(True, "--figures/--no-figures", help="also draw the figures"),
) -> None:
    """Merge runs (e.g. the trials of a Vertex AI tuning job) as one sweep would have."""
    from cli.progress import echo_summary
    from kbetavae.study.collect import collect as collect_runs

    merged = collect_runs(dirs, out, report=figures, traverse_beta=traverse_beta)
    # The table is written by now: a β without a finished run is a note, not an error.
    if merged.report is not None and merged.report.note:
        typer.echo(f"kbetavae: note: {as_flags(merged.report.note, flag_names(collect))}", err=True)
    plan = merged.plan
    typer.echo(
        f"collected {count(len(merged.rows), 'run')}: {plan.grid_text()}; "
        f"seeds {', '.join(map(str, plan.seeds))}"
    )
    if merged.unfinished:
        typer.echo(
            f"kbetavae: warning: left out {count(len(merged.unfinished), 'unfinished run')} "
            f"(no done.json): {', '.join(merged.unfinished)}",
            err=True,
        )
    echo_summary(merged.rows, out)


@user_errors
def publish(
    sweep_dir: str = typer.Argument(..., help="a finished sweep (runs/<name>) or collected set"),
    dest: str = typer.Argument(..., help="the report directory, e.g. docs/results"),
    motion: bool = typer.Option(
        True,
        "--motion/--no-motion",
        help="first measure the traversals (as kbetavae motion) if the sweep has no "
        "traversal_motion.csv; needs the sweep's models",
    ),
    from_archive: bool = typer.Option(
        False,
        "--from-archive",
        help="evaluate each run again from its float16 encoder archive (a seed's runs on one "
        "draw of images; minutes a run): metrics.json becomes what `kbetavae evaluate` on "
        "the published run gives, the sweep's float32 record is kept in metrics_float32.json",
    ),
    metrics: str = typer.Option(
        None,
        "--metrics",
        help="with --from-archive: the comma-separated metrics each archive is evaluated "
        "with (e.g. all six: mig,zdiff,modularity,sap,factorvae,dci; dci takes minutes a "
        "run); default: the sweep's",
    ),
    code_cache: options.CodeCache = None,
) -> None:
    """Merge a sweep's evidence (run files, table, figures; no models) into a report.

    Runs join those already published in DEST (same study: only β and seed may differ), so
    a long study is published seed by seed; the report's marked tables are regenerated.
    Each run whose model.keras the sweep has gets encoder.npz, its encoder in float16, from
    which `kbetavae evaluate DEST/runs/<run>` recomputes the encoder's metrics (a published
    run published again brings its own). UDR is computed over the published archives of
    each setting's seeds, so seeds from several sweeps are scored together.
    """
    from kbetavae import io as kio
    from kbetavae.study.motion import MOTION_CSV, sweep_motion, write_motion_csv
    from kbetavae.study.publish import archive_sizes, missing_run_files
    from kbetavae.study.publish import publish as publish_runs
    from kbetavae.study.results import read_plan, read_results
    from kbetavae.viz.report import publish_figures

    check_sweep_dir(sweep_dir)
    measured = os.path.join(sweep_dir, MOTION_CSV)
    if motion and not kio.exists(measured):
        write_motion_csv(sweep_motion(sweep_dir), measured)
        typer.echo(f"measured the traversals: {measured}")
    written = publish_runs(
        sweep_dir, dest, from_archive, typer.echo, options.comma_list(metrics), code_cache
    )
    publish_figures(sweep_dir, dest)
    rows = read_results(dest)
    plan = read_plan(dest)
    typer.echo(
        f"published {count(len(read_results(sweep_dir)), 'run')} into {dest}; it now holds "
        f"{len(rows)}: {plan.grid_text()}; "
        f"seeds {', '.join(map(str, plan.seeds))}"
    )
    sizes = archive_sizes(written)
    typer.echo(
        f"wrote {count(len(sizes), 'encoder archive')} (encoder.npz, float16): "
        f"{sum(sizes) / 1e6:.1f} MB in all"
        + (f", {max(sizes) / 1e3:.0f} kB the largest" if sizes else "")
        + ("; metrics.json from the archives" if from_archive and sizes else "")
    )
    for line in missing_run_files(dest):
        typer.echo(f"kbetavae: warning: {dest} lacks {line}", err=True)
