"""Library messages name settings, not flags: ``subset 9 is larger ...``, ``needs a local
`out```. The CLI maps them to its command's flags (``cli.common.as_flags``, its one
mapping); a library user reads the names it called the function with.

Read from the source (``ast``): the text of every ``InputError``/``DamagedFile`` raised in
``kbetavae/`` and the setting name given to a check (``check_int("jobs", ...)``). A message
that tells the user to run a command (``rerun the `kbetavae sweep` command with --redo``)
may name that command's flags: it names the command too.
"""

from __future__ import annotations

import ast
import re

from cli.common import as_flags

from .source_scan import scan

FLAG = re.compile(r"(?<![\w-])--[a-z]")
ERRORS = {"InputError", "DamagedFile"}
# Checks whose first or second argument is the name of the setting checked.
CHECKS = {"check_int", "check_classifier", "check_writable", "check_reachable", "figure_format"}


def _texts(node: ast.AST) -> list[str]:
    """The literal text of a message expression (f-string parts, concatenations)."""
    return [
        part.value
        for part in ast.walk(node)
        if isinstance(part, ast.Constant) and isinstance(part.value, str)
    ]


def flags_in_messages(source: str, module: str) -> list[str]:
    """``"<module>:<line> <text>"`` for each message text in ``source`` that names a flag
    without naming the ``kbetavae`` command it belongs to."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        if name in ERRORS:
            texts = [t for argument in node.args for t in _texts(argument)]
            message = "".join(texts)
            if FLAG.search(message) and "kbetavae " not in message:
                found.append(f"{module}:{node.lineno} {message}")
        elif name in CHECKS:
            for argument in node.args[:2]:
                if isinstance(argument, ast.Constant) and FLAG.match(str(argument.value)):
                    found.append(f"{module}:{node.lineno} {argument.value}")
    return found


def test_library_messages_name_settings_not_flags():
    wrong = scan(flags_in_messages, ["kbetavae"])
    assert not wrong, "\n".join(wrong)


def test_a_flag_in_a_message_is_found():
    source = (
        'raise InputError(f"--subset {n} is larger than the dataset")\n'
        'check_int("--jobs", jobs, minimum=1)\n'
        'raise InputError("subset is fine; rerun `kbetavae sweep` with --redo x")\n'
        'raise InputError(f"jobs needs a local `out`")\n'
    )
    assert flags_in_messages(source, "m.py") == [
        "m.py:1 --subset  is larger than the dataset",
        "m.py:2 --jobs",
    ]


def test_the_cli_maps_a_leading_and_a_quoted_setting_to_its_flags():
    flags = {"jobs": "--jobs", "out": "--out", "saved_models": "--saved-models"}
    assert as_flags("jobs needs a local `out`", flags) == "--jobs needs a local --out"
    assert as_flags("saved_models x is not writable", flags) == "--saved-models x is not writable"
    # Not a setting of this command, or not quoted: left as it is.
    assert as_flags("give `beta`, not out", flags) == "give `beta`, not out"
    assert as_flags("saved_models/s/1 exists", flags) == "saved_models/s/1 exists"
