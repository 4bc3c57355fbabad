"""The sweep directory's results: its files, one row per run, statistics over seeds, tables.

::

    <sweep>/sweep.json            the plan, package versions, git revision (a set merged by
                                  ``kbetavae collect`` also lists where each run lives)
    <sweep>/results.csv           one row per (setting, seed); a setting is a β in a β sweep
    <sweep>/results.md            per setting: n, mean, sd and 95 % t interval; then every run
    <sweep>/figures/              kbetavae.viz.report
    <sweep>/report.html           kbetavae.viz.html_report

The per-β statistics are :mod:`kbetavae.study.statistics`'.

The module is long because it is the one home of these files: their writers, and readers
that name a damaged file (:class:`~kbetavae.errors.DamagedFile`) and the command that
writes it again.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

from kbetavae import io as kio
from kbetavae.errors import DamagedFile, InputError
from kbetavae.metrics import metric_row, registry
from kbetavae.model import catalog
from kbetavae.study.formatting import format_fixed, table_head
from kbetavae.study.grid import is_beta_only
from kbetavae.study.methods import methods_markdown
from kbetavae.study.plan import SweepPlan
from kbetavae.study.statistics import seed_count_label, summarise
from kbetavae.training import rundir

PLAN_FILE = "sweep.json"
RESULTS_CSV = "results.csv"
RESULTS_MD = "results.md"
FIGURES_DIR = "figures"
REPORT_FILE = "report.html"
# In the sweep.json of a merged set (kbetavae collect): where each (β, seed) run lives.
RUNS_KEY = "runs"
# The setting's columns (kbetavae.study.grid) lead the table of a grid; a β sweep's table
# keeps the shape it had before grids, β first.
SETTING_COLUMNS = ("setting", "objective", "weight")
BASE_COLUMNS = (
    *SETTING_COLUMNS,
    "beta",
    "beta_norm",
    "seed",
    "status",
    "epochs",
    "loss",
    "reconstruction",
    "kl",
    "heldout_reconstruction",
    "heldout_kl",
    "active_latents",
)
TAIL_COLUMNS = ("train_seconds", "train_cpu_seconds", "eval_seconds", "reason")
# Tail columns that runs record only since they were added: a table of older runs (the
# published ones among them) leaves them out rather than print an empty column.
_RECORDED_SINCE = ("train_cpu_seconds",)
# What repairs a damaged sweep-level file. Rerunning a sweep retrains nothing finished and
# rewrites results.csv; --force also rewrites sweep.json, keeping the runs whose settings
# match. A set merged by `kbetavae collect` is written whole by collecting again.
RESULTS_REMEDY = (
    "rerun the `kbetavae sweep` (or `kbetavae collect`) command that wrote it: finished "
    "runs are read back, not retrained, and the table is written again"
)
PLAN_REMEDY = (
    "rerun the `kbetavae sweep` command that wrote it with --force (runs whose settings "
    "match are kept, not retrained), or the `kbetavae collect` command for a merged set"
)
# Columns a markdown table prints as written (β = 4, not 4.0000); always present in a row.
_AS_WRITTEN = ("beta", "weight")
# Columns read back as integers, as the sweep wrote them (results.md prints them so).
_WHOLE_NUMBERS = ("seed", "epochs", "active_latents")
# Columns that describe a run rather than score it.
_NOT_SCORES = (
    *SETTING_COLUMNS,
    "beta",
    "beta_norm",
    "seed",
    "status",
    "reason",
    "epochs",
    "train_seconds",
    "train_cpu_seconds",
    "eval_seconds",
)


# -- one row per run -----------------------------------------------------------------------


def run_row(config, result) -> dict[str, Any]:
    """The results-table row of a run: its ``TrainResult`` and the files of its directory.

    A finished run without ``metrics.json`` (never evaluated) is a failed row, so tables,
    summaries and figures only ever use evaluated runs.
    """
    row: dict[str, Any] = {
        **setting_columns(config),
        "beta_norm": config.normalised_beta,
        "seed": config.seed,
        "status": result.status,
        "epochs": len(rundir.read_history(result.run_dir)),
        "train_seconds": result.seconds,
        "train_cpu_seconds": result.cpu_seconds,  # None for a run from before it was recorded
        "reason": result.reason,
    }
    for key in ("loss", "reconstruction", "kl"):
        row[key] = result.metrics.get(key)
    if not result.ok:
        return row
    record = rundir.read_metrics(result.run_dir)
    if record is None:
        return {**row, "status": "failed", "reason": f"not evaluated (no {rundir.METRICS_FILE})"}
    return {**row, **metric_row(record)}


def setting_columns(config) -> dict[str, Any]:
    """A run's setting as the table gives it: its name, objective, main weight and β."""
    return {
        "setting": rundir.setting_name(config),
        "objective": config.objective,
        "weight": catalog.main_weight_value(config.objective, config.beta, config.objective_args),
        "beta": config.beta,
    }


def table_columns(rows: Sequence[dict]) -> list[str]:
    """Base columns (those any row has, β always; the setting's only in a grid), then the
    metric columns any row has (of one model, then over a setting's seeds), then timings
    and reason (CPU time only if a row has it)."""
    present = {key for row in rows for key in row if row.get(key) is not None}
    if is_beta_only(rows):
        present -= set(SETTING_COLUMNS)
    base = [c for c in BASE_COLUMNS if c in present or c in ("beta", "seed", "status")]
    metric_cols = [c for c in registry.columns(kind=None) if c in present]
    tail = [c for c in TAIL_COLUMNS if c in present or c not in _RECORDED_SINCE]
    return [*base, *metric_cols, *tail]


def score_columns(columns: Sequence[str]) -> list[str]:
    return [c for c in columns if c not in _NOT_SCORES]


# -- results.csv and results.md ------------------------------------------------------------


def write_results(sweep_dir: str, rows: Sequence[dict]) -> None:
    """Write ``results.csv`` (one row per run) and ``results.md`` (per-β summary + runs)."""
    columns = table_columns(rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _csv_value(row.get(c)) for c in columns})
    kio.write_text_atomic(os.path.join(sweep_dir, RESULTS_CSV), buffer.getvalue())
    kio.write_text_atomic(os.path.join(sweep_dir, RESULTS_MD), results_markdown(rows, columns))


def summary_markdown(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    """The per-setting table (the study's Table 1: per β) with n and what the cells show."""
    columns = score_columns(columns or table_columns(rows))
    label = seed_count_label(rows)
    cells_say = (
        "one seed: each cell is that seed's value"
        if label == "one seed"
        else f"{label}: mean ± sd [95 % t interval of the mean]"
    )
    by_beta = is_beta_only(rows)
    key = "β" if by_beta else "setting"
    lines = [
        f"## Summary per {key} ({cells_say})",
        "",
        f"| {key} | n | " + " | ".join(columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for summary in summarise(rows, columns):
        cells = [summary[c].text() if c in summary else "—" for c in columns]
        label = f"{summary['beta']:g}" if by_beta else summary["setting"]
        lines.append(
            f"| {label} | {summary['done']}/{summary['runs']} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"


def runs_markdown(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    """Every run, one row each."""
    columns = list(columns or table_columns(rows))
    lines = ["## Runs", "", *table_head(columns)]
    for row in rows:
        cells = [
            f"{row[c]:g}" if c in _AS_WRITTEN and row.get(c) is not None else _cell(row.get(c))
            for c in columns
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def results_markdown(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    """The summary and the runs; a grid's methods section (:mod:`kbetavae.study.methods`)
    between them."""
    columns = columns or table_columns(rows)
    parts = [summary_markdown(rows, columns)]
    if not is_beta_only(rows):
        parts.append(grid_methods_markdown(rows, columns))
    return "\n".join([*parts, runs_markdown(rows, columns)])


def grid_methods_markdown(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    """A grid's methods section (:func:`kbetavae.study.methods.methods_markdown`) over the
    supervised metrics and the label-free scores among ``columns``."""
    scores = score_columns(columns or table_columns(rows))
    supervised = [c for c in scores if c in registry.columns()]
    udr = [c for c in scores if c in registry.columns(kind=registry.SEVERAL_MODELS)]
    return methods_markdown(rows, supervised, udr)


def read_results(sweep_dir: str) -> list[dict]:
    """Rows of ``results.csv`` with numbers parsed back; :class:`DamagedFile` if the file is
    empty, has no β/seed columns, or holds a row that is not one of the table's."""
    path = os.path.join(sweep_dir, RESULTS_CSV)
    text = kio.read_text(path)
    if not text.strip():
        raise DamagedFile(path, "empty", RESULTS_REMEDY)
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("beta", "seed") if c not in (reader.fieldnames or ())]
    if missing:
        raise DamagedFile(path, f"no {' or '.join(missing)} column", RESULTS_REMEDY)
    rows = []
    for raw in reader:
        # A short row has None values, a long one a None key: neither is written whole.
        if None in raw or None in raw.values():
            raise DamagedFile(
                path, f"line {reader.line_num} does not match the header", RESULTS_REMEDY
            )
        row: dict[str, Any] = {}
        for key, value in raw.items():
            if key in ("status", "reason", "setting", "objective"):
                row[key] = value or None
            elif value == "":
                row[key] = None
            else:
                row[key] = _number(value, key, path, reader.line_num)
        rows.append(row)
    return rows


def _number(value: str, column: str, path: str, line: int) -> float | int:
    try:
        number = float(value)
    except ValueError:
        problem = f"line {line}: {column} {value!r} is not a number"
        raise DamagedFile(path, problem, RESULTS_REMEDY) from None
    return int(number) if column in _WHOLE_NUMBERS else number


def check_has_runs(sweep_dir: str, rows: Sequence[dict]) -> None:
    """InputError if ``rows`` (the sweep's results.csv) list no run: there is nothing to
    draw or report, and a report of nothing must not replace one of something."""
    if not rows:
        raise InputError(
            f"{os.path.join(sweep_dir, RESULTS_CSV)} lists no runs yet: nothing to report "
            "(it gets a row as each run of the sweep finishes)"
        )


# -- sweep.json ----------------------------------------------------------------------------


def read_plan_record(sweep_dir: str) -> dict[str, Any]:
    """The ``sweep.json`` record of a sweep (or merged set); :class:`DamagedFile` if it is
    not JSON or holds no plan."""
    path = os.path.join(sweep_dir, PLAN_FILE)
    try:
        record = kio.read_json(path)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError (cut mid-character)
        if not kio.read_bytes(path).strip():
            problem = "empty"
        elif isinstance(exc, json.JSONDecodeError):
            problem = f"not JSON: {exc.msg}, line {exc.lineno}"
        else:
            problem = f"not JSON: {exc}"
        raise DamagedFile(path, problem, PLAN_REMEDY) from None
    # A merged set is read by its list of runs; a sweep needs its plan.
    if not isinstance(record, dict) or not (
        isinstance(record.get("plan"), dict) or RUNS_KEY in record
    ):
        raise DamagedFile(path, "no plan in it", PLAN_REMEDY)
    return record


def read_plan(sweep_dir: str) -> SweepPlan:
    """The plan of a sweep's ``sweep.json``; :class:`DamagedFile` if it cannot be read."""
    return plan_of_record(read_plan_record(sweep_dir), os.path.join(sweep_dir, PLAN_FILE))


def plan_of_record(record: dict[str, Any], path: str) -> SweepPlan:
    """The :class:`SweepPlan` of a ``sweep.json`` record read from ``path``."""
    try:
        return SweepPlan.from_dict(record["plan"])
    except (InputError, KeyError, TypeError, ValueError) as exc:
        raise DamagedFile(path, f"its plan does not read: {exc}", PLAN_REMEDY) from None


def is_sweep_dir(sweep_dir: str) -> bool:
    return all(kio.exists(os.path.join(sweep_dir, f)) for f in (PLAN_FILE, RESULTS_CSV))


def sweep_run_dirs(sweep_dir: str, plan: SweepPlan | None = None) -> list[tuple[float, int, str]]:
    """(β, seed, run_dir) of every run of the sweep: its plan's grid under ``sweep_dir``, or
    the run directories listed in its ``sweep.json`` (a set merged by ``kbetavae collect``)."""
    if plan is None:
        record = read_plan_record(sweep_dir)
        if RUNS_KEY in record:
            # A relative run_dir is relative to the set itself (a published report moves
            # with its runs); an absolute or gs:// one is kept as it is.
            return [
                (float(r["beta"]), int(r["seed"]), _join(sweep_dir, r["run_dir"]))
                for r in record[RUNS_KEY]
            ]
        plan = plan_of_record(record, os.path.join(sweep_dir, PLAN_FILE))
    return [
        (config.beta, config.seed, os.path.join(sweep_dir, rundir.run_name(config)))
        for config in plan.configs()
    ]


def check_runs(sweep_dir: str, need_model: bool = False) -> None:
    """DamagedFile for the first damaged file among the sweep's run directories
    (:func:`kbetavae.training.rundir.check_run`; a missing model only if ``need_model``)."""
    for _, _, run_dir in sweep_run_dirs(sweep_dir):
        rundir.check_run(run_dir, need_model=need_model)


# Reads one run's evaluation record: rundir.read_metrics, or read_sweep_metrics.
MetricsReader = Callable[[str], dict | None]


def metric_records(
    runs, done, read: MetricsReader = rundir.read_metrics
) -> dict[float, list[tuple[int, dict]]]:
    """β -> [(seed, metrics.json record)] of the finished runs (``done``: results rows
    with status done) among ``runs`` (:func:`sweep_run_dirs`), in seed order; ``read``
    chooses the record (:func:`~kbetavae.training.rundir.read_sweep_metrics`: the sweep's)."""
    ok = {(r["beta"], r["seed"]) for r in done}
    records: dict[float, list[tuple[int, dict]]] = {}
    for beta, seed, run_dir in runs:
        if (beta, seed) in ok:
            record = read(run_dir)
            records.setdefault(beta, []).append((seed, record))
    return records


def export_dir(
    run_dir: str, saved_models: str, version: int | str = rundir.SAVED_MODEL_VERSION
) -> str:
    """Where a run's SavedModel goes (:func:`kbetavae.training.rundir.export_dir`): the
    sweep's layout for a run inside a sweep (its parent holds ``sweep.json``), else a
    single trial's (kbetavae.study.trial)."""
    path = run_dir.rstrip("/") if kio.is_remote(run_dir) else os.path.abspath(run_dir)
    parent, run = os.path.dirname(path), os.path.basename(path)
    sweep = os.path.basename(parent) if kio.exists(os.path.join(parent, PLAN_FILE)) else None
    return rundir.export_dir(saved_models, run, sweep, version)


def _join(sweep_dir: str, run_dir: str) -> str:
    if kio.is_remote(run_dir) or os.path.isabs(run_dir):
        return run_dir
    return os.path.join(sweep_dir, run_dir)


def _cell(value: Any) -> str:
    """A markdown cell: 4 decimals, fewer for large numbers; β as written."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return format_fixed(value, 1 if abs(value) >= 100 else 4)
    return str(value)


def _csv_value(value: Any) -> str:
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)
