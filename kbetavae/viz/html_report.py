"""``report.html``: one self-contained page with everything a sweep directory holds.

The page embeds every figure as a ``data:`` URI (PNG, animated GIF) and its CSS inline, so
it opens from a laptop, a bucket download or an e-mail attachment with no server and no
network. It is rendered from the Jinja2 template ``templates/report.html.j2`` (autoescaped)
and reads only files: ``sweep.json``, ``results.csv``, each finished run's
``metrics.json`` and ``figures/`` (render those first, :func:`render_sweep_figures`).

Example:
    >>> write_report("runs/study")  # doctest: +SKIP
    'runs/study/report.html'
"""

from __future__ import annotations

import base64
import datetime
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from kbetavae import io as kio
from kbetavae.metrics import registry
from kbetavae.metrics.latent_kl import kl_table
from kbetavae.model import catalog
from kbetavae.model.loss_text import loss_sentence
from kbetavae.model.scale import normalised_beta
from kbetavae.study.findings import read_findings
from kbetavae.study.results import (
    FIGURES_DIR,
    PLAN_FILE,
    REPORT_FILE,
    RUNS_KEY,
    SweepPlan,
    check_has_runs,
    metric_records,
    plan_of_record,
    read_plan_record,
    read_results,
    sweep_run_dirs,
)
from kbetavae.training.rundir import dir_name
from kbetavae.viz.axes import significant
from kbetavae.viz.methods_report import keyed_by_beta, methods_context
from kbetavae.viz.report import KL_FIGURE, LOSS_FIGURES, traversal_gif_name
from kbetavae.viz.summary import summary_rows

TEMPLATE = "report.html.j2"
IMAGE_TYPES = {".png": "image/png", ".gif": "image/gif"}
# Summary columns besides the metrics, in this order, with their headings.
TRAINING_COLUMNS = {
    "active_latents": "active latents",
    "reconstruction": "reconstruction (nats)",
    "kl": "KL (nats)",
}
RUN_COLUMNS = (
    "loss",
    "reconstruction",
    "kl",
    "active_latents",
    "train_seconds",
    "train_cpu_seconds",
    "eval_seconds",
)


def write_report(sweep_dir: str | os.PathLike) -> str:
    """Write ``<sweep_dir>/report.html`` (atomically) and return its path."""
    sweep_dir = os.fspath(sweep_dir)
    path = os.path.join(sweep_dir, REPORT_FILE)
    kio.write_text_atomic(path, render_report(report_context(sweep_dir)))
    return path


def render_report(context: Mapping[str, Any]) -> str:
    """The HTML of the report for ``context`` (from :func:`report_context`)."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("kbetavae.viz", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt field fails, not a blank cell
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["num"] = _number
    return environment.get_template(TEMPLATE).render(**context)


def report_context(sweep_dir: str) -> dict[str, Any]:
    """Everything the template shows, read from the files of ``sweep_dir``."""
    record = read_plan_record(sweep_dir)
    plan = plan_of_record(record, os.path.join(sweep_dir, PLAN_FILE))  # needs "plan"
    rows = read_results(sweep_dir)
    check_has_runs(sweep_dir, rows)
    done = [row for row in rows if row.get("status") == "done"]
    runs = sweep_run_dirs(sweep_dir)
    metric_columns = [c for c in registry.columns() if any(r.get(c) is not None for r in done)]
    columns = {**{c: registry.column_title(c) for c in metric_columns}, **TRAINING_COLUMNS}
    kl = kl_table(
        {beta: [r for _, r in found] for beta, found in metric_records(runs, done).items()}
    )
    figures = os.path.join(sweep_dir, FIGURES_DIR)
    summary = _summary(rows, columns, plan)
    return {
        "name": plan.name or os.path.basename(sweep_dir.rstrip("/")),
        "sweep_dir": sweep_dir,
        "written": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "findings": read_findings(sweep_dir, plan, rows),
        "settings": plan_settings(plan),
        "objective": plan.base.objective,
        "reconstruction": plan.base.reconstruction,
        "versions": record.get("versions", {}),
        "git_revision": record.get("git_revision"),
        "machine": record.get("machine"),
        "sources": record.get("sources", []),
        "merged": RUNS_KEY in record,
        "pixels": plan.base.pixels,
        "loss": loss_sentence(
            plan.base.objective,
            plan.base.objective_args,
            plan.base.reconstruction,
            plan.base.pixels,
        ),
        "columns": columns,
        "summary": summary,
        "seed_counts": sorted({s["done"] for s in summary if s["done"]}),
        "runs": _run_rows(rows, metric_columns),
        "run_columns": [*metric_columns, *RUN_COLUMNS],
        "failed": [r for r in rows if r.get("status") != "done"],
        "kl": {
            "caption": kl.caption,
            "labels": kl.labels,
            "rows": [(beta, list(values)) for beta, values in sorted(kl.values.items())],
        },
        "figures": _figures(figures, runs, done),
        "grid": not keyed_by_beta(rows),
        "methods": methods_context(rows, lambda name: _image(figures, name)),
    }


def plan_settings(plan: SweepPlan) -> list[tuple[str, str]]:
    """The settings table: the plan's own settings, then every training setting of its
    base config but the per-run β and seed, each as (name, value text)."""
    own = plan.to_dict()
    base = own.pop("base")
    rows = [(key, _setting(value)) for key, value in own.items()]
    rows += [(key, _setting(v)) for key, v in base.items() if key not in ("beta", "seed")]
    return rows


def _setting(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "defaults"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "—" if value is None else str(value)


def _summary(rows: Sequence[dict], columns: Mapping[str, str], plan: SweepPlan) -> list[dict]:
    """Per β: its normalised β (on the scale of the plan's reconstruction reduction; None
    for objectives without β), runs finished, and a Stat per column."""
    base = plan.base
    out = []
    beta_sweep = keyed_by_beta(rows)
    for entry in summary_rows(rows, list(columns)):
        normalised = None
        # A β sweep's rows may predate their objective column; a grid's rows name theirs.
        has_beta = (
            base.normalised_beta is not None
            if beta_sweep
            else catalog.facts(entry["objective"]).has_beta
        )
        if has_beta:
            normalised = normalised_beta(
                entry["beta"], base.latent_dim, base.pixels, base.reconstruction
            )
        out.append({**entry, "beta_norm": normalised})
    return out


def _run_rows(rows: Sequence[dict], metric_columns: Sequence[str]) -> list[dict]:
    columns = [*metric_columns, *RUN_COLUMNS]
    return [{**row, "values": [row.get(c) for c in columns]} for row in rows]


def _figures(figures: str, runs, done) -> dict[str, Any]:
    """Each figure of the sweep as a data URI; a missing file is left out (or None)."""
    ok = {(r["beta"], r["seed"]) for r in done}
    betas = sorted({r["beta"] for r in done})

    def per_beta(pattern: str) -> list[tuple[float, str]]:
        found = [(beta, _image(figures, pattern.format(beta=beta))) for beta in betas]
        return [(beta, uri) for beta, uri in found if uri is not None]

    loss = [(key, _image(figures, name)) for key, name in LOSS_FIGURES.items()]
    gifs = []
    for beta, seed, run_dir in runs:
        uri = _image(figures, traversal_gif_name(run_dir))
        if (beta, seed) in ok and uri is not None:
            gifs.append({"beta": beta, "seed": seed, "name": dir_name(run_dir), "uri": uri})
    return {
        "metrics_vs_beta": _image(figures, "metrics_vs_beta.png"),
        "loss": [(key, uri) for key, uri in loss if uri is not None],
        "kl": _image(figures, KL_FIGURE),
        "matrices": per_beta("matrices_beta={beta:g}.png"),
        "traversal_figures": per_beta("traversals_beta={beta:g}.png"),
        "traversal_gifs": gifs,
        "reconstructions": _image(figures, "reconstructions.png"),
    }


def _image(directory: str, name: str) -> str | None:
    """``data:image/...;base64,...`` of a figure file, or None if it does not exist."""
    path = os.path.join(directory, name)
    if not kio.exists(path):
        return None
    mime = IMAGE_TYPES[os.path.splitext(name)[1].lower()]
    return f"data:{mime};base64," + base64.b64encode(kio.read_bytes(path)).decode("ascii")


def _number(value: Any, digits: int = 4) -> str:
    """A table cell: ``digits`` significant digits, large numbers without exponent."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if float(value).is_integer() and abs(value) < 1e6:
        return f"{int(value)}"
    if abs(value) >= 10**digits:
        return f"{value:.0f}"
    return significant(value, digits)
