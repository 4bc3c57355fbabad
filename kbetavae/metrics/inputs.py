"""What the metrics of one evaluation share: samples drawn and encoded once, on first use.

Each sample has its own random stream derived from the seed, so a metric's number does not
depend on which other metrics were asked for.

Active latents: a latent is active when its mean KL(q(z_i|x) || N(0, 1)) over the sample
exceeds 0.01 nats. That needs log-variances; for an encoder that returns mu only, the
count uses 0.5 * Var(mu_i) instead, a lower bound of the mean KL (the sigma terms of the KL
are >= 0 and E[mu^2] >= Var(mu)), so it may undercount (``active_latents_method``).
"""

from __future__ import annotations

import functools
import zlib
from typing import Any

import numpy as np

from kbetavae.metrics.checks import check_codes
from kbetavae.metrics.mutual_info import code_factor_mutual_info, factor_entropies
from kbetavae.metrics.protocol import Protocol
from kbetavae.metrics.representation import CodeTable, encode_index

ACTIVE_KL_NATS = 0.01
# One random stream per sample, in a fixed order (append, never reorder: seeds stay valid).
# Streams of metrics registered later get an index derived from their name.
_STREAMS = ("points", "test_points", "zdiff", "factorvae")


def kl_per_latent(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """Mean KL(N(mu, exp(logvar)) || N(0, 1)) per latent over the points, in nats (z,)."""
    return 0.5 * np.mean(np.square(mu) + np.exp(logvar) - logvar - 1.0, axis=0)


class EvaluationInputs:
    """What metrics share in one evaluation, drawn and encoded once, on first use.

    ``codes``/``factors``: the ``num_points`` sample (MIG, Modularity, SAP/DCI training);
    ``mutual_info``/``factor_entropies`` of it; ``test_codes``/``test_factors``: the
    ``num_test_points`` sample; ``encoder`` (a :class:`CodeTable` or an encode function)
    and ``ground_truth`` for metrics that draw their own images; ``rng(stream)`` the seeded
    stream of a sample; ``protocol`` the :class:`~kbetavae.metrics.protocol.Protocol`.
    """

    def __init__(self, ground_truth, encoder, protocol: Protocol, seed: int, batch_size: int):
        self.ground_truth = ground_truth
        self.encoder = encoder
        self.protocol = protocol
        self.seed = seed
        self.batch_size = batch_size
        self.images_drawn = 0

    def rng(self, stream: str) -> np.random.Generator:
        """The generator of ``stream``: the same for the same seed, whatever else runs."""
        index = _STREAMS.index(stream) if stream in _STREAMS else 1000 + zlib.crc32(stream.encode())
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(index,)))

    @functools.cached_property
    def _points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        return self._draw(self.protocol.num_points, "points")

    @property
    def factors(self) -> np.ndarray:
        return self._points[0]

    @property
    def codes(self) -> np.ndarray:
        return self._points[1]

    @property
    def logvars(self) -> np.ndarray | None:
        return self._points[2]

    @functools.cached_property
    def active_latents(self) -> dict[str, Any]:
        """``active_latents`` (count), ``active_latents_method`` and ``kl_per_latent`` of
        the points (see the module docstring)."""
        return active_latent_summary(self.codes, self.logvars)

    @property
    def active(self) -> np.ndarray:
        """(z,) bool: the latents whose mean KL over the points exceeds 0.01 nats."""
        return self.active_latents["kl_per_latent"] > ACTIVE_KL_NATS

    @functools.cached_property
    def mutual_info(self) -> np.ndarray:
        return code_factor_mutual_info(self.codes, self.factors, self.protocol.num_bins)

    @functools.cached_property
    def factor_entropies(self) -> np.ndarray:
        return factor_entropies(self.factors)

    @functools.cached_property
    def _test_points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        return self._draw(self.protocol.num_test_points, "test_points")

    @property
    def test_factors(self) -> np.ndarray:
        return self._test_points[0]

    @property
    def test_codes(self) -> np.ndarray:
        return self._test_points[1]

    def _draw(self, n: int, stream: str):
        factors = np.asarray(self.ground_truth.sample_factors(n, self.rng(stream)), np.int64)
        index = self.ground_truth.index(factors)
        if isinstance(self.encoder, CodeTable):
            mu, logvar = self.encoder.codes_at(index), self.encoder.logvars_at(index)
        else:
            mu, logvar = encode_index(self.ground_truth, self.encoder, index, self.batch_size)
        self.images_drawn += n
        return factors, check_codes(mu), logvar


def active_latent_summary(mu: np.ndarray, logvar: np.ndarray | None) -> dict[str, Any]:
    if logvar is not None:
        kl = kl_per_latent(mu.astype(np.float64), check_codes(logvar, "logvars"))
        method = "kl"
    else:
        kl = 0.5 * np.var(mu, axis=0)
        method = "mu_variance"
    return {
        "active_latents": int(np.sum(kl > ACTIVE_KL_NATS)),
        "active_latents_method": method,
        "kl_per_latent": kl,
    }
