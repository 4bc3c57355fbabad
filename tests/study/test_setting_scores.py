"""UDR over a setting's seeds is written into every seed's metrics.json once its last seed
settles; synthetic encoders with a known answer stand in for trained models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kbetavae.study import setting_scores
from kbetavae.study.setting_scores import (
    missing_scores,
    ready_settings,
    score_published,
    score_setting,
    stale_archive_scores,
)
from kbetavae.training import TrainConfig, rundir

LATENTS = 4


class Images:
    """A data source whose "images" are 4 independent N(0, 1) features per row."""

    def sample(self, n, rng):
        return None, rng.standard_normal((n, LATENTS))


def linear_encoder(matrix):
    def encode(images):
        return images @ matrix, np.full(images.shape, -2.0)  # KL > 0.01 nats per latent

    return lambda run_dir: encode


def make_runs(tmp_path, seeds=(0, 1, 2)):
    run_dirs = []
    for seed in seeds:
        run_dir = tmp_path / f"beta=4_seed={seed}"
        run_dir.mkdir()
        (run_dir / rundir.METRICS_FILE).write_text(json.dumps({"mig": {"score": 0.1}}))
        (run_dir / rundir.MODEL_FILE).write_text("")  # its model: here a stand-in
        run_dirs.append(str(run_dir))
    return run_dirs


def test_encoders_equal_up_to_permutation_and_sign_score_one(tmp_path):
    run_dirs = make_runs(tmp_path)
    signed_permutation = np.eye(LATENTS)[[2, 0, 3, 1]] * np.array([1, -1, -1, 1])
    encoders = {run_dirs[0]: np.eye(LATENTS), run_dirs[1]: signed_permutation}
    encoders[run_dirs[2]] = -np.eye(LATENTS)
    written = score_setting(
        run_dirs, Images(), 500, encoder_of=lambda d: linear_encoder(encoders[d])(d)
    )
    assert written == ["udr_lasso", "udr_spearman"]
    for run_dir in run_dirs:
        record = json.loads(open(f"{run_dir}/{rundir.METRICS_FILE}").read())
        assert record["mig"] == {"score": 0.1}  # the one-model metrics are kept
        assert record["udr_spearman"]["score"] == pytest.approx(1.0, abs=0.1)
        assert record["udr_lasso"]["score"] == pytest.approx(0.9, abs=0.05)  # 1 − alpha
    assert missing_scores(run_dirs) == []
    assert score_setting(run_dirs, Images(), 500, encoder_of=None) == []  # scored once


def test_independent_encoders_score_about_zero(tmp_path):
    run_dirs = make_runs(tmp_path, seeds=(0, 1))
    rotations = {
        d: np.linalg.qr(np.random.default_rng(k).standard_normal((LATENTS, LATENTS)))[0]
        for k, d in enumerate(run_dirs)
    }

    # each model sees other features: a fresh, independent sample per model
    def encoder_of(run_dir):
        def encode(images):
            noise = np.random.default_rng(len(run_dir)).standard_normal(images.shape)
            return (images if run_dir == run_dirs[0] else noise) @ rotations[run_dir], np.full(
                images.shape, -2.0
            )

        return encode

    score_setting(run_dirs, Images(), 2000, encoder_of=encoder_of)
    record = json.loads(open(f"{run_dirs[0]}/{rundir.METRICS_FILE}").read())
    assert record["udr_lasso"]["score"] == pytest.approx(0.0, abs=0.05)
    assert record["udr_spearman"]["score"] < 0.3


def test_a_setting_is_ready_when_every_seed_settled_and_two_are_evaluated(tmp_path):
    configs = [TrainConfig(beta=4.0, seed=s) for s in (0, 1, 2)]
    run_dir_of = lambda c: str(tmp_path / rundir.run_name(c))  # noqa: E731
    make_runs(tmp_path, seeds=(0, 1))
    assert ready_settings(configs, run_dir_of) == []  # seed 2 has not finished
    (tmp_path / "beta=4_seed=2").mkdir()
    rundir.write_result(
        rundir.TrainResult(str(tmp_path / "beta=4_seed=2"), "failed", 1, 1, {}, "loss became NaN")
    )
    assert ready_settings(configs, run_dir_of) == [[run_dir_of(c) for c in configs[:2]]]
    (tmp_path / "beta=4_seed=1" / rundir.MODEL_FILE).unlink()  # published runs have no model
    assert ready_settings(configs, run_dir_of) == []


def test_published_scores_are_over_exactly_the_published_archives(tmp_path, monkeypatch):
    run_dirs = make_runs(tmp_path, seeds=(0, 1, 2))
    for run_dir in run_dirs:
        (tmp_path / run_dir / rundir.ARCHIVE_FILE).write_text("")  # a stand-in archive
    monkeypatch.setattr(setting_scores, "archive_encoder", linear_encoder(np.eye(LATENTS)))
    # Scored by a sweep over its models: not over the archives, so stale.
    score_setting(run_dirs[:2], Images(), 500, encoder_of=linear_encoder(np.eye(LATENTS)))
    assert stale_archive_scores(run_dirs[:2])
    assert score_published(run_dirs[:2], Images(), 500) == ["udr_lasso", "udr_spearman"]
    assert not stale_archive_scores(run_dirs[:2])
    # A third seed published since: every seed is scored again, over all three.
    assert stale_archive_scores(run_dirs)
    score_published(run_dirs, Images(), 500)
    for run_dir in run_dirs:
        entry = json.loads(open(f"{run_dir}/{rundir.METRICS_FILE}").read())["udr_spearman"]
        assert (entry["encoders"], entry["num_models"]) == ("archive", 3)
        assert entry["score"] == pytest.approx(1.0, abs=0.1)  # identical encoders
    assert not stale_archive_scores(run_dirs)
    (tmp_path / run_dirs[2] / rundir.ARCHIVE_FILE).unlink()
    assert not stale_archive_scores(run_dirs)  # a seed without its archive: not scorable
