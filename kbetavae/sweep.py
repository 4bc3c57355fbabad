"""A β sweep: plan the runs, train/evaluate/export each one (resumably), tabulate results.

Layout (DESIGN.md)::

    <out>/<name>/sweep.json                 plan, versions, git revision
    <out>/<name>/beta=<β>_seed=<s>/         config.json, history.csv, model.keras, metrics.json
    <out>/<name>/results.csv, results.md    one row per run, then mean ± sd per β
    <out>/<name>/figures/                   see kbetavae.viz.report
    <out>/<name>/report.html                everything above on one page (kbetavae.viz.html_report)
    <saved_models>/<name>/beta=<β>_seed=<s>/1/   SavedModel (TF Serving layout)

Every step leaves a file behind that says it is done (``done.json``, ``metrics.json``, the
SavedModel directory), so rerunning the same sweep skips what is finished and resumes an
interrupted training from its last epoch (Keras ``BackupAndRestore``). A run whose loss
becomes NaN is recorded as failed and the sweep goes on.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import statistics
from collections.abc import Sequence
from typing import Any

from kbetavae import io as kio
from kbetavae.cluster import is_multi_worker, read_tf_config
from kbetavae.errors import InputError
from kbetavae.models_io import graph_encoder, load_model
from kbetavae.provenance import provenance

STUDY_BETAS: tuple[float, ...] = (0.5, 1.0, 2.5, 5.0, 7.5, 10.0, 50.0)
DEFAULT_METRICS: tuple[str, ...] = ("mig", "zdiff", "modularity")
EXTRA_METRICS: tuple[str, ...] = ("sap", "factorvae", "dci")
PLAN_FILE = "sweep.json"
# In the sweep.json of a merged set (kbetavae collect): where each (β, seed) run lives.
RUNS_KEY = "runs"
METRICS_FILE = "metrics.json"
SAVED_MODEL_VERSION = "1"
# Columns of results.csv, in order; metric columns hold the metric's score.
BASE_COLUMNS = (
    "beta",
    "seed",
    "status",
    "epochs",
    "loss",
    "reconstruction",
    "kl",
    "active_latents",
)
METRIC_COLUMNS = {
    "mig": ("mig",),
    "zdiff": ("zdiff",),
    "modularity": ("modularity",),
    "sap": ("sap",),
    "factorvae": ("factorvae",),
    "dci": ("dci_disentanglement", "dci_completeness", "dci_informativeness"),
}
TAIL_COLUMNS = ("train_seconds", "eval_seconds", "reason")


# The training settings every run of a sweep shares (β and seed vary).
TRAINING_FIELDS = ("epochs", "batch_size", "lr", "latent_dim", "objective", "subset", "source")


@dataclasses.dataclass(frozen=True)
class SweepPlan:
    """What a sweep trains and measures; defaults are the study's settings.

    ``eval_points`` scales the metric protocol: MIG/Modularity use that many points,
    Z-diff and FactorVAE that many training votes and half as many evaluation votes
    (10,000 is the disentanglement_lib protocol; tests use less).
    """

    name: str = "study"
    betas: tuple[float, ...] = STUDY_BETAS
    seeds: tuple[int, ...] = (0,)
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    latent_dim: int = 10
    objective: str = "beta"
    subset: int = 50_000
    source: str = "replica"
    metrics: tuple[str, ...] = DEFAULT_METRICS
    eval_points: int = 10_000

    def __post_init__(self) -> None:
        if not self.name or any(c in self.name for c in "/\\") or self.name.startswith("."):
            raise InputError(f"--name must be a plain directory name, got {self.name!r}")
        if not self.betas:
            raise InputError("--betas needs at least one value")
        for beta in self.betas:
            if not (isinstance(beta, int | float) and math.isfinite(beta) and beta >= 0):
                raise InputError(f"--betas values must be finite numbers >= 0, got {beta!r}")
        if len(set(self.betas)) != len(self.betas):
            raise InputError(f"--betas has repeated values: {list(self.betas)}")
        if not self.seeds or any(not isinstance(s, int) or s < 0 for s in self.seeds):
            raise InputError(f"--seeds must be integers >= 0, got {list(self.seeds)}")
        if self.objective == "capacity" and len(self.betas) > 1:
            raise InputError(
                "--objective capacity does not use β, so several --betas would train the "
                "same model; give one --betas value (or sweep the beta objective)"
            )
        if len(set(self.seeds)) != len(self.seeds):
            raise InputError(f"--seeds has repeated values: {list(self.seeds)}")
        unknown = [m for m in self.metrics if m not in METRIC_COLUMNS]
        if unknown or not self.metrics:
            raise InputError(
                f"--metrics: unknown {unknown}; choose from {', '.join(METRIC_COLUMNS)}"
            )
        if self.eval_points < 100:
            raise InputError(f"--eval-points must be at least 100, got {self.eval_points}")
        self.configs()  # TrainConfig validates epochs, subset, lr, ...

    @classmethod
    def of_config(cls, config, betas, seeds, **settings) -> SweepPlan:
        """The plan over ``betas`` × ``seeds`` whose runs share ``config``'s other settings
        (``settings``: name, metrics, eval_points)."""
        values = {field: getattr(config, field) for field in TRAINING_FIELDS}
        return cls(betas=tuple(betas), seeds=tuple(seeds), **values, **settings)

    def configs(self) -> list:
        """One ``TrainConfig`` per (β, seed), β-major as the study lists them."""
        from kbetavae.training import TrainConfig

        return [
            TrainConfig(
                beta=float(beta),
                seed=seed,
                **{field: getattr(self, field) for field in TRAINING_FIELDS},
            )
            for beta in self.betas
            for seed in self.seeds
        ]

    def metric_sizes(self) -> dict[str, int]:
        """Sample sizes passed to ``kbetavae.metrics.evaluate``."""
        n = self.eval_points
        return {
            "num_points": n,
            "num_test_points": max(n // 2, 1),
            "num_train": n,
            "num_eval": max(n // 2, 1),
            "num_variance_points": n,
        }

    def to_dict(self) -> dict[str, Any]:
        record = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in record.items()}

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> SweepPlan:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {
            k: tuple(v) if isinstance(v, list) else v for k, v in record.items() if k in fields
        }
        return cls(**values)


def run_name(beta: float, seed: int) -> str:
    """``beta=2.5_seed=0``: the directory of one run."""
    return f"beta={beta:g}_seed={seed}"


class Progress:
    """Hooks a sweep calls so a front end can show where it is; the default says nothing."""

    def sweep_started(self, plan: SweepPlan, todo: int) -> None: ...

    def run_started(self, index: int, total: int, config, status: str) -> list:
        """Return extra Keras callbacks for this run's training."""
        return []

    def stage(self, message: str) -> None: ...

    def run_finished(self, row: dict) -> None: ...


def run_sweep(
    plan: SweepPlan,
    out: str | os.PathLike = "runs",
    saved_models: str | os.PathLike = "saved_models",
    *,
    force: bool = False,
    progress: Progress | None = None,
    figures: bool = True,
    traverse_beta: float = 5.0,
) -> list[dict]:
    """Run (or resume) the sweep ``plan`` under ``out``; return the results rows.

    Refuses (InputError) to reuse a sweep directory that holds another plan unless
    ``force``; with ``force`` the runs whose settings changed are started afresh.
    """
    from kbetavae.data import open_source

    progress = progress or Progress()
    sweep_dir = os.path.join(os.fspath(out), plan.name)
    export_root = os.path.join(os.fspath(saved_models), plan.name)
    # Everything that can be wrong with the input is checked before anything is written.
    if is_multi_worker(read_tf_config()):
        raise InputError(
            "kbetavae sweep runs in one process; with TF_CONFIG naming several workers, run "
            "`kbetavae train` on each worker per (β, seed), then `kbetavae collect` the runs"
        )
    data = open_source(plan.source)
    if plan.subset > data.num_images:
        raise InputError(
            f"--subset {plan.subset} is larger than the dataset ({data.num_images} images)"
        )
    check_writable(os.fspath(out), "--out")
    check_writable(os.fspath(saved_models), "--saved-models")
    _claim_sweep_dir(sweep_dir, plan, force)

    configs = plan.configs()
    todo = sum(
        not kio.exists(os.path.join(sweep_dir, run_name(c.beta, c.seed), METRICS_FILE))
        for c in configs
    )
    progress.sweep_started(plan, todo)
    rows = []
    for index, config in enumerate(configs):
        run_dir = os.path.join(sweep_dir, run_name(config.beta, config.seed))
        export_dir = os.path.join(
            export_root, run_name(config.beta, config.seed), SAVED_MODEL_VERSION
        )
        if force:
            _discard_if_changed(run_dir, config, export_dir)
        row = _run_one(plan, config, run_dir, export_dir, data, progress, index, len(configs))
        rows.append(row)
        write_results(sweep_dir, rows)
        progress.run_finished(row)
    if figures:
        from kbetavae.viz.html_report import write_report
        from kbetavae.viz.report import render_sweep_figures

        progress.stage("rendering figures")
        render_sweep_figures(sweep_dir, data=data, traverse_beta=traverse_beta)
        progress.stage("writing report.html")
        write_report(sweep_dir)
    return rows


def _run_one(plan, config, run_dir, export_dir, data, progress, index, total) -> dict:
    from kbetavae.export import export_saved_model, is_exported
    from kbetavae.training import train

    metrics_path = os.path.join(run_dir, METRICS_FILE)
    done = kio.exists(metrics_path) and is_exported(export_dir)
    callbacks = progress.run_started(index, total, config, "finished" if done else "running")
    result = train(config, run_dir, source=data, callbacks=callbacks, verbose=0)
    if not result.ok:
        return run_row(config, result)
    model = result.model
    if not kio.exists(metrics_path):
        model = model or load_model(result.model_path)
        progress.stage("evaluating")
        try:
            record = evaluate_model(model, data, plan, seed=config.seed)
        except InputError as exc:  # e.g. NaN codes from weights that diverged at the end
            return {**run_row(config, result), "status": "failed", "reason": f"evaluation: {exc}"}
        kio.write_json_atomic(metrics_path, record)
    if not is_exported(export_dir):
        model = model or load_model(result.model_path)
        progress.stage("exporting SavedModel")
        export_saved_model(model, export_dir)
    return run_row(config, result)


def run_row(config, result) -> dict:
    """The results-table row of a run: its ``TrainResult`` and the files of its directory.

    A finished run without ``metrics.json`` (never evaluated) is a failed row, so tables,
    summaries and figures only ever use evaluated runs.
    """
    from kbetavae.training import read_history

    row: dict[str, Any] = {
        "beta": config.beta,
        "seed": config.seed,
        "status": result.status,
        "epochs": len(read_history(result.run_dir)),
        "train_seconds": result.seconds,
        "reason": result.reason,
    }
    for key in ("loss", "reconstruction", "kl"):
        row[key] = result.metrics.get(key)
    metrics_path = os.path.join(result.run_dir, METRICS_FILE)
    if not result.ok:
        return row
    if not kio.exists(metrics_path):
        return {**row, "status": "failed", "reason": f"not evaluated (no {METRICS_FILE})"}
    return {**row, **metric_row(kio.read_json(metrics_path))}


def evaluate_model(model, data, plan: SweepPlan, seed: int) -> dict:
    """The sweep's metrics of one model, as stored in ``metrics.json``."""
    from kbetavae.metrics import evaluate

    metrics = tuple(plan.metrics)
    encode = graph_encoder(model)
    return evaluate(encode, data, metrics=metrics, seed=seed, **plan.metric_sizes())


def metric_row(record: dict) -> dict:
    """The table columns of a ``metrics.json`` record."""
    row: dict[str, Any] = {"active_latents": record.get("active_latents")}
    if isinstance(row["active_latents"], dict):
        row["active_latents"] = row["active_latents"].get("count")
    for name, columns in METRIC_COLUMNS.items():
        entry = record.get(name)
        if not entry:
            continue
        if name == "dci":
            for column in columns:
                row[column] = entry.get(column.removeprefix("dci_"))
        else:
            row[name] = entry.get("score")
    row["eval_seconds"] = (record.get("timing") or {}).get("total_seconds")
    return row


# -- the plan on disk --------------------------------------------------------------------


def _claim_sweep_dir(sweep_dir: str, plan: SweepPlan, force: bool) -> None:
    path = os.path.join(sweep_dir, PLAN_FILE)
    if kio.exists(path):
        record = kio.read_json(path)
        if RUNS_KEY in record:
            raise InputError(
                f"{sweep_dir} holds runs merged by `kbetavae collect`, not a sweep; "
                "sweep into another --name (and collect again to merge the results)"
            )
        stored = record.get("plan", {})
        if stored != plan.to_dict() and not force:
            changed = sorted(k for k, v in plan.to_dict().items() if stored.get(k) != v)
            raise InputError(
                f"sweep {plan.name!r} in {os.path.dirname(sweep_dir)} was planned with other "
                f"settings ({', '.join(changed)}); rerun with the same options, another "
                "--name, or --force to replace the changed runs"
            )
        if stored == plan.to_dict():
            return
    kio.write_json_atomic(path, {"plan": plan.to_dict(), **provenance()})


def _discard_if_changed(run_dir: str, config, export_dir: str) -> None:
    """With --force: a run directory trained with other settings is started afresh."""
    path = os.path.join(run_dir, "config.json")
    if kio.exists(path) and kio.read_json(path).get("config") != config.to_dict():
        kio.remove_tree(run_dir)
        kio.remove_tree(export_dir)


def check_writable(directory: str, option: str) -> None:
    """Raise InputError unless ``directory`` can be created and written to (for a bucket:
    unless it answers, see :func:`kbetavae.io.check_reachable`)."""
    if kio.is_remote(directory):
        kio.check_reachable(directory, option)
        return
    try:
        os.makedirs(directory, exist_ok=True)
        kio.write_bytes_atomic(os.path.join(directory, ".write-test"), b"")
        os.unlink(os.path.join(directory, ".write-test"))
    except OSError as exc:
        raise InputError(f"{option} {directory} is not writable ({exc.strerror})") from None


# -- the results table -------------------------------------------------------------------


def table_columns(rows: Sequence[dict]) -> list[str]:
    """Base columns, then the metric columns any row has, then timings and reason."""
    present = {key for row in rows for key in row}
    metric_cols = [c for cols in METRIC_COLUMNS.values() for c in cols if c in present]
    return [*BASE_COLUMNS, *metric_cols, *TAIL_COLUMNS]


def summarise(rows: Sequence[dict], columns: Sequence[str]) -> list[dict]:
    """Per β: mean and sd over the seeds that finished, for each numeric column."""
    out = []
    for beta in sorted({row["beta"] for row in rows}):
        group = [r for r in rows if r["beta"] == beta]
        ok = [r for r in group if r.get("status") == "done"]
        summary: dict[str, Any] = {"beta": beta, "runs": len(group), "done": len(ok)}
        for column in columns:
            values = [r.get(column) for r in ok]
            values = [float(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]
            if values:
                sd = statistics.stdev(values) if len(values) > 1 else 0.0
                summary[column] = (statistics.fmean(values), sd)
        out.append(summary)
    return out


def _cell(value: Any) -> str:
    """A markdown cell: 4 decimals, fewer for large numbers; β as written."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.1f}" if abs(value) >= 100 else f"{value:.4f}"
    return str(value)


def _csv_value(value: Any) -> str:
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)


def write_results(sweep_dir: str, rows: Sequence[dict]) -> None:
    """Write ``results.csv`` (one row per run) and ``results.md`` (runs + per-β summary)."""
    columns = table_columns(rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _csv_value(row.get(c)) for c in columns})
    kio.write_text_atomic(os.path.join(sweep_dir, "results.csv"), buffer.getvalue())
    kio.write_text_atomic(os.path.join(sweep_dir, "results.md"), results_markdown(rows, columns))


def results_markdown(rows: Sequence[dict], columns: Sequence[str]) -> str:
    """The study's Table 1 (mean ± sd per β) followed by every run."""
    shown = [c for c in columns if c not in ("beta", "seed", "status", "reason", "epochs")]
    score_cols = [c for c in shown if c not in ("train_seconds", "eval_seconds")]
    lines = [
        "## Summary per β (mean ± sd over finished seeds)",
        "",
        "| β | runs | " + " | ".join(score_cols) + " |",
        "|---|---|" + "---|" * len(score_cols),
    ]
    for summary in summarise(rows, score_cols):
        cells = []
        for column in score_cols:
            if column in summary:
                mean, sd = summary[column]
                cells.append(f"{mean:.4f} ± {sd:.4f}" if summary["done"] > 1 else f"{mean:.4f}")
            else:
                cells.append("—")
        lines.append(
            f"| {summary['beta']:g} | {summary['done']}/{summary['runs']} | "
            + " | ".join(cells)
            + " |"
        )
    lines += ["", "## Runs", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [f"{row['beta']:g}", *(_cell(row.get(c)) for c in columns[1:])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def read_results(sweep_dir: str) -> list[dict]:
    """Rows of ``results.csv`` with numbers parsed back."""
    text = kio.read_text(os.path.join(sweep_dir, "results.csv"))
    rows = []
    for raw in csv.DictReader(io.StringIO(text)):
        row: dict[str, Any] = {}
        for key, value in raw.items():
            if key in ("status", "reason"):
                row[key] = value or None
            elif value in ("", None):
                row[key] = None
            else:
                number = float(value)
                row[key] = int(number) if key in ("seed", "epochs") else number
        rows.append(row)
    return rows


def sweep_run_dirs(sweep_dir: str, plan: SweepPlan | None = None) -> list[tuple[float, int, str]]:
    """(β, seed, run_dir) of every run of the sweep: its plan's grid under ``sweep_dir``, or
    the run directories listed in its ``sweep.json`` (a set merged by ``kbetavae collect``)."""
    if plan is None:
        record = kio.read_json(os.path.join(sweep_dir, PLAN_FILE))
        if RUNS_KEY in record:
            return [(float(r["beta"]), int(r["seed"]), r["run_dir"]) for r in record[RUNS_KEY]]
        plan = SweepPlan.from_dict(record["plan"])
    return [
        (float(b), s, os.path.join(sweep_dir, run_name(b, s)))
        for b in plan.betas
        for s in plan.seeds
    ]
