"""The error type for bad user input.

Library functions raise :class:`InputError` (a ``ValueError``) with a message that names the
argument and the bad value; the CLI turns it into one line on stderr and exit code 2.
"""


class InputError(ValueError):
    """A user-supplied value is invalid; the message says which and what to do."""
