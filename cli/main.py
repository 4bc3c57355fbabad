"""Entry point of the ``kbetavae`` command."""

from __future__ import annotations

import os
import sys

# TensorFlow logs C++ start-up chatter to stderr; users see warnings and errors only.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import typer  # noqa: E402

from cli import collect as collect_commands  # noqa: E402
from cli import data as data_commands  # noqa: E402
from cli import evaluate as evaluate_commands  # noqa: E402
from cli import sweep as sweep_commands  # noqa: E402
from cli import train as train_commands  # noqa: E402
from cli.native_log import filter_native_stderr  # noqa: E402

app = typer.Typer(
    name="kbetavae",
    help="Train, evaluate and export beta-VAEs on dSprites.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(data_commands.app, name="data")
app.command("train")(train_commands.train)
app.command("evaluate")(evaluate_commands.evaluate)
app.command("sweep")(sweep_commands.sweep)
app.command("plot")(sweep_commands.plot)
app.command("report")(sweep_commands.report)
app.command("traverse")(sweep_commands.traverse)
app.command("export")(sweep_commands.export)
app.command("collect")(collect_commands.collect)


def main() -> None:
    """Run the app; an unexpected failure is one line, not a traceback."""
    if not os.environ.get("KBETAVAE_DEBUG"):
        filter_native_stderr()
    try:
        app(prog_name="kbetavae")
    except KeyboardInterrupt:
        typer.echo("kbetavae: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - last line of defence for the user
        if os.environ.get("KBETAVAE_DEBUG"):
            raise
        typer.echo(
            f"kbetavae: error: {type(exc).__name__}: {exc} (KBETAVAE_DEBUG=1 shows the traceback)",
            err=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
