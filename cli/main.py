"""Entry point of the ``kbetavae`` command."""

from __future__ import annotations

import os
import sys

# TensorFlow logs C++ start-up chatter to stderr; users see warnings and errors only.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import typer  # noqa: E402

# Typer 0.29 vendors Click; its exceptions are only reachable under typer._click.
from typer._click import exceptions as click_errors  # noqa: E402

from cli import collect as collect_commands  # noqa: E402
from cli import ctrl_c  # noqa: E402
from cli import data as data_commands  # noqa: E402
from cli import evaluate as evaluate_commands  # noqa: E402
from cli import sweep as sweep_commands  # noqa: E402
from cli import train as train_commands  # noqa: E402
from kbetavae import __version__  # noqa: E402
from kbetavae.native_log import filter_native_stderr  # noqa: E402

HELP_OPTIONS = ["-h", "--help"]

app = typer.Typer(
    name="kbetavae",
    help="Train, evaluate and export beta-VAEs on dSprites.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": HELP_OPTIONS},
)
app.add_typer(data_commands.app, name="data")
app.command("train")(train_commands.train)
app.command("evaluate")(evaluate_commands.evaluate)
app.command("sweep")(sweep_commands.sweep)
app.command("plot")(sweep_commands.plot)
app.command("report")(sweep_commands.report)
app.command("motion")(sweep_commands.motion)
app.command("traverse")(sweep_commands.traverse)
app.command("export")(sweep_commands.export)
app.command("collect")(collect_commands.collect)
app.command("publish")(collect_commands.publish)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"kbetavae {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="print the version"
    ),
) -> None:
    """Train, evaluate and export beta-VAEs on dSprites."""


def _tidy_help(command) -> None:
    """Help as people read it: flags without a ``<bool>`` type, arguments in capitals, and
    docstring paragraphs reflowed to the terminal (Rich keeps a docstring's own line
    breaks, mid-sentence)."""
    if command.help:
        paragraphs = command.help.split("\n\n")
        command.help = "\n\n".join(" ".join(p.split()) for p in paragraphs)
    for param in command.params:
        if getattr(param, "is_flag", False):
            param.metavar = ""
        elif param.param_type_name == "argument":
            # Click's convention, PATH / [PATH], not Typer 0.29's "{path}" for required ones.
            param.metavar = param.metavar or param.name.upper()
            usage = param.metavar if param.required else f"[{param.metavar}]"
            param._usage_display_name = lambda usage=usage: usage
    make_help_option = command.get_help_option

    def get_help_option(ctx):
        option = make_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = get_help_option
    for sub in getattr(command, "commands", {}).values():
        _tidy_help(sub)


def build_command():
    """The Click command behind ``kbetavae``, help tidied."""
    command = typer.main.get_command(app)
    _tidy_help(command)
    return command


def run(args: list[str] | None = None) -> int:
    """Run ``kbetavae`` with ``args``; return the exit code. Usage errors (a bad integer, an
    unknown flag) are one line, like every other input error."""
    command = build_command()
    try:
        code = command.main(args=args, prog_name="kbetavae", standalone_mode=False)
    except click_errors.UsageError as exc:
        where = f"kbetavae {exc.ctx.command_path.partition(' ')[2]}".strip() if exc.ctx else ""
        hint = f" (see {where} -h)" if where else ""
        typer.echo(f"kbetavae: error: {exc.format_message()}{hint}", err=True)
        return 2
    except click_errors.ClickException as exc:
        typer.echo(f"kbetavae: error: {exc.format_message()}", err=True)
        return exc.exit_code
    except click_errors.Abort:
        return ctrl_c.say_interrupted()
    return code if isinstance(code, int) else 0


def main() -> None:
    """Run the app; an unexpected failure is one line, not a traceback."""
    if not os.environ.get("KBETAVAE_DEBUG"):
        filter_native_stderr()
    ctrl_c.install()
    try:
        code = run()
    except Exception as exc:  # noqa: BLE001 - last line of defence for the user
        if ctrl_c.caused_by_ctrl_c(exc):
            code = ctrl_c.say_interrupted()
        else:
            if os.environ.get("KBETAVAE_DEBUG"):
                raise
            typer.echo(
                f"kbetavae: error: {type(exc).__name__}: {exc} "
                "(KBETAVAE_DEBUG=1 shows the traceback)",
                err=True,
            )
            code = 1
    except KeyboardInterrupt:
        code = ctrl_c.say_interrupted()
    if ctrl_c.received():
        ctrl_c.end_process(code)
    sys.exit(code)


if __name__ == "__main__":
    main()
