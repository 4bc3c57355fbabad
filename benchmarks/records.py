"""Benchmark records, one folder per run under docs/benchmarks/, named by date and CPU kind,
and the README's speed table generated from all of them, one column per CPU kind.

A CPU kind is the CPU's model name (as ``lscpu`` shows it) plus the instruction-set flags
that change which kernels TensorFlow runs (AVX2, AVX-512, native bf16 in AVX-512 or AMX):
the same model name ("AMD EPYC") has come as Zen 3 with AVX2 only and as Zen 4 with
avx512_bf16. ``make bench`` writes ``docs/benchmarks/<date>-<kind>/`` with each module's
JSON and ``machine.json``; ``python -m benchmarks.records`` regenerates the README's marked
``speed`` table (:mod:`kbetavae.marked_tables`). Ratios compare two sides timed in turn
within one run; absolute rates are labelled with their CPU kind and date, since they drift
between sessions on the same CPU model.
"""

from __future__ import annotations

import datetime
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from kbetavae import marked_tables
from kbetavae.io import write_json_atomic, write_text_atomic
from kbetavae.provenance import git_revision, machine
from kbetavae.training.precision import cpu_flags

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "docs" / "benchmarks"
README = ROOT / "README.md"
MACHINE_FILE = "machine.json"
# The flags that decide TensorFlow's CPU kernels here, from least to most capable.
FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def cpu_kind(model: str, flags: set[str]) -> str:
    """A folder-name slug for a CPU: its model name and its most capable flag tier.

    Example:
        >>> cpu_kind("AMD EPYC", {"avx2", "avx512f", "avx512_bf16"})
        'amd-epyc-avx512-bf16'
    """
    tier = next(
        (
            tier
            for flag, tier in (
                ("amx_bf16", "amx-bf16"),
                ("avx512_bf16", "avx512-bf16"),
                ("avx512f", "avx512"),
                ("avx2", "avx2"),
            )
            if flag in flags
        ),
        "baseline",
    )
    name = re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-") or "unknown-cpu"
    return f"{name}-{tier}"


def this_machine(cpuinfo: str = "/proc/cpuinfo") -> dict:
    """``{"cpu", "flags", "cores", "kind"}`` of this machine (``cpuinfo`` may be another
    file, for tests): the model name and cores as provenance records them, the flags that
    matter as :mod:`kbetavae.training.precision` reads them."""
    found = machine(cpuinfo)
    flags = cpu_flags(cpuinfo)
    present = [flag for flag in FLAGS if flag in flags]
    return {**found, "flags": present, "kind": cpu_kind(found["cpu"], flags)}


def write_record(results: dict[str, dict], command: str, root: Path = RECORDS) -> Path:
    """Write one run's results as ``root/<UTC date>-<CPU kind>/`` (a second run the same day
    on the same kind gets ``-2``, ``-3``...); return the folder."""
    machine = this_machine()
    stem = f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d}-{machine['kind']}"
    folder, k = root / stem, 1
    while folder.exists():
        k += 1
        folder = root / f"{stem}-{k}"
    for name, result in results.items():
        write_json_atomic(folder / f"{name}.json", result)
    machine.update(command=command, revision=git_revision(ROOT))
    write_json_atomic(folder / MACHINE_FILE, machine)
    return folder


# Benchmark scripts outside `make bench` whose records the table also quotes.
TABLED_SCRIPTS = ("dci_threads",)

# The table's rows: what is compared, and where each record's JSON holds the number.
ROWS: tuple[tuple[str, str, str, Callable[[float], str]], ...] = (
    (
        "7 members in one fused step vs 7 models in turn, batch 32",
        "bench_fused",
        "ratio",
        lambda v: f"{v:.2f}×",
    ),
    (
        "`--jobs 2` (one thread each) vs one fused group of 7",
        "bench_fused",
        "jobs_2.ratio_to_fused",
        lambda v: f"{v:.2f}×",
    ),
    (
        "DCI at the protocol's sizes, one thread per core vs one",
        "dci_threads",
        "median_ratio_one_over_threads",
        lambda v: f"{v:.2f}×",
    ),
    (
        "mixed_bfloat16 vs float32, bare train step, batch 32",
        "bench_model",
        "bf16_ratio",
        lambda v: f"{v:.2f}×",
    ),
    (
        "encoder inference ÷ the same run's fp32 2048² matmul",
        "bench_eval",
        "inference.fast.ratio_to_matmul",
        lambda v: f"{v:.2f}",
    ),
    (
        "`evaluate`, `--eval-points 500`, time vs e31e903",
        "bench_eval",
        "evaluate.ratio_median",
        lambda v: f"{v:.2f}",
    ),
    (
        "`evaluate`, full protocol, time vs e31e903",
        "bench_eval",
        "evaluate_full_protocol.ratio_median",
        lambda v: f"{v:.2f}",
    ),
    (
        "7-β sweep, 1 epoch, 3,200 images, time vs e31e903",
        "bench_sweep",
        "ratio",
        lambda v: f"{v:.2f}",
    ),
    (
        "fused step of 7 members, img/s (absolute)",
        "bench_fused",
        "fused_median",
        lambda v: f"{v:,.1f}",
    ),
    (
        "fp32 2048² matmul, GFLOP/s (absolute)",
        "bench_eval",
        "inference.matmul_gflops",
        lambda v: f"{v:.1f}",
    ),
)


def _lookup(data: dict, dotted: str):
    for key in dotted.split("."):
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _bf16_ratio(model_result: dict) -> float | None:
    """bench_model's mixed_bfloat16 ÷ float32 bare rate at batch 32 without XLA."""
    rates = {
        row["precision"]: row["bare_images_per_s"]
        for row in model_result.get("rows", [])
        if row.get("batch_size") == 32 and not row.get("jit")
    }
    if "float32" in rates and "mixed_bfloat16" in rates:
        return rates["mixed_bfloat16"] / rates["float32"]
    return None


def read_records(root: Path = RECORDS) -> list[dict]:
    """Every record folder with a machine.json, oldest first: ``{"name", "machine",
    "results": {module: json}}``."""
    records = []
    for folder in sorted(p for p in root.iterdir() if (p / MACHINE_FILE).is_file()):
        results = {
            p.stem: json.loads(p.read_text())
            for p in folder.glob("*.json")
            if p.stem.startswith("bench_") or p.stem in TABLED_SCRIPTS
        }
        if "bench_model" in results:
            results["bench_model"]["bf16_ratio"] = _bf16_ratio(results["bench_model"])
        machine = json.loads((folder / MACHINE_FILE).read_text())
        records.append({"name": folder.name, "machine": machine, "results": results})
    return records


def speed_markdown(root: Path = RECORDS) -> str:
    """The speed table: a row per measurement, a column per CPU kind (its newest record that
    has the number; the record's folder is named under the table)."""
    records = read_records(root)
    kinds = list(dict.fromkeys(r["machine"]["kind"] for r in records))
    used: dict[str, set[str]] = {kind: set() for kind in kinds}
    lines = [
        "| measurement | " + " | ".join(f"`{k}`" for k in kinds) + " |",
        "|---|" + "---|" * len(kinds),
    ]
    for title, module, path, show in ROWS:
        cells = []
        for kind in kinds:
            cell = "—"
            for record in reversed(records):
                if record["machine"]["kind"] != kind:
                    continue
                value = _lookup(record["results"].get(module, {}), path)
                if isinstance(value, int | float):
                    cell = show(value)
                    used[kind].add(record["name"])
                    break
            cells.append(cell)
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    sources = "; ".join(
        f"`{kind}`: " + ", ".join(f"[{n}](docs/benchmarks/{n}/)" for n in sorted(used[kind]))
        for kind in kinds
        if used[kind]
    )
    return "\n".join(lines) + f"\n\nFrom {sources}.\n"


def tables(root: Path = RECORDS) -> dict[str, Callable[[], str]]:
    """The README's generated tables that this module owns."""
    return {"speed": lambda: speed_markdown(root)}


def update_readme(path: Path = README, root: Path = RECORDS) -> None:
    """Regenerate the README's marked speed table."""
    write_text_atomic(str(path), marked_tables.render(path.read_text(), tables(root)))


if __name__ == "__main__":
    update_readme()
    print(f"regenerated the speed table of {README}", file=sys.stderr)
