"""Faults injected on purpose into a tiny sweep: kill it, Ctrl-C it, fill its disk, damage
its files, run it twice at once — and nothing is lost or changed.

The sweep: 3 βs × 2 seeds, 256 images, 2 epochs, MIG and Modularity on 100 points
(``SWEEP``), run as a user runs it (``python -m cli.main`` in a subprocess, relative
paths, so the resume line names the same command). A module fixture runs it once
uninterrupted: the reference.

- **The chain** (``test_killed_interrupted_and_disk_full_...``): one sweep directory
  taken through rounds until it completes. Each round is one fault:
  SIGKILL at a named point (``KBETAVAE_FAULT=kill:<point>:<n>``, :mod:`kbetavae.faults`:
  backup weights, between backup weights and marker, history row, model, done.json,
  mid-evaluation, metrics.json, mid-export, results.csv, figures, GIFs, report.html);
  SIGKILL or SIGINT from outside after a random delay (seeded) drawn from the reference's
  wall time after its first line; or ``OSError(ENOSPC)`` at the atomic writer for a
  backup, a model, results.csv and report.html. After every round each run directory
  passes :func:`kbetavae.training.rundir.check_run` (a kill never leaves a damaged file).
  Expected per round: SIGKILL — nothing said; SIGINT — exit 130 and the resume line;
  ENOSPC — exit 1, one line naming the file, every earlier file of that name unchanged and
  no temporary file beside it. Anomalies are collected with the stage the child was in
  and reported together. Then clean reruns until exit 0, and the result is compared with
  the reference.
- **Damaged files** (:func:`test_damaged_files_are_named_with_their_repair`): truncated
  history.csv, metrics.json, done.json, sweep.json, an empty config.json, a missing
  model.keras; ``sweep``, ``evaluate``, ``report`` and ``publish`` each exit 2 with one
  line naming the file and its repair (``--redo <run>``) and change no file — except
  that without a model ``report`` and ``publish`` work (they read records, never the
  model) and ``evaluate`` says the model is gone and how to get it back; then
  ``sweep --redo`` repairs the run, equal to the reference.
- **Two sweeps and reports at once** (``test_two_sweeps_and_reports_at_once_...``):
  every fused group trains each epoch once across both sweeps, both finish, results equal
  the reference, and the last report.html lists exactly results.csv's runs.

Training is deterministic on one CPU (two uninterrupted sweeps wrote identical history.csv,
weights, figures and GIFs), so results are compared **bitwise** where the bytes are the
model's: history.csv; every weight array in model.keras (not the HDF5 file's bytes, which
differ between two processes that saved equal weights); the
exported SavedModel's ``encode`` and ``decode`` outputs on fixed inputs (its files hold
object ids); every figure PNG and traversal GIF; the figures embedded in report.html. Files
that also hold a clock are compared **as JSON/CSV without their clock fields**, the rest
bitwise: done.json without ``seconds``, ``cpu_seconds`` and ``finished_at``; metrics.json
without ``timing``; config.json and sweep.json whole; results.csv without
``train_seconds``, ``train_cpu_seconds`` and ``eval_seconds`` (wall and CPU times, which no
resume can reproduce); report.html by its run rows
and embedded figures (its text holds the time it was written and the timings). A
``.tmp-*`` file that a kill left in a run directory must be gone (the sweep that claims
the run removes it); elsewhere (figures, the sweep's tables) it is counted and printed.

``KBETAVAE_FAULTS=long`` (``make faults``) runs a longer chain: more random kills and
Ctrl-Cs, and a second chain of random moments only; the default (in ``make test``) keeps
the named faults and a few random ones. The census of
each run is printed (``pytest -s`` shows it).
"""

from __future__ import annotations

import base64
import csv
import fnmatch
import hashlib
import io
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app

from .terminal import sigint_as_from_a_terminal

KBETAVAE = [sys.executable, "-m", "cli.main"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
ENV.pop("KBETAVAE_FAULT", None)
SWEEP = [
    *("sweep", "--out", "runs", "--saved-models", "sm", "--name", "t"),
    *("--betas", "1,4,10", "--seeds", "0,1", "--epochs", "2", "--subset", "256"),
    *("--batch-size", "32", "--eval-points", "100", "--metrics", "mig,modularity"),
    *("--traverse-beta", "4", "--quiet"),
]
RUNS = [f"beta={b}_seed={s}" for b in (1, 4, 10) for s in (0, 1)]
LONG = os.environ.get("KBETAVAE_FAULTS") == "long"
pytestmark = pytest.mark.slow
# The chain of named faults, with random kills and Ctrl-Cs among its later rounds; in the
# long mode a second chain (test_random_...) kills a fresh sweep at random moments only.
RANDOM_KILLS = 8 if LONG else 3
RANDOM_INTERRUPTS = 3 if LONG else 2
MIN_KILLS = 20 if LONG else 15
RANDOM_CHAIN_KILLS = 24
RANDOM_CHAIN_INTERRUPTS = 8
# Named kill points, in the order the sweep reaches them (kbetavae.faults lists them).
NAMED_KILLS = [
    "write/epoch-*.weights.h5:1",
    "backup-write:1",
    "write/history.csv:2",
    "write/model.keras:2",
    "write/done.json:1",
    "evaluate:1",
    "write/metrics.json:1",
    "export:1",
    "write/results.csv:1",
    "write/*.png:3",
    "write/*.gif:2",
    "write/report.html:1",
]
DISK_FULL = ["write/epoch-*.weights.h5", "write/model.keras", "write/results.csv"]
DISK_FULL_LATE = ["write/report.html"]
RESUME = "kbetavae " + " ".join(SWEEP)
NO_SPACE = re.compile(
    r"kbetavae: error: no space left on device writing (\S+): free some space and rerun "
    r"the same command \(finished work is kept\)"
)


# -- running the CLI -------------------------------------------------------------------------


@dataclass
class Round:
    """One run of the sweep command and what happened to it."""

    fault: str
    returncode: int = 0
    stderr: str = ""
    stage: str = "startup"
    first_line_at: float | None = None
    ended_at: float = 0.0


def stage_of(lines: list[str]) -> str:
    """Where a sweep was, from its last progress line (cli.progress, piped)."""
    for line in reversed(lines):
        for marker, stage in (
            ("writing report.html", "report"),
            ("rendering figures", "figures"),
            ("exporting SavedModel", "export"),
            ("evaluating", "evaluation"),
            (": epoch ", "training"),
            (": training", "training"),
            (": done —", "between runs"),
            (": already ", "skipping finished runs"),
        ):
            if marker in line:
                return stage
    return "startup"


def run_round(cwd: Path, fault: str = "", signal_after: float | None = None, sig=None) -> Round:
    """Run the sweep in ``cwd``; with ``signal_after``, send ``sig`` that many seconds after
    its first line (its imports are done then: the sweep is working)."""
    env = dict(ENV, **({"KBETAVAE_FAULT": fault} if ":" in fault else {}))
    started = time.monotonic()
    child = subprocess.Popen(
        [*KBETAVAE, *SWEEP],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
        preexec_fn=sigint_as_from_a_terminal,
    )
    result = Round(fault or "none")
    lines: list[str] = []
    first = threading.Event()

    def read() -> None:
        for line in child.stderr:
            lines.append(line.rstrip("\n"))
            if not first.is_set():
                result.first_line_at = time.monotonic() - started
                first.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if signal_after is not None and first.wait(600):
        deadline = time.monotonic() + signal_after
        while child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if child.poll() is None:
            result.stage = stage_of(lines)
            child.send_signal(sig)
    result.returncode = child.wait(timeout=900)
    reader.join(60)
    result.ended_at = time.monotonic() - started
    result.stderr = "\n".join(lines)
    if result.stage == "startup":
        result.stage = stage_of(lines)
    return result


def children_cpu() -> float:
    """CPU seconds of this process's finished children: the work, whatever the load."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, Round]:
    cwd = tmp_path_factory.mktemp("reference")
    done = run_round(cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    return cwd, done


# -- comparing two sweeps --------------------------------------------------------------------

CLOCKS = {"done.json": ("seconds", "cpu_seconds", "finished_at"), "metrics.json": ("timing",)}
TIMINGS = ("train_seconds", "train_cpu_seconds", "eval_seconds")


def _json_without(path: Path, keys) -> dict:
    record = json.loads(path.read_text())
    return {k: v for k, v in record.items() if k not in keys}


def _results(path: Path) -> list[dict]:
    return [
        {k: v for k, v in row.items() if k not in TIMINGS}
        for row in csv.DictReader(io.StringIO(path.read_text()))
    ]


def _report(path: Path) -> tuple[list, list]:
    """(run rows as (β, seed, failed), digests of the embedded figures) of report.html."""
    html = path.read_text()
    rows = re.findall(r'<tr data-beta="([^"]+)" data-seed="(\d+)"( class="failed")?>', html)
    images = re.findall(r'<img src="data:image/[a-z]+;base64,([^"]+)"', html)
    return rows, [hashlib.sha256(base64.b64decode(i)).hexdigest() for i in images]


def saved_model_outputs(root: Path) -> dict[str, list[np.ndarray]]:
    """Each exported run's encode (μ, log σ²) and decode outputs on fixed inputs."""
    import tensorflow as tf

    images = tf.constant(np.random.default_rng(0).integers(0, 2, (4, 64, 64, 1)), tf.float32)
    codes = tf.constant(np.random.default_rng(1).normal(size=(4, 10)), tf.float32)
    outputs = {}
    for run in RUNS:
        model = tf.saved_model.load(str(root / "sm" / "t" / run / "1"))
        encoded = model.signatures["encode"](images=images)
        decoded = model.signatures["decode"](z=codes)
        outputs[run] = [encoded["mu"].numpy(), encoded["logvar"].numpy(), decoded["probs"].numpy()]
    return outputs


def _close(left, right, rel: float, abs_: float = 0.0) -> bool:
    """Nested JSON-like values equal, numbers within ``rel`` (relative) or ``abs_``."""
    if isinstance(left, np.ndarray) and isinstance(right, np.ndarray):
        return left.shape == right.shape and np.allclose(
            left, right, rtol=rel, atol=abs_, equal_nan=True
        )
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(
            _close(left[k], right[k], rel, abs_) for k in left
        )
    if isinstance(left, list | tuple | np.ndarray) and isinstance(right, list | tuple | np.ndarray):
        return len(left) == len(right) and all(
            _close(x, y, rel, abs_) for x, y in zip(left, right, strict=True)
        )
    if isinstance(left, int | float) and isinstance(right, int | float):
        return bool(np.isclose(left, right, rtol=rel, atol=abs_, equal_nan=True))
    return left == right


def _history(path: Path) -> list[dict]:
    return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(path.open())]


def _weight_arrays(path: Path) -> dict[str, np.ndarray]:
    """The weights in a .keras file by their path in it."""
    import h5py

    arrays = {}
    with (
        zipfile.ZipFile(path) as archive,
        h5py.File(io.BytesIO(archive.read("model.weights.h5"))) as h5,
    ):
        h5.visititems(
            lambda name, item: (
                arrays.__setitem__(name, item[()]) if hasattr(item, "shape") else None
            )
        )
    return arrays


def _results_numbers(path: Path) -> list[dict]:
    return [
        {k: (float(v) if re.fullmatch(r"[-+0-9.eE]+|nan", v) else v) for k, v in row.items()}
        for row in _results(path)
    ]


def differences(
    ours: Path, theirs: Path, exports: bool = True, retrained: frozenset = frozenset()
) -> list[str]:
    """What differs between two sweeps' outputs, compared as the module docstring says.

    ``retrained`` runs were trained alone where the reference trained them in a fused
    group: equal within tolerance, not bitwise (tests/training/test_fused.py: 1e-5), and
    the figures and report, which draw them, are not compared.
    """
    a, b = ours / "runs" / "t", theirs / "runs" / "t"
    found = []

    def check(name: str, left, right, tolerance: tuple[float, float] | None = None) -> None:
        same = _close(left, right, *tolerance) if tolerance else left == right
        if not same:
            found.append(name)

    for run in RUNS:
        near = run in retrained
        x, y = a / run, b / run
        check(
            f"{run}/config.json", (x / "config.json").read_bytes(), (y / "config.json").read_bytes()
        )
        names = {p.name for p in y.iterdir() if not p.name.startswith(".")}
        check(f"{run}/ files", {p.name for p in x.iterdir() if not p.name.startswith(".")}, names)
        if not near:
            check(
                f"{run}/history.csv",
                (x / "history.csv").read_bytes(),
                (y / "history.csv").read_bytes(),
            )
            for file, keys in CLOCKS.items():
                check(f"{run}/{file}", _json_without(x / file, keys), _json_without(y / file, keys))
            weights = [_weight_arrays(d / "model.keras") for d in (x, y)]
            check(f"{run}/model.keras weights", *weights, (0.0, 0.0))  # exactly equal values
            continue
        check(
            f"{run}/history.csv",
            _history(x / "history.csv"),
            _history(y / "history.csv"),
            (1e-4, 0),
        )
        done = [_json_without(d / "done.json", CLOCKS["done.json"]) for d in (x, y)]
        check(f"{run}/done.json", *done, (1e-4, 0))
        metrics = [_json_without(d / "metrics.json", CLOCKS["metrics.json"]) for d in (x, y)]
        check(f"{run}/metrics.json", *metrics, (1e-3, 0.02))  # binned MI: a code may cross a bin
        weights = [_weight_arrays(d / "model.keras") for d in (x, y)]
        check(f"{run}/model.keras weights", *weights, (1e-3, 1e-5))
    check("sweep.json", (a / "sweep.json").read_bytes(), (b / "sweep.json").read_bytes())
    if retrained:
        check(
            "results.csv",
            _results_numbers(a / "results.csv"),
            _results_numbers(b / "results.csv"),
            (1e-3, 0.02),
        )
    else:
        check("results.csv", _results(a / "results.csv"), _results(b / "results.csv"))
        figures, ours_figures = (
            # A kill's leftover .tmp-* file is counted by the chain, not compared here.
            sorted(p.relative_to(d) for p in (d / "figures").rglob("[!.]*") if p.is_file())
            for d in (b, a)
        )
        check("figures/ files", ours_figures, figures)
        for figure in figures:
            if (a / figure).is_file():
                check(str(figure), (a / figure).read_bytes(), (b / figure).read_bytes())
        check("report.html", _report(a / "report.html"), _report(b / "report.html"))
    if exports:
        left, right = saved_model_outputs(ours), saved_model_outputs(theirs)
        for run in RUNS:
            tolerance = (1e-3, 1e-5) if run in retrained else None
            check(f"sm/t/{run} outputs", left[run], right[run], tolerance or (0.0, 0.0))
    return found


# -- the chain: killed, interrupted, disk full, resumed --------------------------------------


@dataclass
class Census:
    """What each fault did: counts by (kind, outcome) and the stage each landed in."""

    outcomes: dict[tuple[str, str], int] = field(default_factory=dict)
    stages: dict[str, list[str]] = field(default_factory=dict)
    anomalies: list[str] = field(default_factory=list)

    def add(self, kind: str, outcome: str, stage: str | None = None) -> None:
        self.outcomes[kind, outcome] = self.outcomes.get((kind, outcome), 0) + 1
        if stage is not None:
            self.stages.setdefault(kind, []).append(stage)

    def count(self, kind: str, outcome: str) -> int:
        return self.outcomes.get((kind, outcome), 0)

    def text(self) -> str:
        lines = [f"{kind}: {outcome} x{n}" for (kind, outcome), n in sorted(self.outcomes.items())]
        for kind, stages in sorted(self.stages.items()):
            counts = {s: stages.count(s) for s in dict.fromkeys(stages)}
            lines.append(f"{kind} landed in: " + ", ".join(f"{s} {n}" for s, n in counts.items()))
        return "\n".join(lines)


def schedule(rng: random.Random) -> list[tuple[str, str]]:
    """The chain's rounds as (kind, fault): the faults of training first (they need a run
    still training), then random kills and Ctrl-Cs shuffled among the later named points."""
    training = [
        ("kill", NAMED_KILLS[0]),
        ("Ctrl-C", "backup-write:1"),  # inside deferred_interrupt: delivered after the write
        ("kill", NAMED_KILLS[1]),
        ("enospc", DISK_FULL[0]),
        ("kill", NAMED_KILLS[2]),
        ("kill", NAMED_KILLS[3]),
        ("enospc", DISK_FULL[1]),
        ("kill", NAMED_KILLS[4]),
    ]
    if LONG:
        # Between two members' done.json the rest of a fused group is a new group that
        # retrains from epoch 0 (the group's backup no longer fits it).
        training.append(("kill", "write/done.json:2"))
    # Points every run passes (evaluation, export) while some run still has them to do.
    training += [("kill", point) for point in NAMED_KILLS[5:8]]
    training += [("Ctrl-C", "evaluate:2")] if LONG else []
    # Points every rerun passes (the table, figures, report), random moments among them.
    later = [("kill", point) for point in NAMED_KILLS[8:]]
    later += [("Ctrl-C", "write/*.png:2")] if LONG else []
    later.insert(later.index(("kill", "write/results.csv:1")) + 1, ("enospc", DISK_FULL[2]))
    randoms = [("random kill", "")] * RANDOM_KILLS + [("random Ctrl-C", "")] * RANDOM_INTERRUPTS
    for item in randoms:
        later.insert(rng.randrange(len(later) + 1), item)
    return training + later + [("enospc", point) for point in DISK_FULL_LATE]


def check_every_run_is_whole(cwd: Path) -> None:
    from kbetavae.training.rundir import check_run

    for run in RUNS:
        check_run(str(cwd / "runs" / "t" / run))  # DamagedFile if a kill left half a file
    results = cwd / "runs" / "t" / "results.csv"
    if results.exists():
        assert results.read_text().endswith("\n")


def files_named(cwd: Path, pattern: str) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in cwd.rglob(pattern) if p.is_file()}


def disk_full_round(cwd: Path, point: str, census: Census) -> None:
    name = point.removeprefix("write/")
    before = files_named(cwd, name)
    temporaries = set(cwd.rglob(".tmp-*"))  # earlier kills may have left some
    done = run_round(cwd, f"enospc:{point}")
    last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    match = NO_SPACE.fullmatch(last)
    if done.returncode == 0:
        census.add("disk full", "not reached")
        return
    if done.returncode != 1 or not match or "Traceback" in done.stderr:
        census.anomalies.append(f"disk full at {point}: exit {done.returncode}, {last!r}")
        return
    path = cwd / match.group(1)
    after = files_named(cwd, name)
    changed = [str(p) for p, data in before.items() if after.get(p) != data]
    left = [str(p) for p in set(path.parent.glob(".tmp-*")) - temporaries]
    if not fnmatch.fnmatch(path.name, name) or changed or left:
        census.anomalies.append(
            f"disk full at {point}: named {path}; changed {changed}; temporary files {left}"
        )
        return
    census.add("disk full", f"one line naming {name}, earlier files intact", done.stage)


def signal_round(
    cwd: Path, kind: str, census: Census, after: float = 0.0, fault: str = ""
) -> Round:
    """A random kill or Ctrl-C ``after`` seconds into the sweep, or a Ctrl-C at ``fault``."""
    sig = signal.SIGKILL if kind == "random kill" else signal.SIGINT
    if fault:
        done = run_round(cwd, f"interrupt:{fault}")
    else:
        done = run_round(cwd, signal_after=after, sig=sig)
    moment = fault or f"{after:.2f} s after the first line"
    if done.returncode == 0:
        census.add(kind, f"not reached ({fault})" if fault else "finished before the moment")
        return done
    if sig == signal.SIGKILL and done.returncode == -signal.SIGKILL:
        census.add(kind, "killed", done.stage)
        return done
    last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    resume = last.startswith("kbetavae: interrupted; ") and last.endswith(RESUME)
    if sig == signal.SIGINT and done.returncode == 130 and resume:
        if "Traceback" not in done.stderr:
            census.add(kind, "exit 130 with the resume line", fault or done.stage)
            return done
    census.anomalies.append(
        f"{kind} at {moment}, in {done.stage}: exit {done.returncode}, last line {last!r}"
    )
    return done


def finish_chain(cwd: Path, census: Census, started: float, cpu: float) -> None:
    """Rerun until the sweep completes, print the census, and check what the kills left:
    no anomaly, no temporary file in a run directory."""
    for _ in range(3):
        final = run_round(cwd)
        if final.returncode == 0:
            break
        census.anomalies.append(f"clean rerun: exit {final.returncode}: {final.stderr[-500:]}")
    leftovers = [str(p.relative_to(cwd)) for p in cwd.rglob(".tmp-*")]
    in_runs = [p for p in leftovers if any(f"/{run}/" in p for run in RUNS)]
    backups = cwd / "runs" / "t" / ".fused-backup"
    stale = sorted(p.name for p in backups.iterdir()) if backups.exists() else []
    wall, cpu = time.monotonic() - started, children_cpu() - cpu
    print(f"\nfault census ({wall:.0f} s wall, {cpu:.0f} s CPU of the sweeps):\n{census.text()}")
    print(f"temporary files left by kills outside run directories: {leftovers}")
    print(f"fused-group backups left behind: {stale}")
    assert not census.anomalies, "\n".join(census.anomalies) + "\n" + census.text()
    assert in_runs == []  # removed by the sweep that claims the run


@pytest.mark.skipif(not LONG, reason="long mode only (make faults)")
def test_random_kills_and_ctrl_c_of_a_fresh_sweep_end_equal_to_the_uninterrupted_one(
    reference, tmp_path
):
    """Kills and Ctrl-Cs at random moments only, from the first round on, so that they land
    in every stage (training and its backups, evaluation, export, figures, report)."""
    ref_dir, ref = reference
    horizon = ref.ended_at - (ref.first_line_at or 0.0)
    rng = random.Random(21)
    kinds = ["random kill"] * RANDOM_CHAIN_KILLS + ["random Ctrl-C"] * RANDOM_CHAIN_INTERRUPTS
    rng.shuffle(kinds)
    census = Census()
    started, cpu = time.monotonic(), children_cpu()
    for kind in kinds:
        done = signal_round(tmp_path, kind, census, after=rng.uniform(0.0, horizon))
        if done.returncode == 0:
            horizon = done.ended_at - (done.first_line_at or 0.0)
        check_every_run_is_whole(tmp_path)
    finish_chain(tmp_path, census, started, cpu)
    assert census.count("random kill", "killed") >= MIN_KILLS, census.text()
    assert census.count("random Ctrl-C", "exit 130 with the resume line"), census.text()
    assert differences(tmp_path, ref_dir) == []


def test_killed_interrupted_and_disk_full_sweep_ends_equal_to_the_uninterrupted_one(
    reference, tmp_path
):
    ref_dir, ref = reference
    # Random moments: seconds after the child's first line, within the working time (after
    # its first line) of the last sweep that finished: the reference's at first, then the
    # length of a rerun with less left to do, so later moments still land in the work.
    horizon = ref.ended_at - (ref.first_line_at or 0.0)
    rng = random.Random(20)
    census = Census()
    started, cpu = time.monotonic(), children_cpu()
    rounds = schedule(rng)
    while (
        rounds
        or census.count("random kill", "killed") + census.count("named kill", "killed") < MIN_KILLS
    ):
        kind, fault = rounds.pop(0) if rounds else ("random kill", "")
        if kind == "kill":
            done = run_round(tmp_path, f"kill:{fault}")
            if done.returncode == -signal.SIGKILL:
                census.add("named kill", "killed", fault)
            elif done.returncode == 0:
                census.add("named kill", f"not reached ({fault})")
            else:
                census.anomalies.append(f"kill at {fault}: exit {done.returncode}")
        elif kind == "enospc":
            disk_full_round(tmp_path, fault, census)
        elif kind == "Ctrl-C":
            signal_round(tmp_path, "named Ctrl-C", census, fault=fault)
        else:
            done = signal_round(tmp_path, kind, census, after=rng.uniform(0.0, horizon))
            if done.returncode == 0:
                horizon = done.ended_at - (done.first_line_at or 0.0)
        check_every_run_is_whole(tmp_path)
        assert time.monotonic() - started < 3600, census.text()
    finish_chain(tmp_path, census, started, cpu)
    kills = census.count("random kill", "killed") + census.count("named kill", "killed")
    interrupted = census.count("random Ctrl-C", "exit 130 with the resume line")
    assert kills >= MIN_KILLS and interrupted, census.text()
    # Every named fault fired where it was meant to (the schedule orders them so).
    missed = [k for k in census.outcomes if k[0] != "random kill" and "not reached" in k[1]]
    assert missed == [], census.text()
    assert differences(tmp_path, ref_dir) == []


# -- damaged files ---------------------------------------------------------------------------

DAMAGED_RUN = "beta=4_seed=1"
# (file under the sweep directory, how it is damaged)
DAMAGES = [
    (f"{DAMAGED_RUN}/history.csv", "cut"),
    (f"{DAMAGED_RUN}/metrics.json", "cut"),
    (f"{DAMAGED_RUN}/config.json", "emptied"),
    (f"{DAMAGED_RUN}/done.json", "cut"),
    (f"{DAMAGED_RUN}/model.keras", "deleted"),
    ("sweep.json", "cut"),
]


def damage(path: Path, how: str) -> None:
    if how == "deleted":
        path.unlink()
    elif how == "emptied":
        path.write_bytes(b"")
    else:  # cut in the middle, as a non-atomic writer killed mid-write leaves it
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_damaged_files_are_named_with_their_repair(reference, tmp_path):
    ref_dir, _ = reference
    for part in ("runs", "sm"):
        shutil.copytree(ref_dir / part, tmp_path / part)
    sweep_dir = tmp_path / "runs" / "t"
    sweep = [*SWEEP, "--out", str(tmp_path / "runs"), "--saved-models", str(tmp_path / "sm")]
    commands = {
        "sweep": sweep,
        "evaluate": ["evaluate", str(sweep_dir / DAMAGED_RUN), "--eval-points", "100"],
        "report": ["report", str(sweep_dir)],
        "publish": ["publish", str(sweep_dir), str(tmp_path / "published")],
    }
    failures = []
    for file, how in DAMAGES:
        path = sweep_dir / file
        good = path.read_bytes()
        damage(path, how)
        before = snapshot(tmp_path)
        for name, args in commands.items():
            if file == "sweep.json" and name == "evaluate":
                continue  # evaluating one run does not read its sweep's plan
            result = CliRunner().invoke(app, args)
            lines = result.output.strip().splitlines()
            if how == "deleted" and name in ("report", "publish"):
                # They read a run's records, never its model (published runs keep none).
                if result.exit_code != 0:
                    failures.append(f"{name} without {file}: exit {result.exit_code}: {lines}")
                continue
            if how == "deleted" and name == "evaluate":
                gone = f"kbetavae: error: {path.parent} is a finished run (done.json) whose "
                if not (result.exit_code == 2 and len(lines) == 1 and lines[0].startswith(gone)):
                    failures.append(f"evaluate without {file}: exit {result.exit_code}: {lines}")
                if snapshot(tmp_path) != before:
                    failures.append(f"evaluate without {file} changed files")
                continue
            said = f"kbetavae: error: {path} is damaged ("
            if file.endswith("metrics.json"):
                repair = "delete it and rerun the same `kbetavae sweep` command"
            elif file == "sweep.json":
                repair = ""
            else:
                repair = f"rerun the same `kbetavae sweep` command with --redo {DAMAGED_RUN}"
            if not (
                result.exit_code == 2
                and len(lines) == 1
                and lines[0].startswith(said)
                and repair in lines[0]
            ):
                failures.append(f"{name} with {file} {how}: exit {result.exit_code}: {lines}")
            if snapshot(tmp_path) != before:
                failures.append(f"{name} with {file} {how} changed files")
        path.write_bytes(good)
    assert not failures, "\n".join(failures)

    # The documented repair: retrain the damaged run; the others stay as they were.
    damage(sweep_dir / DAMAGED_RUN / "history.csv", "cut")
    others = {k: v for k, v in snapshot(tmp_path).items() if DAMAGED_RUN not in k}
    repaired = subprocess.run(
        [*KBETAVAE, *SWEEP, "--redo", DAMAGED_RUN],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=tmp_path,
        timeout=900,
    )
    assert repaired.returncode == 0, repaired.stderr[-3000:]
    assert f"[4/6] {DAMAGED_RUN}: training" in repaired.stderr
    after = snapshot(tmp_path)
    # Other runs' files and exports, and the plan (a claim's lock file names its last holder).
    kept = [k for k in others if ("/beta=" in k or k == "runs/t/sweep.json")]
    changed = [k for k in kept if not k.endswith("/.claim") and after.get(k) != others[k]]
    assert changed == []
    # Trained alone now, in a fused group in the reference: equal within tolerance.
    assert differences(tmp_path, ref_dir, retrained=frozenset({DAMAGED_RUN})) == []


# -- two sweeps and reports at once ----------------------------------------------------------

# A training epoch's progress line: "fused beta=1,4,10_seed=0: epoch 1/2 loss ..." for a
# fused group, "[3/6] beta=4_seed=0: epoch 1/2 ..." for a run trained alone.
EPOCH_LINE = re.compile(r"^(?:fused |\[\d/6\] )(\S+): epoch (\d)/2 ")


def test_two_sweeps_and_reports_at_once_train_each_run_once(reference, tmp_path):
    ref_dir, _ = reference
    outcome: dict[int, Round] = {}

    def sweep(index: int) -> None:
        outcome[index] = run_round(tmp_path)

    sweeps = [threading.Thread(target=sweep, args=(i,)) for i in range(2)]
    for thread in sweeps:
        thread.start()
    reports = []
    while any(thread.is_alive() for thread in sweeps):
        done = subprocess.run(
            [*KBETAVAE, "report", "runs/t"], capture_output=True, text=True, env=ENV, cwd=tmp_path
        )
        reports.append((done.returncode, done.stdout.strip() or done.stderr.strip()))
    for thread in sweeps:
        thread.join()
    for done in outcome.values():
        assert done.returncode == 0, done.stderr[-3000:]
    expected = {0: "wrote runs/t/report.html", 2: "kbetavae: error: runs/t is not a sweep"}
    odd = [(code, line) for code, line in reports if not line.startswith(expected.get(code, "?"))]
    assert reports and odd == []
    # Each fused group's epochs were trained once, by one of the two sweeps.
    logs = outcome[0].stderr + "\n" + outcome[1].stderr
    epochs = sorted(m.groups() for m in map(EPOCH_LINE.match, logs.splitlines()) if m)
    groups = ("beta=1,4,10_seed=0", "beta=1,4,10_seed=1")
    assert epochs == [(g, e) for g in groups for e in ("1", "2")], epochs
    assert differences(tmp_path, ref_dir, exports=False) == []
    rows, _ = _report(tmp_path / "runs" / "t" / "report.html")
    table = _results(tmp_path / "runs" / "t" / "results.csv")
    assert sorted((r[0], r[1]) for r in rows) == sorted(
        (f"{float(r['beta']):g}", r["seed"]) for r in table
    )
