"""Helpers shared by the CLI commands: turning library errors into one-line exits."""

from __future__ import annotations

import errno
import functools
import inspect
import re
from collections.abc import Callable
from typing import Annotated, NoReturn, TypeVar, get_args, get_origin

import typer

from cli import ctrl_c
from kbetavae.errors import InputError

F = TypeVar("F", bound=Callable)
# A full disk, or a full quota on it.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``message`` as one line on stderr and exit with ``code``."""
    typer.echo(f"kbetavae: error: {message}", err=True)
    raise typer.Exit(code)


def user_errors(func: F) -> F:
    """Decorate a command so bad input ends in one clear line and exit code 2, a full disk
    in one line naming the file and exit code 1, and Ctrl-C in one line and exit code 130.

    Library errors name settings by their Python names (``batch_size must be ...``); the
    line names the command's own flag instead (``--batch-size must be ...``, :func:`as_flags`).
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (InputError, FileNotFoundError, NotADirectoryError, PermissionError) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            fail(as_flags(message, flag_names(func)))
        except OSError as exc:
            if exc.errno not in DISK_FULL:
                raise
            # Not bad input (exit 1, not 2): the machine needs space, the command is fine.
            fail(
                f"no space left on device writing {exc.filename}: free some space and rerun "
                "the same command (finished work is kept)",
                code=1,
            )
        except KeyboardInterrupt:
            raise typer.Exit(ctrl_c.say_interrupted()) from None

    return wrapper  # type: ignore[return-value]


def flag_names(command: Callable) -> dict[str, str]:
    """``{python parameter name: flag}`` of a Typer command, from its own declarations."""
    flags = {}
    # eval_str: the command modules use `from __future__ import annotations`.
    for name, parameter in inspect.signature(command, eval_str=True).parameters.items():
        infos = [parameter.default]
        if get_origin(parameter.annotation) is Annotated:
            infos += get_args(parameter.annotation)[1:]
        for info in infos:
            if isinstance(info, typer.models.OptionInfo):
                declared = [d for d in info.param_decls or () if d.startswith("--")]
                flags[name] = declared[0].split("/")[0] if declared else _dashed(name)
    return flags


def _dashed(name: str) -> str:
    return "--" + name.replace("_", "-")


# A library message starts with the setting it is about: "batch_size must be ...". Only a
# whole word: a path that starts like one ("saved_models/s/beta=4_seed=0/1 already ...")
# stays a path.
_LEADING_NAME = re.compile(r"^([a-z][a-z0-9_]*)(?=[\s:,]|$)")
# Elsewhere in a message a setting is quoted: "needs a local `out`".
_QUOTED_NAME = re.compile(r"`([a-z][a-z0-9_]*)`")


def as_flags(message: str, flags: dict[str, str]) -> str:
    """``message`` with the settings it names (a leading Python name, or one in backquotes
    anywhere) replaced by the command's flags; the CLI's one mapping from settings to flags.

    Example:
        >>> as_flags("jobs needs a local `out`", {"jobs": "--jobs", "out": "--out"})
        '--jobs needs a local --out'
    """
    match = _LEADING_NAME.match(message)
    if match and match.group(1) in flags:
        message = flags[match.group(1)] + message[match.end() :]
    return _QUOTED_NAME.sub(lambda quoted: flags.get(quoted.group(1), quoted.group(0)), message)


def count(n: int, word: str) -> str:
    """``n`` and ``word`` in the number it takes: ``1 run``, ``2 runs``, ``1,000 images``."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def whole_number(value: str | int) -> int:
    """Parse an integer option, accepting ``3.0``: Vertex AI hyperparameter tuning may pass
    tuned integers (seed, batch size) in float notation."""
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an integer") from None
    if not number.is_integer():
        raise typer.BadParameter(f"{value!r} is not an integer")
    return int(number)


def check_sweep_dir(sweep_dir: str) -> None:
    """InputError unless ``sweep_dir`` is reachable and holds a sweep (sweep.json and
    results.csv) whose run directories are whole (DamagedFile naming the first damaged
    file)."""
    from kbetavae import io as kio
    from kbetavae.study.results import check_runs, is_sweep_dir

    kio.check_reachable(sweep_dir, "sweep directory")
    if not is_sweep_dir(sweep_dir):
        raise InputError(f"{sweep_dir} is not a sweep directory (no sweep.json/results.csv)")
    check_runs(sweep_dir)


def explicit_options(ctx: typer.Context) -> set[str]:
    """The parameters of the command line that the user gave (not left at their default):
    those override a preset."""
    # Compared by name: Typer vendors click, so its ParameterSource is not importable.
    defaults = ("DEFAULT", "DEFAULT_MAP")
    return {
        name
        for name in ctx.params
        if getattr(ctx.get_parameter_source(name), "name", "DEFAULT") not in defaults
    }
