"""Metrics over the seeds of one setting (UDR): computed once its last seed is evaluated.

The registry's metrics of kind ``"models"`` (:mod:`kbetavae.metrics.registry`) take the
encoder means of every finished seed of one setting on one shared sample and each model's
mean KL per latent on it; each run's entry (``model_entry(m)``) goes into its
``metrics.json`` beside the metrics of one model, so ``results.csv`` gets one UDR column per
similarity and the per-setting summary its mean over seeds. A setting with fewer than two
evaluated seeds has no score; a setting already scored is not scored again.

Each entry says which encoders it compared (``"encoders"``): ``"model"`` (a sweep's float32
models, the default) or ``"archive"`` (the float16 encoder archives of a published report,
:mod:`kbetavae.trained.archive`). ``publish`` scores every published setting over its
published archives (:func:`stale_archive_scores`), so a setting whose seeds were trained in
different sessions, or reused from another report, is scored over all of them alike.

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
MODEL_ENCODERS = "model"
ARCHIVE_ENCODERS = "archive"


def missing_scores(run_dirs: Sequence[str]) -> list[str]:
    """The default metrics over several models that some run of ``run_dirs`` lacks."""
    records = [rundir.read_metrics(d) or {} for d in run_dirs]
    return [n for n in registry.default_names(kind="models") if any(n not in r for r in records)]


def model_encoder(run_dir: str) -> Callable:
    """``encode(images) -> (mu, logvar)`` of a run's trained model."""
    from kbetavae.trained.load import graph_encoder, load_model

    return graph_encoder(load_model(rundir.model_path(run_dir)))


def archive_encoder(run_dir: str) -> Callable:
    """``encode(images) -> (mu, logvar)`` of a published run's float16 encoder archive."""
    from kbetavae.trained.archive import read_encoder

    return read_encoder(run_dir)


def score_setting(
    run_dirs: Sequence[str],
    data,
    num_points: int = UDR_POINTS,
    seed: int = SAMPLE_SEED,
    encoder_of: Callable[[str], Callable] = model_encoder,
    names: Sequence[str] | None = None,
    encoders: str = MODEL_ENCODERS,
) -> list[str]:
    """Compute the metrics over several models ``names`` (default: those missing) for the
    evaluated runs ``run_dirs`` (the seeds of one setting, at least 2; ``encoder_of(run_dir)``
    encodes with a run's ``encoders``) and write each run's entry into its
    ``metrics.json``; return the metrics computed (none if nothing was missing)."""
    run_dirs = list(run_dirs)
    names = missing_scores(run_dirs) if names is None else list(names)
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
        record.update(
            {n: {**result.model_entry(m), "encoders": encoders} for n, result in results.items()}
        )
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


def stale_archive_scores(run_dirs: Sequence[str]) -> bool:
    """Whether the published runs ``run_dirs`` of one setting (at least 2, each with its
    encoder archive) lack a score over exactly their archives: a run without it, or with one
    over the sweep's models or over another number of seeds (a seed published since)."""
    if len(run_dirs) < MIN_SEEDS or not all(rundir.has_archive(d) for d in run_dirs):
        return False
    for record in (rundir.read_metrics(d) or {} for d in run_dirs):
        for name in registry.default_names(kind="models"):
            entry = record.get(name)
            if not isinstance(entry, dict) or (
                entry.get("encoders") != ARCHIVE_ENCODERS
                or entry.get("num_models") != len(run_dirs)
            ):
                return True
    return False


def score_published(run_dirs: Sequence[str], data, num_points: int = UDR_POINTS) -> list[str]:
    """Score one published setting's runs over their encoder archives, every metric over
    several models afresh (:func:`stale_archive_scores` says when); the metrics computed."""
    return score_setting(
        run_dirs,
        data,
        num_points,
        encoder_of=archive_encoder,
        names=registry.default_names(kind="models"),
        encoders=ARCHIVE_ENCODERS,
    )


def evaluated_by_setting(runs: Sequence) -> dict[str, list[str]]:
    """The directories of the finished, evaluated ``runs`` (``collect.Run``s) per setting."""
    by_setting: dict[str, list[str]] = {}
    for run in runs:
        if run.result.ok and rundir.is_evaluated(run.run_dir):
            by_setting.setdefault(rundir.setting_name(run.config), []).append(run.run_dir)
    return by_setting


def score_report(runs: Sequence, plan, say: Callable[[str], None] | None = None) -> list[str]:
    """UDR of every setting of a report's published ``runs`` (``collect.Run``s of the study
    ``plan``) whose score is not over exactly their archives (:func:`stale_archive_scores`),
    computed from them into each seed's metrics.json (``say`` hears a line per setting);
    the paths written."""
    stale = {s: d for s, d in evaluated_by_setting(runs).items() if stale_archive_scores(d)}
    if not stale:
        return []
    data = plan.base.open_data()
    written = []
    for setting, run_dirs in stale.items():
        if say is not None:
            say(f"{setting}: UDR over the encoder archives of its {len(run_dirs)} seeds")
        score_published(run_dirs, data, min(UDR_POINTS, plan.eval_points))
        written += [rundir.metrics_path(d) for d in run_dirs]
    return written


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
