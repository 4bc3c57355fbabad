"""A sweep directory's report: its figures, then ``report.html`` (one call for everyone).

``kbetavae sweep``, ``collect`` and ``plot`` draw the report this way, and so do the library
functions behind the first two (:func:`kbetavae.study.jobs.run_sweep_jobs`,
:func:`kbetavae.study.collect.collect`), so a library user gets the same page::

    >>> build_report("runs/study").path  # doctest: +SKIP
    'runs/study/report.html'

This is the study's one door to :mod:`kbetavae.viz` (tests/test_architecture.py): the rest
of the study writes files, the figures and the page are drawn from them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

from kbetavae.errors import InputError
from kbetavae.study.claims import REPORT_CLAIM_FILE, wait_for_claim
from kbetavae.study.grid import keyed_by_beta
from kbetavae.study.motion import write_sweep_motion
from kbetavae.study.results import read_results
from kbetavae.viz.html_report import write_report
from kbetavae.viz.report import render_sweep_figures, traversal_beta


@dataclasses.dataclass(frozen=True)
class Report:
    """What :func:`build_report` wrote: ``report.html``, the figures, and a note when the
    traversal figure is of another β than the one asked for."""

    path: str
    figures: list[str]
    note: str | None = None


def build_report(
    sweep_dir: str | os.PathLike,
    traverse_beta: float | None = None,
    *,
    image_index: int | None = None,
    strict: bool = False,
    motion: bool = False,
    progress=None,
) -> Report:
    """Render the figures of ``sweep_dir``, (``motion``) measure its traversals' motion,
    then write its ``report.html``.

    Args:
        traverse_beta: the β of the traversal figure (None: the finished β nearest 5).
            If it has no finished run, the figure is of the finished β nearest 5 and the
            note says so; ``strict``: InputError instead, before anything is drawn.
        image_index: the dataset index of the traversal's input image.
        motion: also write ``traversal_motion.csv`` (needs the runs' models).
        progress: a :class:`kbetavae.study.sweep.Progress`, told each stage and the note
            (without one, the note is the returned report's only).
    """
    sweep_dir = os.fspath(sweep_dir)
    rows = read_results(sweep_dir)
    note = None
    if strict:
        traversal_beta(rows, traverse_beta)
    else:
        traverse_beta, note = fallback_traversal_beta(rows, traverse_beta)
    if progress is not None:
        progress.focus("")  # what follows is about the whole sweep, not its last run
    if note and progress is not None:
        progress.note(note)
    # One report at a time per sweep, each drawn from the results as they are once it holds
    # the lock: two sweeps finishing and a `kbetavae report` at once leave the page of the
    # last results.csv, never an older page written after a newer one.
    with wait_for_claim(sweep_dir, poll_seconds=0.2, file=REPORT_CLAIM_FILE):
        rows = read_results(sweep_dir)
        _stage(progress, "rendering figures")
        figures = render_sweep_figures(
            sweep_dir, traverse_beta=traverse_beta, image_index=image_index
        )
        # Traversals are drawn per β; a grid of methods shows its methods instead.
        if motion and any(row.get("status") == "done" for row in rows) and keyed_by_beta(rows):
            _stage(progress, "measuring the traversals' motion")
            write_sweep_motion(sweep_dir)
        _stage(progress, "writing report.html")
        return Report(path=write_report(sweep_dir), figures=figures, note=note)


def fallback_traversal_beta(rows: Sequence[dict], requested: float | None):
    """``(β, note)`` for a command that must not fail at its end (a sweep, a collect):
    ``requested`` if it finished, else the finished β nearest 5 and a note saying so."""
    try:
        return traversal_beta(rows, requested), None
    except InputError as exc:
        chosen = traversal_beta(rows, None)
        if chosen is None:
            return None, None  # no finished run: no traversal to speak of
        return chosen, f"{exc}; the traversal figure is of β = {chosen:g}"


def check_traverse_beta(requested: float | None, betas: Sequence[float]) -> None:
    """InputError unless ``requested`` (None: the default) is one of a plan's ``betas``:
    a sweep says so before it trains, not when it draws."""
    if requested is not None and requested not in betas:
        raise InputError(
            f"traverse_beta {requested:g} is not one of the swept βs "
            f"({', '.join(f'{b:g}' for b in betas)})"
        )


def _stage(progress, message: str) -> None:
    if progress is not None:
        progress.stage(message)
