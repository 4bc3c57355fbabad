"""One (β, seed) of the study run on its own: evaluate and export a trained run as a sweep does.

A Vertex AI hyperparameter-tuning job runs ``kbetavae train`` once per trial. Evaluating
the trial with the sweep's own protocol (:func:`kbetavae.study.evaluation.evaluate_model`,
same seed, same sample sizes) writes the ``metrics.json`` a local sweep would have written, so runs
from many jobs merge into one results table; the SavedModel goes to the sweep's layout
``<saved_models>/<run>/1/``.

Example:
    >>> plan = evaluation_plan(config, metrics=("mig",), eval_points=10_000)  # doctest: +SKIP
    >>> evaluate_run(train(config, "runs/beta=4_seed=0"), plan)["mig"]["score"]  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from kbetavae.cloud import metric_to_compute
from kbetavae.metrics.protocol import DEFAULT_CLASSIFIER
from kbetavae.study.evaluation import evaluate_model
from kbetavae.study.plan import SweepPlan
from kbetavae.trained.load import load_model
from kbetavae.training.rundir import dir_name, export_dir, read_metrics, write_metrics


def evaluation_plan(
    config,
    metrics: Sequence[str],
    eval_points: int,
    hypertune_metric: str | None = None,
    zdiff_classifier: str = DEFAULT_CLASSIFIER,
) -> SweepPlan:
    """The one-run sweep plan of ``config`` whose protocol evaluates it.

    The metric behind ``hypertune_metric`` (``dci`` for ``dci_completeness``) is added to
    ``metrics`` if missing, so the reported number is always computed. Validates the
    metrics and ``eval_points`` (InputError): call it before training.
    """
    metrics = list(metrics)
    if hypertune_metric is not None and metric_to_compute(hypertune_metric) not in metrics:
        metrics.append(metric_to_compute(hypertune_metric))
    return SweepPlan(
        base=config,
        betas=(config.beta,),
        seeds=(config.seed,),
        name="trial",
        metrics=tuple(metrics),
        eval_points=eval_points,
        zdiff_classifier=zdiff_classifier,
    )


def evaluate_run(result, plan: SweepPlan, source=None) -> dict[str, Any]:
    """The ``metrics.json`` record of a finished run: read if present, else computed, written.

    Args:
        result: the ``TrainResult`` of a run that finished (``result.ok``).
        plan: from :func:`evaluation_plan`.
        source: the ``GroundTruthData`` to evaluate on (default: open the plan's data).
    """
    recorded = read_metrics(result.run_dir)
    if recorded is not None:  # a restarted trial does not evaluate twice
        return recorded
    data = source if source is not None else plan.base.open_data()
    model = result.model or load_model(result.model_path)
    record = evaluate_model(model, data, plan, plan.configs()[0])
    write_metrics(result.run_dir, record)
    return record


def export_run(result, saved_models: str | os.PathLike) -> str:
    """Export the run's SavedModel to ``<saved_models>/<run>/1`` unless it is there already."""
    from kbetavae.trained.export import export_saved_model, is_exported

    target = export_dir(saved_models, dir_name(result.run_dir))
    if not is_exported(target):  # a half-written remote export is redone
        export_saved_model(result.model or load_model(result.model_path), target)
    return target
