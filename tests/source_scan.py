"""Findings of a source reader over the project's own modules (the grep-style tests)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def scan(find: Callable[[str, str], list[str]], packages: Sequence[str]) -> list[str]:
    """``find(source, module path)`` over every module of ``packages``, findings joined."""
    found = []
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            found += find(path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix())
    return found
