"""Tables of a published report drawn run by run: what each run's traversals and latents do.

Registered as marked tables by :mod:`kbetavae.study.published`: ``motion`` (every active
latent's measured traversal, ``traversal_motion.csv``), ``axes`` (per run, whether its long
traversal moves follow the image axes, beside its MIG and Z-diff), ``kl`` (every latent's
KL per β from each run's ``metrics.json``), ``convergence`` (the runs whose Z-diff
classifier stopped at its iteration limit) and ``run_times`` (each training group's wall and
CPU time and the CPU it ran on).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from kbetavae import io as kio
from kbetavae.metrics.inputs import ACTIVE_KL_NATS
from kbetavae.metrics.latent_kl import kl_table
from kbetavae.study.formatting import format_fixed, format_p, format_range, table_head
from kbetavae.study.motion import (
    AXIS_TOLERANCE_DEG,
    LONG_MOVE_PX,
    MOTION_CSV,
    along_axis,
    is_long_move,
    read_motion_csv,
)
from kbetavae.study.results import metric_records, read_results, sweep_run_dirs
from kbetavae.study.statistics import rank_sum_p
from kbetavae.training import rundir


def motion_markdown(results_dir: str) -> str:
    """Every active latent's measured traversal (``traversal_motion.csv``): direction of
    the sprite's path in degrees from the x axis (y up), extent, straightness, size change."""
    path = os.path.join(results_dir, MOTION_CSV)
    if not kio.exists(path):
        return f"(no {MOTION_CSV}: run kbetavae motion)\n"
    head = ["β", "seed", "latent", "KL (nats)", "direction (°)", "extent (px)", "straightness"]
    head.append("size change")
    lines = table_head(head)
    for row in read_motion_csv(path):
        if row["active"] == "False":  # empty: no KL recorded, so every latent is listed
            continue
        cells = [row["beta"], row["seed"], f"z{row['latent']}", _fixed(row["kl"], 2)]
        cells += [_fixed(row["angle_deg"], 0), _fixed(row["extent_px"], 1)]
        cells += [_fixed(row["straightness"], 2), _percent(row["size_change"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def kl_markdown(results_dir: str) -> str:
    """Per β, every latent's mean KL as ``kl_per_latent.png`` draws it (``metrics.json``;
    with several seeds each run's latents ranked by KL, then averaged), active ones bold."""
    done = [row for row in read_results(results_dir) if row.get("status") == "done"]
    records = metric_records(sweep_run_dirs(results_dir), done)
    table = kl_table({beta: [record for _, record in found] for beta, found in records.items()})
    if not table.values:
        return "(no finished run records its per-latent KL)\n"
    lines = table_head(["β", *table.labels])
    for beta, values in table.values.items():
        cells = [f"**{v:.2g}**" if v > ACTIVE_KL_NATS else f"{v:.2g}" for v in values]
        lines.append(f"| {beta:g} | " + " | ".join(cells) + " |")
    lines += ["", f"{table.caption}; bold: above {ACTIVE_KL_NATS:g} nats, an active latent's KL."]
    return "\n".join(lines) + "\n"


def convergence_markdown(results_dir: str) -> str:
    """Per β: the runs whose Z-diff classifier stopped at its iteration limit
    (``metrics.json``: ``zdiff.converged``; ``iterations`` and ``max_iter`` where recorded),
    with their Z-diff beside the other runs'."""
    done = [row for row in read_results(results_dir) if row.get("status") == "done"]
    records = metric_records(sweep_run_dirs(results_dir), done)
    head = ["β", "runs", "at the limit", "their Z-diff", "others' Z-diff"]
    lines = table_head(head)
    stopped_all = total = 0
    classifiers = set()
    for beta, found in records.items():
        entries = [(seed, r["zdiff"]) for seed, r in found if "converged" in r.get("zdiff", {})]
        if not entries:
            continue
        stopped = [(s, z) for s, z in entries if not z["converged"]]
        others = [z["score"] for _, z in entries if z["converged"]]
        classifiers |= {_classifier_text(z) for _, z in entries}
        stopped_all, total = stopped_all + len(stopped), total + len(entries)
        seeds = ", ".join(f"seed {s}" + _iterations_text(z) for s, z in stopped) or "none"
        cells = [
            f"{beta:g}",
            str(len(entries)),
            seeds,
            format_range([z["score"] for _, z in stopped]),
        ]
        lines.append("| " + " | ".join(cells + [format_range(others)]) + " |")
    if not total:
        return "(no finished run records whether its Z-diff classifier converged)\n"
    said = f"the classifier ({'; '.join(sorted(classifiers))}) stopped at its iteration limit"
    if stopped_all:
        said += (
            ", short of its optimum; the score is kept as the reference protocol "
            "(scikit-learn's defaults) computes it"
        )
    lines += ["", f"{stopped_all} of {total} runs: {said}."]
    return "\n".join(lines) + "\n"


def _classifier_text(entry: dict) -> str:
    classifier = entry.get("classifier", {})
    parts = [classifier.get("solver", "?"), classifier.get("multi_class", "?")]
    parts.append(f"scikit-learn {classifier.get('sklearn_version', '?')}")
    return ", ".join(parts)


def _iterations_text(entry: dict) -> str:
    if not entry.get("max_iter"):
        return ""
    return f" ({entry['iterations']} of {entry['max_iter']} iterations)"


def axes_markdown(results_dir: str) -> str:
    """Per finished run: its active latents, the directions of its long moves (at least
    :data:`~kbetavae.study.motion.LONG_MOVE_PX`), which image axes they follow (within
    :data:`~kbetavae.study.motion.AXIS_TOLERANCE_DEG`), and its MIG and Z-diff; then the
    MIG of runs with a long move along each axis against the others (Mann–Whitney U)."""
    path = os.path.join(results_dir, MOTION_CSV)
    if not kio.exists(path):
        return f"(no {MOTION_CSV}: run kbetavae motion)\n"
    head = ["β", "seed", "active latents", "long moves: direction (°)", "along axes", "MIG"]
    head.append("Z-diff")
    lines = table_head(head)
    both, others = [], []
    for row, angles, axes in axis_alignment(results_dir):
        if row.get("mig") is not None:
            (both if len(axes) == 2 else others).append(row["mig"])
        cells = [f"{row['beta']:g}", str(row["seed"]), str(row.get("active_latents", "—"))]
        cells.append(", ".join(format_fixed(a, 0) for a in angles) or "—")
        cells.append(" and ".join(axes) or "—")
        cells += ["—" if row.get(m) is None else format_fixed(row[m], 3) for m in ("mig", "zdiff")]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", _axes_contrast(both, others)]
    return "\n".join(lines) + "\n"


def axis_alignment(
    results_dir: str, long_px: float = LONG_MOVE_PX, tolerance: float = AXIS_TOLERANCE_DEG
) -> list[tuple[dict, list[float], list[str]]]:
    """Per finished run with measured traversals (``results.csv`` order): its results row,
    the directions of its long moves (≥ ``long_px``) and the image axes ("x", "y") some
    long move follows within ``tolerance`` degrees."""
    moves: dict[tuple[float, int], list[float]] = {}
    for row in read_motion_csv(os.path.join(results_dir, MOTION_CSV)):
        angles = moves.setdefault((float(row["beta"]), int(row["seed"])), [])
        if is_long_move(row, long_px):
            angles.append(float(row["angle_deg"]))
    runs = []
    for row in read_results(results_dir):
        angles = moves.get((row["beta"], row["seed"]))
        if row.get("status") == "done" and angles is not None:
            runs.append((row, angles, [n for n, on in _axes(angles, tolerance).items() if on]))
    return runs


def _axes(angles: Sequence[float], tolerance: float = AXIS_TOLERANCE_DEG) -> dict[str, bool]:
    """Which image axes some long move follows: x near 0°, y near ±90°."""
    return {
        "x": any(along_axis(a, tolerance) and abs(a) < 45 for a in angles),
        "y": any(along_axis(a, tolerance) and abs(a) > 45 for a in angles),
    }


def _axes_contrast(both: Sequence[float], others: Sequence[float]) -> str:
    criterion = (
        f"a long move (≥ {LONG_MOVE_PX:g} px) within {AXIS_TOLERANCE_DEG:g}° of each image axis"
    )
    if not both or not others:
        return f"Runs with {criterion}: {len(both)} of {len(both) + len(others)}."
    return (
        f"MIG of the {len(both)} runs with {criterion}: {format_range(both)}; "
        f"of the other {len(others)}: {format_range(others)} "
        f"(Mann–Whitney U, two-sided p {format_p(rank_sum_p(both, others))})."
    )


def _fixed(text: str, digits: int) -> str:
    """A ``traversal_motion.csv`` cell (text; empty where nothing was measured)."""
    return "—" if text == "" else format_fixed(float(text), digits)


def _percent(text: str) -> str:
    return "—" if text == "" else f"{float(text):.0%}"


def run_times_markdown(results_dir: str) -> str:
    """Per training group (the runs of one seed that trained together in one fused step, as
    their equal ``done.json`` times say; a lone run is its own group): its runs, wall and
    CPU seconds of training, and the CPU its ``config.json`` records."""
    groups: dict[tuple, list[str]] = {}
    cpus: dict[tuple, set[str]] = {}
    for _, _, run_dir in sweep_run_dirs(results_dir):
        result, config = rundir.read_result(run_dir), rundir.read_config(run_dir)
        if result is None or config is None or result.status != "done":
            continue
        key = (config.seed, result.seconds, result.cpu_seconds)
        groups.setdefault(key, []).append(rundir.setting_name(config))
        machine = rundir.read_machine(run_dir) or {}
        cpus.setdefault(key, set()).add(
            f"{machine.get('cpu', '?')}, {machine.get('cores', '?')} cores"
        )
    if not groups:
        return "(no finished run records its training time)\n"
    lines = table_head(["seed", "trained together", "wall (s)", "CPU (s)", "CPU"])
    for (seed, wall, cpu), settings in sorted(groups.items(), key=_group_order):
        cells = [str(seed), ", ".join(settings)]
        cells += ["—" if t is None else f"{t:,.0f}" for t in (wall, cpu)]
        lines.append("| " + " | ".join(cells + ["; ".join(sorted(cpus[(seed, wall, cpu)]))]) + " |")
    lines += [
        "",
        "Wall: from building the models to their last epoch, summed over resumed legs, so it "
        "includes any time the machine gave to other work; CPU: user + system time of the "
        "training process over the same span (— where the run predates its record).",
    ]
    return "\n".join(lines) + "\n"


def _group_order(item: tuple) -> tuple:
    (seed, _, _), settings = item
    return (seed, settings[0])
