"""Metrics over the seeds of one setting (UDR): computed once its last seed is evaluated.

The registry's metrics of kind ``"models"`` (:mod:`kbetavae.metrics.registry`) take the
encoder means of every finished seed of one setting on one shared sample and each model's
mean KL per latent on it; each run's entry (``model_entry(m)``) goes into its
``metrics.json`` beside the metrics of one model, so ``results.csv`` gets one UDR column per
similarity and the per-setting summary its mean over seeds. A setting with fewer than two
evaluated seeds has no score; a setting already scored is not scored again.

Example:
    >>> score_setting(["runs/s/beta=4_seed=0", "runs/s/beta=4_seed=1"], data)  # doctest: +SKIP
    ['udr_lasso', 'udr_spearman']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from kbetavae.metrics import registry
from kbetavae.metrics.inputs import kl_per_latent
from kbetavae.training import rundir

# Images encoded per model: the protocol's 10,000 points (capped by a sweep's eval_points).
# The Spearman variant's floor for unrelated latents falls as 1/√N (kbetavae.metrics.udr):
# about (z − 1)·√(2/(πN)) = 0.07 per row at N = 10,000 and z = 10, 0.23 at 1,000.
UDR_POINTS = 10_000
# The shared sample's seed: the same images for every seed of every setting of a study.
SAMPLE_SEED = 0
MIN_SEEDS = 2


def missing_scores(run_dirs: Sequence[str]) -> list[str]:
    """The default metrics over several models that some run of ``run_dirs`` lacks."""
    records = [rundir.read_metrics(d) or {} for d in run_dirs]
    return [n for n in registry.default_names(kind="models") if any(n not in r for r in records)]


def model_encoder(run_dir: str) -> Callable:
    """``encode(images) -> (mu, logvar)`` of a run's trained model."""
    from kbetavae.trained.load import graph_encoder, load_model

    return graph_encoder(load_model(rundir.model_path(run_dir)))


def score_setting(
    run_dirs: Sequence[str],
    data,
    num_points: int = UDR_POINTS,
    seed: int = SAMPLE_SEED,
    encoder_of: Callable[[str], Callable] = model_encoder,
) -> list[str]:
    """Compute the missing metrics over several models for the evaluated runs ``run_dirs``
    (the seeds of one setting, at least 2; ``encoder_of(run_dir)`` encodes with a run's
    model) and write each run's entry into its ``metrics.json``; return the metrics
    computed (none if nothing was missing)."""
    run_dirs = list(run_dirs)
    names = missing_scores(run_dirs)
    if len(run_dirs) < MIN_SEEDS or not names:
        return []
    _, images = data.sample(num_points, np.random.default_rng(seed))
    codes, kls = [], []
    for run_dir in run_dirs:
        mu, logvar = encoder_of(run_dir)(images)
        codes.append(np.asarray(mu, dtype=np.float64))
        kls.append(kl_per_latent(np.asarray(mu, np.float64), np.asarray(logvar, np.float64)))
    results = {n: registry.spec(n).compute(np.stack(codes), np.stack(kls)) for n in names}
    for m, run_dir in enumerate(run_dirs):
        record = rundir.read_metrics(run_dir)
        record.update({n: result.model_entry(m) for n, result in results.items()})
        rundir.write_metrics(run_dir, record)
    return names


def scorable(run_dirs: Sequence[str]) -> bool:
    """Whether the evaluated runs ``run_dirs`` of one setting can be scored and are not yet:
    at least 2, each with its model (a published run has none), some score missing."""
    return (
        len(run_dirs) >= MIN_SEEDS
        and all(rundir.has_model(d) for d in run_dirs)
        and bool(missing_scores(run_dirs))
    )


def ready_settings(configs: Sequence, run_dir_of) -> list[list[str]]:
    """Per setting of ``configs`` whose every seed is settled (evaluated, or failed), the
    run directories of its evaluated seeds, if they are :func:`scorable`."""
    by_setting: dict[str, list] = {}
    for config in configs:
        by_setting.setdefault(rundir.setting_name(config), []).append(run_dir_of(config))
    ready = []
    for run_dirs in by_setting.values():
        evaluated = [d for d in run_dirs if rundir.is_evaluated(d)]
        settled = all(d in evaluated or _failed(d) for d in run_dirs)
        if settled and scorable(evaluated):
            ready.append(evaluated)
    return ready


def _failed(run_dir: str) -> bool:
    result = rundir.read_result(run_dir)
    return result is not None and not result.ok
