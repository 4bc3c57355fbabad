"""Helpers shared by the CLI commands: turning library errors into one-line exits."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NoReturn, TypeVar

import typer

from kbetavae.errors import InputError

F = TypeVar("F", bound=Callable)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``message`` as one line on stderr and exit with ``code``."""
    typer.echo(f"kbetavae: error: {message}", err=True)
    raise typer.Exit(code)


def user_errors(func: F) -> F:
    """Decorate a command so bad input ends in one clear line and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (InputError, FileNotFoundError, NotADirectoryError, PermissionError) as exc:
            fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)

    return wrapper  # type: ignore[return-value]


def whole_number(value: str | int) -> int:
    """Parse an integer option, accepting ``3.0``: Vertex AI hyperparameter tuning may pass
    tuned integers (seed, batch size) in float notation."""
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an integer") from None
    if not number.is_integer():
        raise ValueError(f"{value!r} is not an integer")
    return int(number)
