"""The study's evaluation of one trained model: what its ``metrics.json`` holds.

The plan's metrics under its protocol on points drawn from the whole grid (seeded by the
run's seed), and the held-out ELBO on grid images outside the run's training subset. The
sweep and a single trial (``kbetavae train --evaluate``) both call :func:`evaluate_model`,
so their records merge into one table.
"""

from __future__ import annotations

from kbetavae.study.plan import SweepPlan
from kbetavae.trained.load import graph_decoder, graph_encoder


def evaluate_model(model, data, plan: SweepPlan, config, progress=None) -> dict:
    """The sweep's evaluation of one model, as stored in ``metrics.json``: the plan's
    metrics on the whole grid, and the held-out ELBO on grid images outside the run's
    training subset. ``progress`` as :func:`kbetavae.metrics.evaluate` takes it."""
    from kbetavae.data.pipeline import subset_indices
    from kbetavae.metrics import evaluate
    from kbetavae.metrics.heldout import heldout_elbo

    encode = graph_encoder(model)
    record = evaluate(
        encode,
        data,
        metrics=plan.metrics,
        seed=config.seed,
        zdiff_classifier=plan.zdiff_classifier,
        progress=progress,
        **plan.metric_sizes(),
    )
    train_indices, _ = subset_indices(data, config.subset, config.seed, config.validation)
    heldout = heldout_elbo(
        encode,
        graph_decoder(model),
        data,
        train_indices,
        num_images=plan.heldout_images,
        seed=config.seed,
    )
    record["heldout"] = heldout.to_dict()
    return record
