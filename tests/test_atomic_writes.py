"""Every file a later step reads is written through the one atomic helper (kbetavae.io).

The census reads the source (``ast``) of kbetavae/ and cli/ and lists every call that
writes a file: ``open``/``os.fdopen``/``GFile`` with a writing mode, ``savefig``,
``to_csv``, ``json.dump``, ``np.save*``, ``.save``/``save_weights``/``save_model``,
``write_text``/``write_bytes``, ``write_out`` (SavedModel). A write passes if it goes
to memory (an ``io.BytesIO``/``StringIO`` whose bytes the helper then writes), happens
inside a function handed to ``kio.write_file_atomic`` (which runs it in a private
temporary directory and moves the bytes atomically) or ``kio.write_stream_atomic`` (which
hands it a temporary file's handle and renames the file), is in kbetavae/io.py (the helper),
or is on the allow-list below, each entry with the reason it is not atomic.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kbetavae", "cli")
HELPER = "kbetavae/io.py"
WRITERS = {
    "savefig",
    "to_csv",
    "dump",
    "save",
    "savez",
    "savez_compressed",
    "save_weights",
    "save_model",
    "write_text",
    "write_bytes",
    "write_out",
    "mimsave",
    "imwrite",
}
OPENERS = {"open", "fdopen", "GFile"}
IN_MEMORY = {"BytesIO", "StringIO"}
# Helpers that run the function handed to them on a temporary file and move it atomically.
HANDING_HELPERS = {"write_file_atomic", "write_stream_atomic"}
# (file, function, call): why this write does not go through the helper.
ALLOWED = {
    # The claim's lock file: it must stay one inode for flock to exclude (a rename would
    # give two processes two files to lock); its text only says who holds it.
    ("kbetavae/study/claims.py", "_claim", "open"),
    # A SavedModel is a directory: staged under a temporary name in the same directory and
    # os.replace'd into place (local), or written in place on a bucket, where is_exported
    # waits for saved_model.pb, which TensorFlow writes last.
    ("kbetavae/trained/export.py", "export_saved_model", "write_out"),
    # A non-chief worker saves (collective ops need every worker to) into its private
    # scratch directory, which is deleted unread.
    ("kbetavae/training/loop.py", "_finish_worker", "save"),
    # The encoder formulation a machine chose: written under a temporary name, then
    # os.link'ed to its name, which fails if another process linked first (first writer
    # wins, so all processes encode alike); a rename would let the last writer win.
    ("kbetavae/trained/encoder_choice.py", "_remember", "fdopen"),
    ("kbetavae/trained/encoder_choice.py", "_remember", "dump"),
    # Not a file: the process's stderr, reopened as a stream to filter TensorFlow's lines.
    ("kbetavae/native_log.py", "filter_native_stderr", "fdopen"),
}


def _name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _mode(call: ast.Call) -> str:
    args = [*call.args[1:2], *(k.value for k in call.keywords if k.arg == "mode")]
    return next((a.value for a in args if isinstance(a, ast.Constant)), "r")


def _is_write(call: ast.Call) -> bool:
    name = _name(call)
    if name in OPENERS:
        return any(c in str(_mode(call)) for c in "wax+")
    return name in WRITERS


class _Census(ast.NodeVisitor):
    """Writes in one module as (function, call, line, goes through the helper)."""

    def __init__(self):
        self.found: list[tuple[str, str, int, bool]] = []
        self.scopes: list[tuple[str, set[str], set[str]]] = []  # name, buffers, handed over

    def _enter(self, node, name: str) -> None:
        buffers, handed = set(), set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Assign) and isinstance(sub.value, ast.Call):
                if _name(sub.value) in IN_MEMORY:
                    buffers.update(t.id for t in sub.targets if isinstance(t, ast.Name))
            if isinstance(sub, ast.Call) and _name(sub) in HANDING_HELPERS:
                handed.update(a.id for a in sub.args if isinstance(a, ast.Name))
                handed.update("<lambda>" for a in sub.args if isinstance(a, ast.Lambda))
        outer = self.scopes[-1][2] if self.scopes else set()
        if name in outer:  # a nested function handed to write_file_atomic
            handed.add("*")
        self.scopes.append((name, buffers, handed | ({"*"} if "*" in outer else set())))
        self.generic_visit(node)
        self.scopes.pop()

    def visit_FunctionDef(self, node):
        self._enter(node, node.name)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node):
        parent = self.scopes[-1] if self.scopes else ("<module>", set(), set())
        self.scopes.append(
            (parent[0], parent[1], parent[2] | {"*"} if "<lambda>" in parent[2] else parent[2])
        )
        self.generic_visit(node)
        self.scopes.pop()

    def visit_Call(self, node):
        if _is_write(node):
            function, buffers, handed = (
                self.scopes[-1] if self.scopes else ("<module>", set(), set())
            )
            target = node.args[0] if node.args else None
            in_memory = isinstance(target, ast.Name) and any(
                target.id in scope[1] for scope in self.scopes
            )
            self.found.append((function, _name(node), node.lineno, in_memory or "*" in handed))
        self.generic_visit(node)


def census(path: Path) -> list[tuple[str, str, int, bool]]:
    visitor = _Census()
    visitor.visit(ast.parse(path.read_text()))
    return visitor.found


def bypasses() -> list[str]:
    """Writes of files that neither go through the helper nor are allowed, as text."""
    wrong = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = str(path.relative_to(ROOT))
            if relative == HELPER:
                continue
            for function, call, line, atomic in census(path):
                if not atomic and (relative, function, call) not in ALLOWED:
                    wrong.append(f"{relative}:{line} {function}() {call}(...)")
    return wrong


def test_every_file_write_goes_through_the_atomic_helper():
    assert bypasses() == []


def test_the_allow_list_holds_only_writes_that_exist():
    present = {
        (str(path.relative_to(ROOT)), function, call)
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        for function, call, _, _ in census(path)
    }
    assert ALLOWED <= present


def test_the_census_finds_a_planted_bypass_and_passes_the_atomic_forms(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "import io, json\n"
        "def bad(path, record, fig):\n"
        "    with open(path, 'w') as handle:\n"
        "        json.dump(record, handle)\n"
        "    fig.savefig(path)\n"
        "def good(path, fig, model):\n"
        "    buffer = io.BytesIO()\n"
        "    fig.savefig(buffer, format='png')\n"
        "    kio.write_bytes_atomic(path, buffer.getvalue())\n"
        "    kio.write_file_atomic(path, lambda local: model.save(local))\n"
        "    def save(local):\n"
        "        model.save_weights(local)\n"
        "    kio.write_file_atomic(path, save)\n"
        "    def stream(handle):\n"
        "        with zipfile.ZipFile(handle, 'w') as archive:\n"
        "            with archive.open('imgs.npy', 'w') as entry:\n"
        "                entry.write(b'')\n"
        "    kio.write_stream_atomic(path, stream)\n"
        "    with open(path) as handle:\n"
        "        return handle.read()\n"
    )
    found = {(function, call, atomic) for function, call, _, atomic in census(source)}
    assert found == {
        ("bad", "open", False),
        ("bad", "dump", False),
        ("bad", "savefig", False),
        ("good", "savefig", True),
        ("good", "save", True),
        ("save", "save_weights", True),
        ("stream", "open", True),
    }
