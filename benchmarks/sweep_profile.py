"""Where a small sweep's time goes: imports, training, evaluation (encoding, classifier fits,
the rest), held-out ELBO, export, figures and report.

Issue 21 asked for the 7-β small sweep (1 epoch, 3,200 images, ``--eval-points 500``,
``bench_sweep``'s arguments) at <= 0.5× e31e903's time, and where that is out of reach for
the profile that shows what is left. This runs that sweep once in this process under
``cProfile`` and reports each phase's cumulative seconds (the time inside the named
functions, callees included) and share of the whole; imports are timed apart in a fresh
process (``import cli.main`` with everything a sweep imports). Tracing is TensorFlow's
``tf.function`` tracing wherever it happens, so it overlaps the phases it happens in.
cProfile slows Python-heavy code, not TensorFlow's kernels: read shares, not the seconds.

    .venv/bin/python -m benchmarks.sweep_profile
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time

from benchmarks.bench_sweep import ARGS
from kbetavae.provenance import machine

# phase -> (file path fragment, function name) whose cumulative time is the phase's.
PHASES: dict[str, tuple[tuple[str, str], ...]] = {
    "training (fused group)": (("kbetavae/training/fused.py", "train_group"),),
    "evaluation, all": (("kbetavae/study/evaluation.py", "evaluate_encoders"),),
    "  encoding (code table)": (("kbetavae/metrics/representation.py", "_encode_index_many"),),
    "  classifier fits (sklearn fit)": (
        ("sklearn/linear_model/_logistic.py", "fit"),
        ("sklearn/ensemble/_gb.py", "fit"),
    ),
    "  held-out ELBO": (("kbetavae/metrics/heldout.py", "heldout_elbo"),),
    "  choosing the encoder formulation": (("kbetavae/trained/encoder_choice.py", "fastest"),),
    "SavedModel export": (("kbetavae/trained/export.py", "export_saved_model"),),
    "figures and report": (("kbetavae/study/report.py", "build_report"),),
    "tf.function tracing (anywhere)": (
        ("tensorflow/python/eager/polymorphic_function/tracing_compilation.py", "trace_function"),
    ),
}

_IMPORTS = (
    "import time; t = time.perf_counter(); import cli.main, kbetavae.study.sweep, "
    "kbetavae.training.fused, kbetavae.metrics.evaluate, kbetavae.study.report, "
    "sklearn.linear_model; "
    "print(time.perf_counter() - t)"
)


def import_seconds() -> float:
    """Seconds a fresh process takes to import what a sweep imports."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-c", _IMPORTS], env=env, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def phase_seconds(stats: pstats.Stats) -> dict[str, float]:
    """Cumulative seconds of each phase's functions in ``stats``."""
    totals = dict.fromkeys(PHASES, 0.0)
    for (path, _, function), (_, _, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        for phase, targets in PHASES.items():
            if any(fragment in path and function == name for fragment, name in targets):
                totals[phase] += cumulative
    return totals


def run() -> dict:
    from cli.main import app

    imports = import_seconds()
    with tempfile.TemporaryDirectory() as directory:
        args = ["sweep", *ARGS, "--out", f"{directory}/runs"]
        args += ["--saved-models", f"{directory}/saved", "--quiet"]
        profile = cProfile.Profile()
        start = time.perf_counter()
        profile.enable()
        try:
            app(args, standalone_mode=False)
        finally:
            profile.disable()
        total = time.perf_counter() - start
    phases = phase_seconds(pstats.Stats(profile))
    return {
        **machine(),
        "sweep": " ".join(ARGS),
        "imports_seconds_fresh_process": round(imports, 1),
        "sweep_seconds_in_process_profiled": round(total, 1),
        "phases": {
            name: {"seconds": round(s, 1), "share": round(s / total, 3)}
            for name, s in phases.items()
        },
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
