"""Publish a finished sweep as a report directory: the small files a reader can check.

A sweep directory holds models (megabytes each) beside the evidence. ``publish`` copies the
evidence only, so a report in a repository (``docs/results``) carries every number it quotes::

    <dest>/sweep.json                   the plan, package versions, git revision
    <dest>/results.csv, results.md      one row per run, per-β statistics
    <dest>/figures/                     every figure of the sweep
    <dest>/traversal_motion.csv         if ``kbetavae motion`` measured the traversals
    <dest>/runs/<run>/                  config.json, history.csv, metrics.json, done.json

and then regenerates the tables marked in ``<dest>/README.md``
(:mod:`kbetavae.study.published`). Models and SavedModels stay out; ``report.html`` too
(it embeds the figures again, several megabytes).

Example:
    >>> publish("runs/study3", "docs/results")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys

from kbetavae import io as kio
from kbetavae.errors import InputError
from kbetavae.study import published
from kbetavae.study.motion import MOTION_CSV
from kbetavae.study.results import PLAN_FILE, read_results, sweep_run_dirs
from kbetavae.training.rundir import CONFIG_FILE, DONE_FILE, HISTORY_FILE, METRICS_FILE

RUN_FILES = (CONFIG_FILE, HISTORY_FILE, METRICS_FILE, DONE_FILE)
SWEEP_FILES = (PLAN_FILE, "results.csv", "results.md", MOTION_CSV)
RUNS_DIR = "runs"


def publish(sweep_dir: str, dest: str) -> list[str]:
    """Copy ``sweep_dir``'s evidence into ``dest`` (see the module docstring); return the
    paths written. InputError if ``sweep_dir`` is not a tabulated sweep."""
    if not kio.exists(os.path.join(sweep_dir, "results.csv")):
        raise InputError(f"{sweep_dir} has no results.csv: not a tabulated sweep")
    written = []
    for name in SWEEP_FILES:
        source = os.path.join(sweep_dir, name)
        if kio.exists(source):
            written.append(_copy(source, os.path.join(dest, name)))
    figures = os.path.join(sweep_dir, "figures")
    # Figures sit in figures/ and one level below (figures/traversals/).
    found = [kio.glob(figures, p) for p in ("*.*", "*/*.*")] if kio.is_dir(figures) else []
    for source in sorted(set().union(*found)):
        relative = os.path.relpath(source, figures)
        written.append(_copy(source, os.path.join(dest, "figures", relative)))
    for _, _, run_dir in sweep_run_dirs(sweep_dir):
        name = os.path.basename(run_dir.rstrip("/"))
        for file in RUN_FILES:
            source = os.path.join(run_dir, file)
            if kio.exists(source):
                written.append(_copy(source, os.path.join(dest, RUNS_DIR, name, file)))
    if kio.exists(os.path.join(dest, published.REPORT_FILE)):
        published.update_report(dest)
    return written


def missing_run_files(results_dir: str) -> list[str]:
    """The run files a published report lacks: every finished row of its results.csv needs
    ``runs/<run>/`` with config.json, history.csv and metrics.json (run names from its
    sweep.json)."""
    names = {
        (beta, seed): os.path.basename(run_dir.rstrip("/"))
        for beta, seed, run_dir in sweep_run_dirs(results_dir)
    }
    missing = []
    for row in read_results(results_dir):
        if row.get("status") != "done":
            continue
        key = (float(row["beta"]), int(row["seed"]))
        if key not in names:
            missing.append(f"β = {key[0]:g}, seed {key[1]}: not in sweep.json")
            continue
        for file in (CONFIG_FILE, HISTORY_FILE, METRICS_FILE):
            if not kio.exists(os.path.join(results_dir, RUNS_DIR, names[key], file)):
                missing.append(f"{RUNS_DIR}/{names[key]}/{file}")
    return missing


def _copy(source: str, target: str) -> str:
    kio.makedirs(os.path.dirname(target))
    kio.write_bytes_atomic(target, kio.read_bytes(source))
    return target


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m kbetavae.study.publish SWEEP_DIR DEST")
    try:
        paths = publish(sys.argv[1], sys.argv[2])
    except InputError as exc:
        sys.exit(f"error: {exc}")
    print(f"published {len(paths)} files into {sys.argv[2]}")
