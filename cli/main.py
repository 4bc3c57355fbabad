"""Entry point of the ``kbetavae`` command."""

from __future__ import annotations

import os

# TensorFlow logs C++ start-up chatter to stderr; users see warnings and errors only.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import typer  # noqa: E402

from cli import collect as collect_commands  # noqa: E402
from cli import ctrl_c  # noqa: E402
from cli import data as data_commands  # noqa: E402
from cli import evaluate as evaluate_commands  # noqa: E402
from cli import sweep as sweep_commands  # noqa: E402
from cli import train as train_commands  # noqa: E402
from cli import variants as variants_commands  # noqa: E402
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
app.command("variants")(variants_commands.variants)


def _click_exception(name: str) -> type[Exception]:
    """Click's exception class ``name`` as the installed Typer raises it.

    Typer up to 0.25 raises the ``click`` package's exceptions; 0.26 and later vendor their
    own Click (``typer._click``, whose exceptions module has no ``Abort``), and ``click``
    may still be installed beside it, unused. ``typer.BadParameter`` is public in both and
    derives from the ``UsageError`` and ``ClickException`` that Typer really raises.
    """
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == name)


UsageError = _click_exception("UsageError")
ClickException = _click_exception("ClickException")
DEBUG_VARIABLE = "KBETAVAE_DEBUG"


def unexpected_error_line(exc: BaseException) -> str:
    """One line for an exception nobody expected: its type, its message's first line and
    the file involved (an ``OSError``'s, or one :mod:`kbetavae.io` attached)."""
    if isinstance(exc, OSError) and exc.strerror:
        message = exc.strerror  # str() of an OSError repeats the errno and quotes the file
    else:
        message = next(iter(str(exc).strip().splitlines()), "")
    # A Keras config dump or an array can be kilobytes long: the line stays a line.
    if len(message) > 300:
        message = message[:300] + " …"
    filename = getattr(exc, "filename", None)
    where = f" ({os.fspath(filename)})" if filename and str(filename) not in message else ""
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return f"kbetavae: error: {text}{where} ({DEBUG_VARIABLE}=1 shows the traceback)"


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
    """Run ``kbetavae`` with ``args``; return the exit code: 0, 2 for bad input (one line,
    like every input error), 130 when interrupted, and 1 for anything unexpected, also in
    one line (with $KBETAVAE_DEBUG set it is raised, traceback and all)."""
    command = build_command()
    try:
        code = command.main(args=args, prog_name="kbetavae", standalone_mode=False)
    except UsageError as exc:
        # Typer's own check is by name too: the class exists only in the vendored Click.
        if type(exc).__name__ == "NoArgsIsHelpError":
            return 0  # the help is printed already; as `kbetavae -h`, and as older Typers
        where = f"kbetavae {exc.ctx.command_path.partition(' ')[2]}".strip() if exc.ctx else ""
        hint = f" (see {where} -h)" if where else ""
        typer.echo(f"kbetavae: error: {exc.format_message()}{hint}", err=True)
        return 2
    except ClickException as exc:
        typer.echo(f"kbetavae: error: {exc.format_message()}", err=True)
        return exc.exit_code
    except typer.Abort:
        return ctrl_c.say_interrupted()
    except Exception as exc:  # noqa: BLE001 - the user gets one line, not a traceback
        if ctrl_c.caused_by_ctrl_c(exc):
            return ctrl_c.say_interrupted()
        if os.environ.get(DEBUG_VARIABLE):
            raise
        typer.echo(unexpected_error_line(exc), err=True)
        return 1
    return code if isinstance(code, int) else 0


def main() -> None:
    """Run the app; an unexpected failure is one line, not a traceback."""
    if not os.environ.get(DEBUG_VARIABLE):
        filter_native_stderr()
    ctrl_c.install()
    try:
        code = run()
    except KeyboardInterrupt:
        code = ctrl_c.say_interrupted()
    except Exception as exc:  # noqa: BLE001 - last line of defence (building the command)
        if ctrl_c.caused_by_ctrl_c(exc):
            code = ctrl_c.say_interrupted()
        else:
            if os.environ.get(DEBUG_VARIABLE):
                raise
            typer.echo(unexpected_error_line(exc), err=True)
            code = 1
    # Every exit skips the interpreter's teardown: a Ctrl-C pressed as a command finishes
    # would land there, after SIGINT is given back, and kill the finished process by signal
    # (found by tests/cli/test_faults_cli.py: status -2 after "writing report.html").
    try:
        ctrl_c.end_process(code)
    except KeyboardInterrupt:  # landed before end_process took SIGINT: the work is done
        ctrl_c.end_process(code)


if __name__ == "__main__":
    main()
