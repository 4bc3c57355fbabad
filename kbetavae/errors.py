"""The error types for bad user input.

Library functions raise :class:`InputError` (a ``ValueError``) with a message that names the
argument and the bad value; the CLI turns it into one line on stderr and exit code 2.
:class:`DamagedFile` is the one format for a file a command must read but cannot (empty,
truncated, not JSON/CSV): the path, what is wrong with it, and the command that repairs it.
"""

from __future__ import annotations

import os


class InputError(ValueError):
    """A user-supplied value is invalid; the message says which and what to do."""


class DamagedFile(InputError):
    """``path`` exists but cannot be read as what it should be.

    >>> str(DamagedFile("runs/a/results.csv", "empty", "rerun `kbetavae sweep` to rewrite it"))
    'runs/a/results.csv is damaged (empty): rerun `kbetavae sweep` to rewrite it'

    ``problem`` says what is wrong ("empty", "not JSON: Expecting value at line 1 column 1");
    ``remedy`` says what to do, ideally one command.
    """

    def __init__(self, path: str | os.PathLike, problem: str, remedy: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        self.remedy = remedy
        super().__init__(f"{self.path} is damaged ({problem}): {remedy}")

    def __reduce__(self):
        # Exceptions pickle as type(*args); ours takes three arguments, not the message
        # (sweep workers send errors back to the parent process).
        return type(self), (self.path, self.problem, self.remedy)
