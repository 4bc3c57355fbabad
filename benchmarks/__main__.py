"""Run every benchmark module (``bench_*.py``) or those named on the command line.

Each module exposes ``run() -> dict`` and prints its own table; results are also written
to ``.bench/<module>.json`` so a closing note can quote one run's numbers.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from pathlib import Path

import benchmarks
from kbetavae.io import write_json_atomic


def main(argv: list[str]) -> int:
    names = argv or sorted(
        m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_")
    )
    out = Path(".bench")
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"== {name}", flush=True)
        result = module.run()
        write_json_atomic(out / f"{name}.json", result)
        print(json.dumps(result, indent=2), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
