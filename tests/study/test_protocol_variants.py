"""Protocol variants of one encoder and their table against the study's range.

The encoder is numpy on a tiny factor grid (3 x 4 x 5 = 60 "images", each its factor
vector): latent k = factor k, so nothing is rendered or trained.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from kbetavae.errors import InputError
from kbetavae.metrics import evaluate
from kbetavae.metrics.mig import MIG_VARIANTS
from kbetavae.metrics.protocol import Protocol
from kbetavae.metrics.zdiff import ZDIFF_VARIANTS
from kbetavae.study import protocol_variants as pv

SIZES = (3, 4, 5)
TINY = Protocol(num_points=2_000, num_test_points=100, num_train=400, num_eval=200)


class TinyGrid:
    """The metrics' ground-truth interface on a 3 x 4 x 5 grid; an image is its factors."""

    factor_sizes = SIZES
    factor_names = ("a", "b", "c")
    num_images = int(np.prod(SIZES))
    strides = np.array([20, 5, 1])

    def index(self, factors):
        return np.asarray(factors, dtype=np.int64) @ self.strides

    def images_at(self, index):
        index = np.asarray(index, dtype=np.int64)
        return ((index[:, None] // self.strides) % np.array(SIZES)).astype(np.float32)

    def sample_factors(self, n, rng):
        return np.stack([rng.integers(0, size, n) for size in SIZES], axis=1)


class FactorCodes:
    """images -> (mu, logvar): mu = the factors, one latent each (a clean code; noise
    fixed per image would carry information about the other factors on a grid this small,
    as bins split around it)."""

    def __init__(self):
        self.images_seen = 0

    def __call__(self, images):
        self.images_seen += len(images)
        mu = np.asarray(images, dtype=np.float32)
        return mu, np.zeros_like(mu)


def _by_name(rows):
    return {(row.variant, row.metric): row.score for row in rows}


def test_every_variant_is_scored_mig_first():
    rows = pv.score_variants(FactorCodes(), TinyGrid(), seed=1, protocol=TINY)
    expected = [(name, "mig") for name in MIG_VARIANTS] + [
        (name, "zdiff") for name in ZDIFF_VARIANTS
    ]
    assert [(row.variant, row.metric) for row in rows] == expected
    assert all(0.0 <= row.score <= 1.0 for row in rows)


def test_the_default_variants_are_what_evaluate_records_and_each_image_is_encoded_once():
    encoder = FactorCodes()
    rows = _by_name(pv.score_variants(encoder, TinyGrid(), 3, protocol=TINY))
    record = evaluate(FactorCodes(), TinyGrid(), ["mig", "zdiff"], seed=3, protocol=TINY)
    assert rows["disentanglement_lib", "mig"] == record["mig"]["score"]
    assert rows["disentanglement_lib", "zdiff"] == record["zdiff"]["score"]
    assert encoder.images_seen <= TinyGrid.num_images  # one code table for all eight


def test_the_variants_answer_as_their_metrics_tests_derive_on_a_clean_code():
    # A latent per factor: MIG and top-mi ~1 (m2 is estimator bias); signed at chance 1/3
    # (its features are symmetric about 0 for every label); six-factors still separates its
    # no-still-latent colour label, so it stays near 1 like the protocol.
    rows = _by_name(pv.score_variants(FactorCodes(), TinyGrid(), 0, protocol=TINY))
    assert rows["top-mi", "mig"] > 0.95
    assert rows["disentanglement_lib", "zdiff"] > 0.95
    assert rows["six-factors", "zdiff"] > 0.95
    assert rows["signed", "zdiff"] == pytest.approx(1 / 3, abs=0.1)


def test_the_scores_file_reads_back_as_the_models_written(tmp_path):
    models = [
        pv.ScoredModel("beta=1_seed=0", 1.0, [pv.VariantScore("v", "mig", 0.25)], 0, "ab12", 100),
        pv.ScoredModel("m", None, [pv.VariantScore("v", "zdiff", 0.5)]),
    ]
    pv.write_scores(models, str(tmp_path))
    assert pv.read_scores(str(tmp_path)) == models
    with open(tmp_path / pv.SCORES_CSV) as f:
        first = next(csv.DictReader(f))
    assert first == {
        "model": "beta=1_seed=0",
        "beta": "1",
        "seed": "0",
        "archive": "ab12",
        "eval_points": "100",
        "variant": "v",
        "metric": "mig",
        "score": "0.250000",
    }
    assert pv.read_scores(str(tmp_path / "none")) == []
    (tmp_path / pv.SCORES_CSV).write_text("model,beta\nx,oops\n")
    with pytest.raises(InputError, match="damaged"):
        pv.read_scores(str(tmp_path))


class MixedCodes(FactorCodes):
    """Latent 0 mixes factors a and b: a code that scores below the clean one."""

    def __call__(self, images):
        mu, logvar = super().__call__(images)
        mu = mu.copy()
        mu[:, 0] += mu[:, 1]
        return mu, logvar


class CountingGrid(TinyGrid):
    images_rendered = 0

    def images_at(self, index):
        CountingGrid.images_rendered += len(np.asarray(index))
        return super().images_at(index)


def test_score_runs_scores_a_seeds_runs_together_each_as_alone(monkeypatch):
    """Three runs: two of seed 2 (one group: each image rendered once for both encoders)
    and one of seed 3, kept from an earlier scoring. Each run's rows are score_variants'
    of its encoder alone with its seed; the kept model comes back as it was."""
    from types import SimpleNamespace

    from kbetavae.trained import archive
    from kbetavae.training import rundir

    def config(beta, seed):
        return SimpleNamespace(
            beta=beta, seed=seed, source="s", data="d", painting=None, open_data=CountingGrid
        )

    configs = {"a/beta=1_seed=2": config(1.0, 2), "a/beta=4_seed=2": config(4.0, 2)}
    configs["a/beta=1_seed=3"] = config(1.0, 3)
    encoders = {"a/beta=1_seed=2": FactorCodes, "a/beta=4_seed=2": MixedCodes}
    monkeypatch.setattr(rundir, "read_config", configs.get)
    monkeypatch.setattr(archive, "read_encoder", lambda run_dir: encoders[run_dir]())
    monkeypatch.setattr(pv, "archive_digest", lambda path: "d1")
    kept = pv.ScoredModel(
        "beta=1_seed=3",
        1.0,
        pv.score_variants(FactorCodes(), TinyGrid(), 3, protocol=TINY),
        3,
        "d1",
        TINY.num_points,
    )
    lines = []
    CountingGrid.images_rendered = 0
    models = pv.score_runs(
        list(configs), protocol=TINY, scored=[kept], on_model=lambda found, line: lines.append(line)
    )
    assert [m.name for m in models] == ["beta=1_seed=2", "beta=4_seed=2", "beta=1_seed=3"]
    assert models[2] is kept
    assert models[0].scores == pv.score_variants(FactorCodes(), TinyGrid(), 2, protocol=TINY)
    assert models[1].scores == pv.score_variants(MixedCodes(), TinyGrid(), 2, protocol=TINY)
    assert models[0].scores != models[1].scores  # each table holds its own encoder's codes
    assert 0 < CountingGrid.images_rendered <= TinyGrid.num_images  # once for the group
    assert lines == [
        "beta=1_seed=3: scored already, kept",
        "beta=1_seed=2: scored",
        "beta=4_seed=2: scored",
    ]


def test_score_runs_scores_each_runs_archive_on_its_data_with_its_seed(monkeypatch):
    """The wiring only (no archive exists yet): each run's config gives its β, seed and
    data, the archive its encoder; the rows are score_variants' with that seed."""
    from types import SimpleNamespace

    from kbetavae.trained import archive
    from kbetavae.training import rundir

    configs = {
        "runs/beta=1_seed=2": SimpleNamespace(
            beta=1.0, seed=2, source="s", data="d", painting=None, open_data=TinyGrid
        )
    }
    monkeypatch.setattr(rundir, "read_config", configs.get)
    monkeypatch.setattr(archive, "read_encoder", lambda run_dir: FactorCodes())
    monkeypatch.setattr(pv, "archive_digest", lambda path: "digest")
    (model,) = pv.score_runs(["runs/beta=1_seed=2"], protocol=TINY)
    assert (model.name, model.beta) == ("beta=1_seed=2", 1.0)
    assert (model.seed, model.archive, model.eval_points) == (2, "digest", TINY.num_points)
    assert model.scores == pv.score_variants(FactorCodes(), TinyGrid(), 2, protocol=TINY)
    with pytest.raises(InputError, match="no config.json"):
        pv.score_runs(["elsewhere"], protocol=TINY)
