"""Run files are reached through their owner: a module that reads or writes a run's
config.json, history.csv, metrics.json, done.json, model.keras, encoder.npz or
metrics_float32.json does it through
:mod:`kbetavae.training.rundir`, and saved_model.pb is named only by the export module.

Read from the source (``ast``): a call whose argument is a run file's name — the literal
or one of rundir's ``*_FILE`` constants — builds that file's path by hand. Messages may
still name a file (inside an f-string, not as an argument of their own).
"""

from __future__ import annotations

import ast

from .source_scan import scan

PACKAGES = ("kbetavae", "cli")
# file name -> (the constant that holds it, the one module allowed to build its path)
RUNDIR = "kbetavae/training/rundir.py"
EXPORT = "kbetavae/trained/export.py"
OWNED = {
    "config.json": ("CONFIG_FILE", RUNDIR),
    "history.csv": ("HISTORY_FILE", RUNDIR),
    "metrics.json": ("METRICS_FILE", RUNDIR),
    "done.json": ("DONE_FILE", RUNDIR),
    "model.keras": ("MODEL_FILE", RUNDIR),
    "encoder.npz": ("ARCHIVE_FILE", RUNDIR),
    "metrics_float32.json": ("FLOAT32_METRICS_FILE", RUNDIR),
    "saved_model.pb": ("SAVED_MODEL_FILE", EXPORT),
}


def _named_file(node: ast.AST) -> str | None:
    """The run file ``node`` names as a call argument: a literal or an owner's constant."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        name = node.value.rsplit("/", 1)[-1]
        return name if name in OWNED else None
    identifier = node.id if isinstance(node, ast.Name) else getattr(node, "attr", None)
    return next((file for file, (constant, _) in OWNED.items() if identifier == constant), None)


def paths_built_by_hand(source: str, module: str) -> list[str]:
    """``"<module>:<line> <file>"`` for each call in ``source`` that names a run file
    as an argument, unless ``module`` owns that file."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        for argument in [*node.args, *(k.value for k in node.keywords)]:
            if isinstance(argument, ast.Starred):
                argument = argument.value
            file = _named_file(argument)
            if file is not None and OWNED[file][1] != module:
                found.append(f"{module}:{node.lineno} {file}")
    return found


def test_every_module_reaches_run_files_through_their_owner():
    wrong = scan(paths_built_by_hand, PACKAGES)
    assert not wrong, "\n".join(wrong)


def test_a_path_built_by_hand_is_found():
    source = (
        "import os\n"
        "from kbetavae.training.rundir import METRICS_FILE\n"
        "a = os.path.join(run_dir, METRICS_FILE)\n"
        "b = kio.read_json(os.path.join(run_dir, 'config.json'))\n"
        "c = kio.exists(os.path.join(path, 'saved_model.pb'))\n"
        "d = kio.glob(path, os.path.join('*', rundir.DONE_FILE))\n"
        "raise InputError(f'{path} has no {MODEL_FILE}')\n"  # a message: allowed
    )
    found = paths_built_by_hand(source, "pkg/somewhere.py")
    assert found == [
        "pkg/somewhere.py:3 metrics.json",
        "pkg/somewhere.py:4 config.json",
        "pkg/somewhere.py:5 saved_model.pb",
        "pkg/somewhere.py:6 done.json",
    ]
    assert paths_built_by_hand(source, RUNDIR) == ["kbetavae/training/rundir.py:5 saved_model.pb"]
