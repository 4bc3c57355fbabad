"""Code and tests cite only files the repository has (a design document that lived outside
it was cited as "DESIGN.md" in five modules)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("kbetavae", "cli", "tests", "benchmarks")
# A path inside the repository, or a bare capitalised document name such as DESIGN.md.
CITATION = re.compile(
    r"(?<![\w/.<>-])((?:docs|kbetavae|cli|tests|benchmarks|vertex)/[\w./-]*\w\.(?:md|py|txt)"
    r"|[A-Z]+\.md)\b"
)
# Names of files a sweep or a report directory holds, not repository files.
OUTPUT_NAMES = {"README.md"}


def citations() -> list[tuple[Path, str]]:
    found = []
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            if path == Path(__file__).resolve():
                continue  # its own docstring and asserts name the old citation
            for match in CITATION.finditer(path.read_text(encoding="utf-8")):
                found.append((path.relative_to(ROOT), match.group(1)))
    return found


def test_every_cited_repository_file_exists():
    missing = [
        f"{source}: {cited}"
        for source, cited in citations()
        if cited not in OUTPUT_NAMES and not (ROOT / cited).exists()
    ]
    assert not missing, "\n".join(missing)


def test_the_design_document_is_cited_where_it_is():
    cited = {cited for _, cited in citations()}
    assert "docs/DESIGN.md" in cited
    assert "DESIGN.md" not in cited
