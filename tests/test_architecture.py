"""The layout docs/DESIGN.md draws: no import cycles, arrows pointing down, small modules.

Imports are read from the source (``ast``), in-function imports included: a cycle hidden
inside a function is still a cycle. An edge goes to the module an import names (the
submodule for ``from package import submodule``), not to every parent package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kbetavae", "cli")
# Modules longer than this must say why in their docstring (issue 12's target).
MAX_LINES = 300


def module_name(path: Path) -> str:
    if not path.is_relative_to(ROOT):
        return path.stem
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``path`` imports, at module level or inside functions."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            # ``from a import b``: b if it is a module, else the module a.
            targets = [t for t in targets if t in modules][:1] or [base]
        else:
            continue
        found.update(t for t in targets if t in modules and t != name)
    return found


def graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports_of(path, modules) for name, path in modules.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(graph())
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_a_planted_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(edges) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_an_in_function_import_counts(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from kbetavae.study import sweep\n")
    modules = project_modules()
    assert imports_of(source, modules) == {"kbetavae.study.sweep"}


# The one study module that draws: figures and report.html after a sweep or a collect,
# from the files the rest of the study wrote (viz reads those through RESULTS_LAYER).
STUDY_TO_VIZ = "kbetavae.study.report"


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("kbetavae", ("cli",)),  # nothing in the library imports the CLI
        ("kbetavae.metrics", ("kbetavae.model", "kbetavae.training", "kbetavae.study")),
        ("kbetavae.data", ("kbetavae.model", "kbetavae.training", "kbetavae.study")),
        (
            "kbetavae.model",
            ("kbetavae.training", "kbetavae.trained", "kbetavae.study", "kbetavae.viz"),
        ),
        ("kbetavae.training", ("kbetavae.trained", "kbetavae.study", "kbetavae.viz")),
        # A trained model's I/O reads the run directory; the study and figures use it.
        ("kbetavae.trained", ("kbetavae.study", "kbetavae.viz")),
        ("kbetavae.study", ("kbetavae.viz",)),  # but for its report builder: STUDY_TO_VIZ
    ],
)
def test_imports_point_down_the_layers(layer, forbidden):
    wrong = [
        f"{source} imports {target}"
        for source, targets in graph().items()
        if source == layer or source.startswith(layer + ".")
        if source != STUDY_TO_VIZ
        for target in targets
        if any(target == f or target.startswith(f + ".") for f in forbidden)
    ]
    assert not wrong, wrong


# The study's results layer: its tables, and what they say in words (the report's first lines).
RESULTS_LAYER = ("kbetavae.study.results", "kbetavae.study.findings", "kbetavae.study.methods")


def test_viz_reads_the_study_through_its_results_layer_only():
    wrong = [
        f"{source} imports {target}"
        for source, targets in graph().items()
        if source.startswith("kbetavae.viz")
        for target in targets
        if target.startswith("kbetavae.study") and target not in RESULTS_LAYER
    ]
    assert not wrong, wrong


def test_long_modules_say_why_they_are_long():
    long = []
    for name, path in project_modules().items():
        lines = path.read_text().count("\n")
        docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
        if lines > MAX_LINES and "long because" not in docstring.lower():
            long.append(f"{name} ({lines} lines)")
    assert not long, long
