"""``kbetavae variants``: every protocol variant of Z-diff and MIG on kept encoders, and
whether any puts our scores in the study's range (:mod:`kbetavae.study.protocol_variants`)."""

from __future__ import annotations

import time

import typer

from cli import options
from cli.common import count, user_errors


@user_errors
def variants(
    runs: list[str] = typer.Argument(
        ..., help="published run directories, each with its encoder archive (encoder.npz)"
    ),
    output: str = typer.Option(
        ..., "--output", "-o", help="directory of the scores and the summary tables"
    ),
    eval_points: options.EvalPoints = None,
    seed: int = typer.Option(None, "--seed", help="seed of every draw (default: each run's)"),
    code_cache: options.CodeCache = None,
) -> None:
    """Score each run's encoder under every named Z-diff and MIG variant and write
    protocol_variant_scores.csv and, against the study's Table 1, protocol_variants.md (by
    β: our t interval and whether the study's value is inside) and protocol_variants.csv.
    The files are written after each run; run again, it keeps the runs scored already
    (same archive, seed and points) and scores the rest."""
    from kbetavae.errors import InputError
    from kbetavae.io import check_reachable, is_dir
    from kbetavae.metrics.protocol import FULL_PROTOCOL, Protocol
    from kbetavae.study import protocol_variants as pv
    from kbetavae.study import variant_tables
    from kbetavae.study.study_table import STUDY_TABLE_PATH, read_study_table
    from kbetavae.training import rundir

    for run in runs:  # every run checked before minutes of scoring start
        check_reachable(run, "run directory")
        if not is_dir(run):
            raise InputError(f"{run} does not exist or is not a directory")
        rundir.check_run(run, need_model=False)
        if rundir.read_config(run) is None:
            raise InputError(
                f"{run} has no {rundir.CONFIG_FILE}: not a run directory (give a published "
                "report's runs/<run>)"
            )
        if not rundir.has_archive(run):
            raise InputError(
                f"{run} has no {rundir.ARCHIVE_FILE}: publish its sweep (kbetavae publish) to "
                "keep its encoder"
            )
    protocol = FULL_PROTOCOL if eval_points is None else Protocol.scaled(eval_points)
    started = time.perf_counter()

    def keep(models: list, line: str) -> None:
        pv.write_scores(models, output)
        variant_tables.write_variant_tables(models, output)
        typer.echo(f"{line} ({time.perf_counter() - started:.0f} s)")

    models = pv.score_runs(
        runs,
        protocol=protocol,
        seed=seed,
        scored=pv.read_scores(output),
        on_model=keep,
        code_cache=code_cache,
    )
    study = read_study_table(STUDY_TABLE_PATH)
    summary = variant_tables.variant_summary(models, study)
    inside = [
        f"{row['variant']} ({row['metric']})" for row in summary if row["verdict"] == "inside"
    ]
    typer.echo(
        f"{count(len(models), 'model')} scored under every variant -> {output}; "
        f"all inside the study's range: {', '.join(inside) or 'no variant'}"
    )
