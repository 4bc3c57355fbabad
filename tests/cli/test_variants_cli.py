"""``kbetavae variants``: every Z-diff and MIG variant of kept encoders, written after each
run, resumed when run again.

The run is a synthetic sweep's (tests/synthetic_sweep.py: an untrained BetaVAE, seeded)
with its encoder archive written as ``publish`` writes it; 100 evaluation points.
"""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from typer.testing import CliRunner

from cli.main import app
from kbetavae.metrics.mig import MIG_VARIANTS
from kbetavae.metrics.zdiff import ZDIFF_VARIANTS
from kbetavae.study import protocol_variants as pv
from kbetavae.study import variant_tables

pytest.importorskip("tensorflow")
runner = CliRunner()
SMALL = ["--eval-points", "100"]
RUNS = ("beta=1_seed=0", "beta=4_seed=1")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two published-like runs: config.json and the archive of the sweep's model."""
    import keras

    from kbetavae.trained.archive import write_archive

    from ..synthetic_sweep import build_sweep

    root = tmp_path_factory.mktemp("variants")
    sweep = build_sweep(root, with_figures=False)
    model = keras.saving.load_model(root / "model.keras")
    dirs = []
    for name in RUNS:
        write_archive(model, str(sweep / name / "encoder.npz"))
        (sweep / name / "model.keras").unlink()  # a published run keeps its archive only
        dirs.append(sweep / name)
    return dirs


def rows(directory):
    with open(directory / pv.SCORES_CSV, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def scored(runs, tmp_path_factory):
    """``(output directory, command output)`` of both runs scored once."""
    out = tmp_path_factory.mktemp("scored") / "variants"
    result = runner.invoke(app, ["variants", *map(str, runs), "-o", str(out), *SMALL])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_every_variant_of_each_run_is_scored_and_the_default_is_what_evaluate_records(
    runs, scored, tmp_path
):
    out, output = scored
    assert f"{RUNS[0]}: scored" in output and f"{RUNS[1]}: scored" in output
    scores = rows(out)
    expected = [(v, "mig") for v in MIG_VARIANTS] + [(v, "zdiff") for v in ZDIFF_VARIANTS]
    for run in RUNS:
        mine = [r for r in scores if r["model"] == run]
        assert [(r["variant"], r["metric"]) for r in mine] == expected
        assert {r["eval_points"] for r in mine} == {"100"}
    assert {r["seed"] for r in scores} == {"0", "1"}  # each run's own seed
    for name in (variant_tables.SUMMARY_CSV, variant_tables.SUMMARY_MD):
        assert (out / name).exists()
    # The default variants are the run's own evaluation, as `kbetavae evaluate` records it.
    record = tmp_path / "metrics.json"
    evaluated = runner.invoke(app, ["evaluate", str(runs[1]), *SMALL, "-o", str(record)])
    assert evaluated.exit_code == 0, evaluated.output
    record = json.loads(record.read_text())
    for metric in ("mig", "zdiff"):
        (row,) = [
            r
            for r in scores
            if (r["model"], r["variant"], r["metric"]) == (RUNS[1], "disentanglement_lib", metric)
        ]
        assert float(row["score"]) == pytest.approx(record[metric]["score"], abs=5e-7)


def test_run_again_it_keeps_what_it_scored_and_scores_a_changed_archive_again(
    runs, scored, tmp_path
):
    first = tmp_path / "first"
    shutil.copytree(scored[0], first)
    args = ["variants", *map(str, runs), *SMALL]
    # A stop after the first run: its scores file holds that run only.
    stopped = tmp_path / "stopped"
    stopped.mkdir()
    with open(stopped / pv.SCORES_CSV, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=pv.SCORE_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(r for r in rows(first) if r["model"] == RUNS[0])
    again = runner.invoke(app, [*args, "-o", str(stopped)])
    assert again.exit_code == 0, again.output
    assert f"{RUNS[0]}: scored already, kept" in again.output
    assert f"{RUNS[1]}: scored (" in again.output
    assert rows(stopped) == rows(first)
    # Other points, or another encoder in the archive: the kept scores no longer hold.
    other = ["variants", str(runs[0]), "-o", str(stopped), "--eval-points", "120"]
    assert f"{RUNS[0]}: scored (" in runner.invoke(app, other).output
    import numpy as np

    from kbetavae import BetaVAE
    from kbetavae.trained.archive import write_archive

    changed = tmp_path / "retrained" / RUNS[0]
    shutil.copytree(runs[0], changed)
    model = BetaVAE(seed=1)
    model(np.zeros((1, 64, 64, 1), np.float32))
    write_archive(model, str(changed / "encoder.npz"))
    rescored = runner.invoke(app, ["variants", str(changed), *SMALL, "-o", str(first)])
    assert rescored.exit_code == 0, rescored.output
    assert f"{RUNS[0]}: scored (" in rescored.output


def test_a_run_without_its_archive_is_one_line_before_any_scoring(runs, tmp_path):
    bare = tmp_path / RUNS[0]
    shutil.copytree(runs[0], bare)
    (bare / "encoder.npz").unlink()
    result = runner.invoke(app, ["variants", str(runs[1]), str(bare), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "has no encoder.npz: publish its sweep" in result.output
    assert not (tmp_path / "o").exists()


def test_with_a_code_cache_a_second_scoring_encodes_nothing_and_scores_alike(
    runs, scored, tmp_path, monkeypatch
):
    from kbetavae.metrics import representation

    cache = tmp_path / "codes"
    args = ["variants", *map(str, runs), *SMALL, "--code-cache", str(cache)]
    first = runner.invoke(app, [*args, "-o", str(tmp_path / "first")])
    assert first.exit_code == 0, first.output
    # Both runs keep the same archive (the synthetic sweep's one model): one file of codes.
    assert len(list(cache.glob("*.npz"))) == 1

    def no_encoding(*args, **kwargs):
        raise AssertionError("encoded images the cache holds")

    monkeypatch.setattr(representation, "_encode_index_many", no_encoding)
    second = runner.invoke(app, [*args, "-o", str(tmp_path / "second")])
    assert second.exit_code == 0, second.output
    assert rows(tmp_path / "second") == rows(tmp_path / "first") == rows(scored[0])
