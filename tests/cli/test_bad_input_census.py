"""A census of bad input: every case through the real command line, one line and an exit code.

Each case is run in-process through ``cli.main.run`` (what ``kbetavae`` runs after its
start-up; the start-up's own error path is tests/cli/test_error_path_cli.py, in
subprocesses). Every case must end in exactly one stderr line, ``kbetavae: error: ...``
(or the help, for a command given without arguments), its exit code, and no traceback.
Files a case damages or points at are in its own directory; a refused command writes
nothing there, and a damaged sweep keeps its good report.html.

The census table for an issue's closing note comes from the same cases::

    .venv/bin/python -c "from tests.cli.test_bad_input_census import main; main('census.md')"
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from ..synthetic_sweep import build_sweep

SWEEP = "runs/syn"  # under the workspace: the synthetic sweep, β 1, 4, 7.5, 10, seeds 0, 1
RUN = "beta=4_seed=0"


@dataclasses.dataclass(frozen=True)
class Case:
    """A command line (built in a fresh directory ``here`` from the ``workspace``), the
    exit code it must end with, and text its one stderr line must hold."""

    name: str
    args: Callable[[Path, Path], list[str]]
    code: int
    expected: str


def fixed(*args: str) -> Callable[[Path, Path], list[str]]:
    return lambda workspace, here: list(args)


def sweep_copy(workspace: Path, here: Path, models: bool = False) -> Path:
    """A copy of the synthetic sweep (and its report.html) at ``here/runs/syn``."""
    ignore = None if models else shutil.ignore_patterns("*.keras")
    return Path(shutil.copytree(workspace / SWEEP, here / SWEEP, ignore=ignore))


def damaged(name: str, text: str, command: str = "report"):
    """Arguments of ``command`` on a sweep whose file ``name`` holds ``text``."""

    def args(workspace: Path, here: Path) -> list[str]:
        sweep = sweep_copy(workspace, here)
        (sweep / name).write_text(text)
        return [command, SWEEP, *(["docs/results"] if command == "publish" else [])]

    return args


def run_without_model(command: str):
    def args(workspace: Path, here: Path) -> list[str]:
        sweep_copy(workspace, here)  # copied without model.keras, done.json kept
        return [command, f"{SWEEP}/{RUN}"]

    return args


def variants_of(path: str):
    """``kbetavae variants`` of ``path`` in the copied synthetic sweep (no archives)."""

    def args(workspace: Path, here: Path) -> list[str]:
        sweep_copy(workspace, here)
        return ["variants", path, "-o", "out"]

    return args


def exported_twice(workspace: Path, here: Path) -> list[str]:
    sweep_copy(workspace, here)
    served = here / "saved_models" / "syn" / RUN / "1"
    served.mkdir(parents=True)
    (served / "saved_model.pb").write_bytes(b"")  # a version TF Serving may be serving
    return ["export", f"{SWEEP}/{RUN}", "--saved-models", "saved_models"]


def one_run_twice(workspace: Path, here: Path) -> list[str]:
    # runs of different objectives merge into one grid; one (setting, seed) twice cannot
    sweep_copy(workspace, here)
    shutil.copytree(here / SWEEP / "beta=1_seed=0", here / "tc" / "beta=1_seed=0")
    return ["collect", SWEEP, "tc", "--out", "merged", "--no-figures"]


def saved_models_under_a_file(workspace: Path, here: Path) -> list[str]:
    (here / "a-file").write_text("")
    return ["sweep", "--out", "runs", "--saved-models", "a-file/sm", "--betas", "1"]


def sweep_over_a_damaged_plan(workspace: Path, here: Path) -> list[str]:
    (here / SWEEP).mkdir(parents=True)
    (here / SWEEP / "sweep.json").write_text("{")
    return ["sweep", "--out", "runs", "--name", "syn", "--betas", "1"]


def plain_keras_model(workspace: Path, here: Path) -> list[str]:
    return ["evaluate", str(workspace / "plain.keras")]


def plot_a_beta_not_swept(workspace: Path, here: Path) -> list[str]:
    sweep_copy(workspace, here)
    return ["plot", SWEEP, "--traverse-beta", "5"]


def an_empty_directory(workspace: Path, here: Path) -> list[str]:
    (here / "empty").mkdir()
    return ["collect", "empty"]


CASES = [
    # The command line itself.
    Case("no command", fixed(), 0, "Usage: kbetavae"),
    Case("data without a command", fixed("data"), 0, "Usage: kbetavae data"),
    Case("unknown command", fixed("trian"), 2, "No such command 'trian'"),
    # Click's own words differ between its versions ("No such option: --x", "... '--x'.").
    Case("unknown flag", fixed("train", "--no-such-flag"), 2, "No such option"),
    Case("not an integer", fixed("train", "--epochs", "abc"), 2, "'--epochs': 'abc' is not an"),
    Case("not a number", fixed("train", "--beta", "x"), 2, "Invalid value for '--beta'"),
    Case("below a minimum", fixed("sweep", "--max-group", "0"), 2, "'--max-group'"),
    # Training settings, named by flag.
    Case("batch size 0", fixed("train", "--batch-size", "0"), 2, "--batch-size must be an"),
    Case(
        "huge latent dim",
        fixed("train", "--latent-dim", "100000"),
        2,
        "--latent-dim must be an integer <= 1024, got 100000",
    ),
    Case("unknown precision", fixed("train", "--precision", "fp16"), 2, "--precision must be"),
    Case("unknown objective", fixed("train", "--objective", "elbo"), 2, "--objective must be"),
    Case("unknown source", fixed("data", "stats", "--source", "mnist"), 2, "'mnist'"),
    Case(
        "unknown dataset",
        fixed("train", "--data", "colour-dsprites"),
        2,
        "--data must be one of dsprites, color-dsprites, noisy-dsprites, scream-dsprites, "
        "got 'colour-dsprites'",
    ),
    Case(
        "missing painting",
        fixed("data", "show", "--data", "scream-dsprites", "--painting", "no/scream.jpg"),
        2,
        "--painting: no such image file: no/scream.jpg",
    ),
    Case(
        "painting without scream",
        fixed("sweep", "--data", "color-dsprites", "--painting", "x.jpg"),
        2,
        "painting applies to scream-dsprites only, not color-dsprites",
    ),
    Case("repeated seeds", fixed("sweep", "--seeds", "0,0"), 2, "--seeds has repeated values"),
    Case("unknown metric", fixed("sweep", "--metrics", "nosuch"), 2, "nosuch"),
    Case(
        "capacity over several betas",
        fixed("sweep", "--objective", "capacity", "--betas", "1,4"),
        2,
        "--objective capacity does not use β",
    ),
    Case(
        "sweep eval points below the minimum",
        fixed("sweep", "--eval-points", "50"),
        2,
        "--eval-points must be at least 100, got 50",
    ),
    Case(
        "evaluate eval points below the minimum",
        fixed("evaluate", "model.keras", "--eval-points", "50"),
        2,
        "--eval-points must be at least 100, got 50",
    ),
    Case(
        "traverse beta not swept",
        fixed("sweep", "--betas", "1,4", "--traverse-beta", "5"),
        2,
        "--traverse-beta 5 is not one of the swept βs (1, 4)",
    ),
    Case(
        "saved models under a file",
        saved_models_under_a_file,
        2,
        "--saved-models a-file/sm is not writable",
    ),
    Case("sweep over a damaged plan", sweep_over_a_damaged_plan, 2, "sweep.json is damaged"),
    # Files and models.
    Case("image suffix", fixed("data", "show", "--out", "x.xyz"), 2, "--out must end in an"),
    Case("no image suffix", fixed("data", "show", "--out", "samples"), 2, "--out must end in"),
    Case("no images", fixed("data", "show", "--n", "0"), 2, "Invalid value for '--n'"),
    Case("export to a text file", fixed("data", "export", "x.txt"), 2, "PATH must end in .npz"),
    Case("export every 0th image", fixed("data", "export", "x.npz", "--every", "0"), 2, "--every"),
    Case("evaluate nothing", fixed("evaluate", "missing"), 2, "missing does not exist"),
    Case("evaluate a plain Keras model", plain_keras_model, 2, "holds a Keras Sequential, not"),
    Case(
        "evaluate a finished run without its model",
        run_without_model("evaluate"),
        2,
        f"{SWEEP}/{RUN} is a finished run (done.json) whose model.keras is gone",
    ),
    Case(
        "export a finished run without its model",
        run_without_model("export"),
        2,
        f"{SWEEP}/{RUN} is a finished run (done.json) whose model.keras is gone",
    ),
    Case(
        "export over a served version",
        exported_twice,
        2,
        f"saved_models/syn/{RUN}/1 already holds a SavedModel",
    ),
    Case("export nothing", fixed("export", "missing"), 2, "missing does not exist"),
    Case(
        "protocol variants of nothing",
        fixed("variants", "missing", "-o", "out"),
        2,
        "missing does not exist or is not a directory",
    ),
    Case(
        "protocol variants of a sweep, not a run",
        variants_of(SWEEP),
        2,
        f"{SWEEP} has no config.json: not a run directory",
    ),
    Case(
        "protocol variants of a run without its encoder archive",
        variants_of(f"{SWEEP}/{RUN}"),
        2,
        f"{SWEEP}/{RUN} has no encoder.npz: publish its sweep",
    ),
    Case(
        "traverse to an unknown suffix",
        fixed("traverse", "missing", "--out", "t.xyz"),
        2,
        "--out must end in an image suffix",
    ),
    Case("traverse nothing", fixed("traverse", "missing"), 2, "missing does not exist"),
    # Sweep directories, whole and damaged.
    Case("report of nothing", fixed("report", "missing"), 2, "missing is not a sweep directory"),
    Case(
        "report of an empty results.csv",
        damaged("results.csv", ""),
        2,
        f"{SWEEP}/results.csv is damaged (empty): rerun",
    ),
    Case(
        "report of a corrupt results.csv",
        damaged("results.csv", "beta,seed,status\nfour,0,done\n"),
        2,
        "results.csv is damaged (line 2: beta 'four' is not a number)",
    ),
    Case(
        "report of a results.csv row with extra cells",
        damaged("results.csv", "beta,seed,status\n4,0,done,x\n"),
        2,
        "results.csv is damaged (line 2 does not match the header)",
    ),
    Case(
        "report of a results.csv without runs",
        damaged("results.csv", "beta,seed,status\n"),
        2,
        "results.csv lists no runs yet: nothing to report",
    ),
    Case(
        "report of a truncated sweep.json",
        damaged("sweep.json", '{"plan": {"name": "syn", "be'),
        2,
        f"{SWEEP}/sweep.json is damaged (not JSON: ",
    ),
    Case(
        "report of an empty sweep.json",
        damaged("sweep.json", ""),
        2,
        "sweep.json is damaged (empty): rerun the `kbetavae sweep` command",
    ),
    Case(
        "report of a sweep.json without a plan",
        damaged("sweep.json", "[1, 2]"),
        2,
        "sweep.json is damaged (no plan in it)",
    ),
    Case(
        "plot of a damaged sweep.json",
        damaged("sweep.json", "garbage", "plot"),
        2,
        "sweep.json is damaged (not JSON: Expecting value, line 1)",
    ),
    Case(
        "motion of a damaged results.csv",
        damaged("results.csv", "x,y\n1,2\n", "motion"),
        2,
        "results.csv is damaged (no beta or seed column)",
    ),
    Case(
        "publish of a damaged sweep.json",
        damaged("sweep.json", "{", "publish"),
        2,
        "sweep.json is damaged",
    ),
    Case(
        "plot of a beta that is not swept",
        plot_a_beta_not_swept,
        2,
        "--traverse-beta 5 has no finished run to draw (finished βs: 1, 4, 7.5, 10)",
    ),
    Case("collect nothing", fixed("collect", "missing"), 2, "missing does not exist"),
    Case("collect an empty directory", an_empty_directory, 2, "empty holds no runs"),
    Case(
        "collect one run twice",
        one_run_twice,
        2,
        "/tc/beta=1_seed=0; collect one of them",
    ),
]


def make_workspace(root: Path) -> Path:
    """The synthetic sweep (with a report.html) and a plain Keras model under ``root``."""
    import keras

    from kbetavae.viz.html_report import write_report

    sweep = build_sweep(root / "runs", with_figures=False)
    write_report(str(sweep))
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    plain.save(root / "plain.keras")
    return root


@dataclasses.dataclass
class Outcome:
    args: list[str]
    code: int
    stdout: str
    stderr: str
    created: list[str]  # paths the command left that the case's set-up had not made

    @property
    def first_line(self) -> str:
        lines = (self.stderr or self.stdout).strip().splitlines()
        return lines[0].strip() if lines else ""


def run_case(case: Case, workspace: Path, here: Path) -> Outcome:
    """``case`` run by ``cli.main.run`` in the directory ``here``."""
    from cli.main import run

    args = case.args(workspace, here)
    before = set(here.rglob("*"))
    out, err = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    os.chdir(here)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run(args)
    finally:
        os.chdir(previous)
    created = sorted(str(p.relative_to(here)) for p in set(here.rglob("*")) - before)
    return Outcome(args, code, out.getvalue(), err.getvalue(), created)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("census"))


def test_the_census_has_at_least_forty_distinct_cases():
    assert len(CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_is_one_line_and_its_exit_code(case, workspace, tmp_path):
    report = workspace / SWEEP / "report.html"
    good = report.read_bytes()
    outcome = run_case(case, workspace, tmp_path)
    assert outcome.code == case.code, (outcome.code, outcome.stderr[-2000:])
    assert "Traceback" not in outcome.stderr + outcome.stdout
    assert "AttributeError" not in outcome.stderr
    if case.code == 0:  # the help, on stdout
        assert outcome.stderr == "" and case.expected in outcome.stdout
        return
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kbetavae: error: "), outcome.stderr
    assert case.expected in lines[0], lines[0]
    assert outcome.created == []  # refused before writing anything
    copied = tmp_path / SWEEP / "report.html"
    if copied.exists():  # a damaged sweep keeps the report it had
        assert copied.read_bytes() == good
    assert report.read_bytes() == good


def main(path: str = "census.md") -> None:
    """Write the census as a markdown table (command, exit code, first line) to ``path``."""
    rows = ["| case | command | exit | first line |", "| --- | --- | --- | --- |"]
    with tempfile.TemporaryDirectory() as root:
        workspace = make_workspace(Path(root) / "workspace")
        for number, case in enumerate(CASES):
            here = Path(root) / f"case{number}"
            here.mkdir()
            outcome = run_case(case, workspace, here)
            command = " ".join(["kbetavae", *outcome.args])
            cells = [case.name, f"`{command}`", str(outcome.code), f"`{outcome.first_line}`"]
            cells = [c.replace(str(workspace), "<workspace>").replace(root, "") for c in cells]
            rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    Path(path).write_text("\n".join(rows) + "\n")
