"""``kbetavae collect``: merge finished runs from many jobs into one results table and figures."""

from __future__ import annotations

import os

import typer

from cli.common import user_errors


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
    traverse_beta: float = typer.Option(5.0, help="β whose traversal figure is drawn"),
    figures: bool = typer.Option(True, "--figures/--no-figures", help="also draw the figures"),
) -> None:
    """Merge runs (e.g. the trials of a Vertex AI tuning job) as one sweep would have."""
    from cli.progress import echo_summary
    from kbetavae.study.collect import collect as collect_runs
    from kbetavae.viz.html_report import write_report
    from kbetavae.viz.report import render_sweep_figures

    merged = collect_runs(dirs, out)
    if figures:
        render_sweep_figures(out, traverse_beta=traverse_beta)
        write_report(out)
    plan = merged.plan
    typer.echo(
        f"collected {len(merged.rows)} runs: β {', '.join(f'{b:g}' for b in plan.betas)}; "
        f"seeds {', '.join(map(str, plan.seeds))}"
    )
    if merged.unfinished:
        typer.echo(
            f"kbetavae: warning: left out {len(merged.unfinished)} unfinished runs "
            f"(no done.json): {', '.join(merged.unfinished)}",
            err=True,
        )
    echo_summary(merged.rows, out)
