"""Does a training precision change the study's results? Two sweeps' metrics, side by side.

Usage::

    python -m benchmarks.precision_metrics REFERENCE CANDIDATE OUT_DIR [--labels fp32,bf16]

REFERENCE and CANDIDATE are directories holding a ``results.csv`` (a sweep, or a published
``docs/results``); the comparison uses the βs and seeds the candidate has, and the
reference's runs of those βs and seeds. OUT_DIR receives ``<candidate label>_metrics.md``
(and a copy of the candidate's ``results.csv`` as ``<candidate label>_results.csv``, unless
OUT_DIR is CANDIDATE): per β and column, each side's mean with its Student-t interval, the
candidate-minus-reference difference with Welch's interval and p (Holm-adjusted over the
table), the paired difference over the shared seeds, and whether every candidate value
lies within the range of all the reference's seeds of that β (its seed spread).

Precision changes each run's trajectory (rounding differs from the first step), so a run
and its fp32 twin are not expected to agree; the question is whether the *distribution*
over seeds moves, which is what the Welch difference answers. With three seeds a side its
interval is wide: "no difference found" bounds the shift only by that width.
"""

from __future__ import annotations

import os
import sys

from kbetavae import io as kio
from kbetavae.study.formatting import format_p, format_range, table_head
from kbetavae.study.results import RESULTS_CSV, read_results
from kbetavae.study.statistics import (
    as_number,
    estimate,
    holm,
    paired_difference,
    welch_difference,
)

COLUMNS = (
    "mig",
    "zdiff",
    "modularity",
    "heldout_reconstruction",
    "heldout_kl",
    "active_latents",
)


def _values(rows: list[dict], beta: float, column: str, seeds=None) -> dict[int, float]:
    """Seed → value of the finished runs of ``beta`` (of ``seeds`` only, if given)."""
    found = {}
    for row in rows:
        value = as_number(row.get(column))
        chosen = seeds is None or row["seed"] in seeds
        if row["beta"] == beta and chosen and row.get("status") == "done":
            if value is not None:
                found[row["seed"]] = value
    return found


def comparison_rows(reference: list[dict], candidate: list[dict]) -> list[dict]:
    """One dict per (β, column): both sides' values by seed and the differences."""
    done = [r for r in candidate if r.get("status") == "done"]
    betas = sorted({r["beta"] for r in done})
    table = []
    for beta in betas:
        seeds = sorted({r["seed"] for r in done if r["beta"] == beta})
        for column in COLUMNS:
            ours = _values(candidate, beta, column, seeds)
            theirs = _values(reference, beta, column, seeds)
            if len(ours) < 2 or len(theirs) < 2:
                continue
            shared = sorted(set(ours) & set(theirs))
            table.append(
                {
                    "beta": beta,
                    "column": column,
                    "reference": theirs,
                    "spread": list(_values(reference, beta, column).values()),
                    "candidate": ours,
                    "welch": welch_difference(list(theirs.values()), list(ours.values())),
                    "paired": paired_difference(
                        [theirs[s] for s in shared], [ours[s] for s in shared]
                    )
                    if len(shared) >= 2
                    else None,
                }
            )
    for entry, adjusted in zip(table, holm([e["welch"].p for e in table]), strict=True):
        entry["holm"] = adjusted
    return table


def _inside(entry: dict) -> bool:
    low, high = min(entry["spread"]), max(entry["spread"])
    return all(low <= v <= high for v in entry["candidate"].values())


def markdown(table: list[dict], reference_name: str, candidate_name: str) -> str:
    head = [
        "β",
        "column",
        f"{reference_name} mean [95% t]",
        f"{candidate_name} mean [95% t]",
        "difference, Welch [95%]",
        "Welch p (Holm over the table)",
        "paired difference [95%]",
        f"{candidate_name} values",
        f"{reference_name} range, all seeds",
        "inside",
    ]
    lines = table_head(head)
    for e in table:
        ref, cand = e["reference"], e["candidate"]
        inside = _inside(e)
        paired = e["paired"].text(4) if e["paired"] else "—"
        cells = [
            f"{e['beta']:g}",
            e["column"],
            estimate(list(ref.values())).text(4, sd=False),
            estimate(list(cand.values())).text(4, sd=False),
            e["welch"].text(4),
            f"{format_p(e['welch'].p)} ({format_p(e['holm'])})",
            paired,
            ", ".join(f"{v:.4g}" for v in cand.values()),
            format_range(e["spread"], 4),
            "yes" if inside else "no",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    differ = [e for e in table if e["holm"] < 0.05]
    outside = sum(not _inside(e) for e in table)
    seeds = sorted({s for e in table for s in e["candidate"]})
    summary = (
        f"{len(table)} comparisons (βs × columns) over seeds {', '.join(map(str, seeds))}; "
        f"{len(differ)} differ at Holm-adjusted Welch p < 0.05"
        + (": " + ", ".join(f"β {e['beta']:g} {e['column']}" for e in differ) if differ else "")
        + f"; {outside} have a {candidate_name} value outside the {reference_name} range."
    )
    return "\n".join([summary, "", *lines, ""])


def main(argv: list[str]) -> int:
    labels = ["reference", "candidate"]
    if "--labels" in argv:
        at = argv.index("--labels")
        labels = argv[at + 1].split(",")
        argv = argv[:at] + argv[at + 2 :]
    if len(argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    reference_dir, candidate_dir, out = argv
    reference, candidate = read_results(reference_dir), read_results(candidate_dir)
    table = comparison_rows(reference, candidate)
    if os.path.realpath(out) != os.path.realpath(candidate_dir):  # else it is beside already
        kio.copy_atomic(
            os.path.join(candidate_dir, RESULTS_CSV), os.path.join(out, f"{labels[1]}_results.csv")
        )
    text = markdown(table, *labels)
    kio.write_text_atomic(os.path.join(out, f"{labels[1]}_metrics.md"), text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
