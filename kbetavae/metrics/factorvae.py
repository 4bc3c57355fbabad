"""The FactorVAE disentanglement score (Kim & Mnih 2018, "Disentangling by Factorising").

One vote: fix a random factor k across a batch of 64 factor vectors, encode them, divide
each latent's variance in the batch by its variance over the whole dataset, and vote for
the pair (k, the latent with the smallest normalised variance). In a disentangled code the
latent of factor k is the one that stops moving. A majority-vote classifier maps each
latent to the factor it most often won for on 10,000 training votes; the score is its
accuracy on 5,000 evaluation votes: 1 when each factor has its own latent, about 1/K at
chance. Protocol of disentanglement_lib: global variances from 10,000 points, latents
whose global standard deviation is below 0.05 are pruned (collapsed to the prior). If
every latent is pruned the score is 0, as in the reference.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from kbetavae.metrics.protocol import FULL_PROTOCOL, Protocol
from kbetavae.metrics.representation import (
    ENCODE_BATCH_SIZE,
    GroundTruth,
    Representation,
    factor_encoder,
    sample_codes,
)
from kbetavae.metrics.results import MetricResult
from kbetavae.metrics.votes import vote_batches
from kbetavae.validation import RngLike, as_rng, check_int

PRUNE_STD = 0.05


@dataclasses.dataclass(frozen=True)
class FactorVAEResult(MetricResult):
    """FactorVAE ``score`` (evaluation accuracy); ``train_accuracy``; ``matrix`` (z, K)
    training votes: how often fixing factor k made latent i the least variable;
    ``eval_votes`` (z, K); ``classifier`` (z,) the factor each latent votes for (its
    majority); ``active_latents`` (z,) bool, global std >= the threshold;
    ``global_variances`` (z,)."""

    train_accuracy: float
    matrix: np.ndarray
    eval_votes: np.ndarray
    classifier: np.ndarray
    active_latents: np.ndarray
    global_variances: np.ndarray


def factorvae_votes(
    ground_truth: GroundTruth,
    representation: Representation,
    num_votes: int,
    rng: np.random.Generator,
    global_variances: np.ndarray,
    active: np.ndarray,
    batch_size: int = 64,
    encode_batch_size: int = ENCODE_BATCH_SIZE,
) -> np.ndarray:
    """Votes (K, z): how often fixing factor k made latent i the least variable one."""
    batch_size = check_int("batch_size", batch_size, minimum=2)
    encode = factor_encoder(ground_truth, representation, encode_batch_size)
    active_latents = np.flatnonzero(active)
    votes = np.zeros((len(ground_truth.factor_sizes), global_variances.shape[0]), dtype=np.int64)
    for fixed, factors in vote_batches(ground_truth, num_votes, batch_size, rng):
        n = len(fixed)
        rows = np.arange(n)
        factors[rows, :, fixed] = factors[rows, :1, fixed]
        codes = encode(factors.reshape(n * batch_size, -1)).reshape(n, batch_size, -1)
        local = np.var(codes[:, :, active_latents], axis=1, ddof=1)
        winner = active_latents[np.argmin(local / global_variances[active_latents], axis=1)]
        np.add.at(votes, (fixed, winner), 1)
    return votes


def factorvae_score(
    ground_truth: GroundTruth,
    representation: Representation,
    rng: RngLike,
    protocol: Protocol = FULL_PROTOCOL,
    *,
    prune_std: float = PRUNE_STD,
    encode_batch_size: int = ENCODE_BATCH_SIZE,
) -> FactorVAEResult:
    """The FactorVAE score of a representation (images -> codes, or a :class:`CodeTable`);
    ``protocol`` gives the votes (``num_train``, ``num_eval``, ``pair_batch_size``) and the
    global-variance sample (``num_variance_points``)."""
    rng = as_rng(rng)
    codes, _ = sample_codes(
        ground_truth, representation, protocol.num_variance_points, rng, encode_batch_size
    )
    global_variances = np.var(codes, axis=0, ddof=1)
    active = np.sqrt(global_variances) >= prune_std
    num_factors, num_latents = len(ground_truth.factor_sizes), codes.shape[1]
    if not active.any():
        empty = np.zeros((num_latents, num_factors), dtype=np.int64)
        return FactorVAEResult(
            score=0.0,
            train_accuracy=0.0,
            matrix=empty,
            eval_votes=empty,
            classifier=np.zeros(num_latents, dtype=np.int64),
            active_latents=active,
            global_variances=global_variances,
        )
    args = (global_variances, active, protocol.pair_batch_size, encode_batch_size)
    train = factorvae_votes(ground_truth, representation, protocol.num_train, rng, *args)
    classifier = np.argmax(train, axis=0)
    latents = np.arange(num_latents)
    evals = factorvae_votes(ground_truth, representation, protocol.num_eval, rng, *args)
    return FactorVAEResult(
        score=float(evals[classifier, latents].sum() / evals.sum()),
        train_accuracy=float(train[classifier, latents].sum() / train.sum()),
        matrix=train.T,
        eval_votes=evals.T,
        classifier=classifier,
        active_latents=active,
        global_variances=global_variances,
    )
