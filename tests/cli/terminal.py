"""Starting a CLI process as a terminal would, for the tests that press Ctrl-C."""

from __future__ import annotations

import signal


def sigint_as_from_a_terminal() -> None:
    """``preexec_fn`` for a child that must get Ctrl-C as a user's process does: a test run
    in the background inherits SIGINT ignored; a terminal's child has the default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
