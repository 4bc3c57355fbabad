"""Run every benchmark module (``bench_*.py``) or those named on the command line.

Each module exposes ``run() -> dict`` and prints its own table; results are written to
``.bench/<module>.json`` as they come, and at the end the run is recorded under
``docs/benchmarks/<date>-<CPU kind>/`` (:mod:`benchmarks.records`; ``--no-record`` skips
it, e.g. for a trial on a busy machine). ``python -m benchmarks.records`` then regenerates
the README's speed table from every record.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from pathlib import Path

import benchmarks
from benchmarks.records import write_record
from kbetavae.io import write_json_atomic


def main(argv: list[str]) -> int:
    record = "--no-record" not in argv
    names = [a for a in argv if a != "--no-record"] or sorted(
        m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_")
    )
    out = Path(".bench")
    results = {}
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"== {name}", flush=True)
        results[name] = module.run()
        write_json_atomic(out / f"{name}.json", results[name])
        print(json.dumps(results[name], indent=2), flush=True)
    if record:
        folder = write_record(results, command="python -m benchmarks " + " ".join(argv))
        print(f"recorded in {folder}; README table: python -m benchmarks.records", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
