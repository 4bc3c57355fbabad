"""Test doubles and fixtures of the metric tests.

``fakes`` (this module, as a fixture) holds a dSprites-shaped factor grid whose "images"
are the factor vectors themselves and deterministic fake encoders: nothing is rendered,
so the metrics run in milliseconds, and the encoders are deterministic functions of the
image (as the encoder mean is), which the code table relies on. ``reference`` is
disentanglement_lib's metric modules, the oracle.
"""

from __future__ import annotations

import functools
import importlib
import logging
import sys

import numpy as np
import pytest

SIZES = (3, 6, 40, 32, 32)
NAMES = ("shape", "scale", "orientation", "posX", "posY")
STRIDES = np.array([245760, 40960, 1024, 32, 1])
NUM_IMAGES = 737_280


class FactorImages:
    """GroundTruthData double: the image of a factor vector is that vector (float32)."""

    factor_names = NAMES

    def __init__(self, sizes=SIZES) -> None:
        self.factor_sizes = tuple(sizes)
        self.factor_names = NAMES[: len(sizes)]
        self.num_images = int(np.prod(sizes))
        self.strides = np.cumprod((1,) + tuple(sizes[:0:-1]))[::-1]
        self.images_rendered = 0

    def index(self, factors):
        return np.asarray(factors, dtype=np.int64) @ self.strides

    def factors(self, index):
        sizes = np.array(self.factor_sizes)
        return (np.asarray(index, dtype=np.int64)[:, None] // self.strides) % sizes

    def images_at(self, index):
        self.images_rendered += len(index)
        return self.factors(index).astype(np.float32)

    def images(self, factors):
        return self.images_at(self.index(factors))

    def sample_factors(self, n, rng):
        return np.stack([rng.integers(0, size, n) for size in self.factor_sizes], axis=1)


class FakeEncoder:
    """images (factor vectors) -> (mu, logvar): ``mu = factors @ mixing + noise(image)``.

    ``noise`` is a fixed per-image table, so the encoder is deterministic. ``calls`` and
    ``images_seen`` count the work done.
    """

    def __init__(self, mixing, noise_scale=0.0, noise_seed=0, constant=None, logvar=0.0):
        self.mixing = None if mixing is None else np.asarray(mixing, dtype=np.float64)
        num_latents = self.mixing.shape[1] if mixing is not None else len(constant)
        self.noise = None
        if noise_scale:
            self.noise = noise_scale * _noise_table(noise_seed, num_latents)
        self.constant = None if constant is None else np.asarray(constant, dtype=np.float64)
        self.logvar = logvar
        self.calls = 0
        self.images_seen = 0

    def mu(self, images):
        factors = np.asarray(images, dtype=np.int64)
        self.calls += 1
        self.images_seen += len(factors)
        if self.constant is not None:
            out = np.zeros((len(factors), len(self.constant))) + self.constant
        else:
            out = factors.astype(np.float64) @ self.mixing
        if self.noise is not None:
            out = out + self.noise[factors @ STRIDES]
        return out.astype(np.float32)

    def __call__(self, images):
        mu = self.mu(images)
        return mu, np.full_like(mu, self.logvar)


@functools.lru_cache(maxsize=4)
def _noise_table(seed, num_latents):
    table = np.random.default_rng(seed).standard_normal((NUM_IMAGES, num_latents), np.float32)
    table.flags.writeable = False
    return table


class WithConstantLatents:
    """Another encoder's codes followed by ``count`` latents that are exactly 0.5."""

    def __init__(self, encoder, count):
        self.encoder, self.count = encoder, count

    def mu(self, images):
        mu = self.encoder.mu(images)
        return np.hstack([mu, np.full((len(mu), self.count), 0.5, dtype=mu.dtype)])

    def __call__(self, images):
        mu = self.mu(images)
        return mu, np.zeros_like(mu)


class WithSwitchedOffLatents:
    """Another encoder's latents, made confident (logvar -6, so KL >= 2.5 nats: active),
    followed by ``count`` latents the KL term switched off: mu is ``jitter`` times fixed
    per-image N(0, 1) noise and logvar 0, so their KL is about jitter^2 / 2 (inactive)."""

    def __init__(self, encoder, count, jitter=1e-3, seed=5):
        self.encoder, self.count, self.jitter, self.seed = encoder, count, jitter, seed

    def mu(self, images):
        mu = self.encoder.mu(images)
        index = np.asarray(images, dtype=np.int64) @ STRIDES
        jitter = self.jitter * _noise_table(self.seed, self.count)[index]
        return np.hstack([mu, jitter.astype(mu.dtype)])

    def __call__(self, images):
        mu = self.mu(images)
        width = mu.shape[1] - self.count
        return mu, np.hstack([np.full((len(mu), width), -6.0), np.zeros((len(mu), self.count))])


def identity_encoder(noise_scale=0.1):
    """codes = factors + N(0, noise_scale^2) noise (fixed per image), one latent each."""
    return FakeEncoder(np.eye(5), noise_scale)


def padded_encoder(noise_scale=0.1):
    """The identity encoder followed by five exactly constant latents (10 in all)."""
    return WithConstantLatents(identity_encoder(noise_scale), 5)


def switched_off_encoder(noise_scale=0.1, count=5):
    """The identity encoder (active) followed by ``count`` switched-off jitter latents."""
    return WithSwitchedOffLatents(identity_encoder(noise_scale), count)


def rotated_encoder(noise_scale=0.1, seed=1):
    """Standardised factors mixed by a random rotation of all five axes, plus noise."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((5, 5)))
    scale = np.diag(1.0 / np.array([np.std(np.arange(s)) for s in SIZES]))
    return FakeEncoder(scale @ q, noise_scale)


def random_encoder(num_latents=10, seed=0):
    """Codes independent of the factors: N(0, 1) noise per image."""
    return FakeEncoder(np.zeros((5, num_latents)), 1.0, noise_seed=seed)


def collapsed_encoder(num_latents=10):
    """Every image maps to mu = 0, logvar = 0: the posterior is the prior, KL = 0."""
    return FakeEncoder(None, constant=np.zeros(num_latents))


def sample(encoder, n, seed):
    """(codes, factors) of ``n`` uniform grid points, as float64 / int64."""
    rng = np.random.default_rng(seed)
    factors = FactorImages().sample_factors(n, rng)
    return encoder.mu(factors.astype(np.float32)).astype(np.float64), factors


# --- disentanglement_lib, the reference -------------------------------------------------


class ReferenceGroundTruth:
    """The same grid behind disentanglement_lib's GroundTruthData interface (RandomState)."""

    num_factors = 5
    factors_num_values = list(SIZES)
    observation_shape = [5]

    def sample_factors(self, num, random_state):
        return np.stack([random_state.randint(s, size=num) for s in SIZES], axis=1)

    def sample_observations_from_factors(self, factors, random_state):
        return np.asarray(factors, dtype=np.float32)

    def sample(self, num, random_state):
        factors = self.sample_factors(num, random_state)
        return factors, self.sample_observations_from_factors(factors, random_state)

    def sample_observations(self, num, random_state):
        return self.sample(num, random_state)[1]


@pytest.fixture(scope="session")
def fakes():
    """This module: ``fakes.identity_encoder()``, ``fakes.sample(...)``, ..."""
    return sys.modules[__name__]


@pytest.fixture(scope="session")
def reference():
    """disentanglement_lib's metric modules, imported without TensorFlow.

    They only need ``gin.tf`` for its decorators, which plain ``gin`` provides. The
    study's gin bindings (20 histogram bins, FactorVAE pruning at std 0.05) are set here.
    """
    gin = pytest.importorskip("gin")
    aliased = "gin.tf" not in sys.modules
    if aliased:
        sys.modules["gin.tf"] = gin
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # gin 0.4 warns that "blacklist" is deprecated, per use
    metrics = pytest.importorskip("disentanglement_lib.evaluation.metrics.utils").__package__
    modules = {
        name: importlib.import_module(f"{metrics}.{name}")
        for name in (
            "utils",
            "mig",
            "modularity_explicitness",
            "beta_vae",
            "factor_vae",
            "sap_score",
            "dci",
        )
    }
    gin.parse_config(
        [
            "discretizer.discretizer_fn = @histogram_discretizer",
            "discretizer.num_bins = 20",
            "prune_dims.threshold = 0.05",
        ]
    )
    yield modules
    gin.clear_config()
    root.setLevel(level)
    if aliased:
        del sys.modules["gin.tf"]


@pytest.fixture(scope="session")
def udr_reference():
    """disentanglement_lib's UDR module (``evaluation/udr/metrics/udr.py``), if importable.

    Its PyPI releases (up to 1.5) do not ship ``evaluation/udr`` (the wheel has only the
    ``dlib_udr`` script and the gin configs), so these tests skip unless a source checkout
    of the package is installed; ``test_udr`` also checks a loop-by-loop reading of the same
    protocol that always runs.
    """
    gin = pytest.importorskip("gin")
    aliased = "gin.tf" not in sys.modules
    if aliased:
        sys.modules["gin.tf"] = gin
    try:
        module = importlib.import_module("disentanglement_lib.evaluation.udr.metrics.udr")
    except ImportError:
        pytest.skip("disentanglement_lib's udr module is not installed (not in its PyPI wheels)")
    finally:
        if aliased:
            del sys.modules["gin.tf"]
    return module


class MemoryStore:
    """A code store in memory (kbetavae.trained.code_cache keeps files): what it was handed
    last, and how many times."""

    def __init__(self) -> None:
        self.kept = None
        self.saves = 0

    def load(self, num_models):
        return list(self.kept) if self.kept is not None else [None] * num_models

    def keep(self, codes, filled):
        self.saves += 1
        self.kept = [
            (mu.copy(), None if logvar is None else logvar.copy(), filled.copy())
            for mu, logvar in codes
        ]
