"""What produced a result: package versions, the git revision of the code and the machine.

Written into every run's ``config.json`` (and a sweep's ``sweep.json``) so a number in a
table can be traced to the code and libraries that made it, and a time to the CPU it was
measured on (a study published over several sittings may span machines). A process that
shares the CPU with others (``kbetavae sweep --jobs N``) also records how
(:func:`record_execution`): thread counts change float rounding, never which run it is.

Example:
    >>> sorted(versions())[:3]
    ['keras', 'kbetavae', 'numpy']
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

# How this process runs its training (jobs, threads); empty unless recorded.
_EXECUTION: dict = {}

PACKAGES: tuple[str, ...] = (
    "kbetavae",
    "tensorflow",
    "keras",
    "numpy",
    "tensorflow-datasets",
    "scikit-learn",
)


def versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed versions of ``packages`` and Python (None for a package not installed).

    Read from package metadata, so nothing heavy is imported.
    """
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return dict(sorted(found.items()))


def git_revision(path: str | Path | None = None) -> str | None:
    """``HEAD``'s commit of the repository holding ``path`` (default: this package).

    ``+dirty`` is appended when tracked files have uncommitted changes; None outside a
    git checkout (e.g. an installed wheel) or without git.
    """
    cwd = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        head = _git(cwd, "rev-parse", "HEAD")
        dirty = _git(cwd, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+dirty" if dirty else head


def machine(cpuinfo: str = "/proc/cpuinfo") -> dict:
    """``{"cpu": model name, "cores": logical CPUs}`` of this machine (the model name from
    ``/proc/cpuinfo``, else ``platform.processor()``, else ``"unknown"``)."""
    name = None
    try:
        with open(cpuinfo, encoding="utf-8") as handle:
            names = (line.split(":", 1)[1] for line in handle if line.startswith("model name"))
            name = next(names, "").strip()
    except OSError:
        pass
    return {"cpu": name or platform.processor() or "unknown", "cores": os.cpu_count()}


def record_execution(**settings) -> None:
    """Note how this process trains (e.g. ``jobs=2, threads_per_job=1``); every later
    :func:`provenance` record of the process carries it under ``"execution"``."""
    _EXECUTION.update(settings)


def provenance() -> dict:
    """Versions, git revision and machine (and the execution settings, if recorded), as
    stored beside results."""
    record = {"versions": versions(), "git_revision": git_revision(), "machine": machine()}
    if _EXECUTION:
        record["execution"] = dict(_EXECUTION)
    return record


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
    )
    return done.stdout.strip()
