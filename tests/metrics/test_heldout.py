"""Held-out ELBO: a direct computation on a tiny numpy model, known answers, the training
loss's definition on a real BetaVAE, and held-out images never in the training subset."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from kbetavae.errors import InputError
from kbetavae.metrics.heldout import (
    bernoulli_nll,
    elbo_terms,
    heldout_elbo,
    heldout_indices,
)

PIXELS = 12


class BitImages:
    """A 4,096-image ground truth double: image i is the 12 bits of i, as uint8 {0, 1}."""

    num_images = 2**PIXELS

    def images_at(self, index):
        bits = (np.asarray(index)[:, None] >> np.arange(PIXELS)) & 1
        return bits.astype(np.uint8).reshape(-1, PIXELS, 1)


class TinyVAE:
    """A fixed linear encoder (3 latents) and decoder with a float32 sigmoid output."""

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.w_mu = rng.normal(size=(PIXELS, 3))
        self.w_logvar = 0.3 * rng.normal(size=(PIXELS, 3))
        self.w_dec = rng.normal(size=(3, PIXELS))
        self.b_dec = rng.normal(size=PIXELS)

    def encode(self, images):
        x = images.reshape(len(images), -1).astype(np.float64)
        return (x @ self.w_mu).astype(np.float32), (x @ self.w_logvar - 1.0).astype(np.float32)

    def decode(self, z):
        logits = np.asarray(z, np.float64) @ self.w_dec + self.b_dec
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32).reshape(-1, PIXELS, 1)


def test_heldout_elbo_equals_a_direct_computation_on_a_tiny_model():
    data, model, train = BitImages(), TinyVAE(), np.arange(0, 4096, 3)
    result = heldout_elbo(model.encode, model.decode, data, train, num_images=300, seed=7)

    # The draws the module docstring promises, then the ELBO pixel by pixel, latent by latent.
    rng = np.random.default_rng(7)
    outside = np.setdiff1d(np.arange(4096), train)
    index = np.sort(rng.choice(outside, size=300, replace=False))
    eps = rng.standard_normal((300, 3))
    reconstruction, kl, kl_latent = [], [], np.zeros(3)
    for row, i in enumerate(index):
        image = data.images_at(np.array([i]))
        mu, logvar = (a[0].astype(float) for a in model.encode(image.astype(np.float32)))
        z = mu + np.exp(logvar / 2) * eps[row]
        probs = model.decode(z[None].astype(np.float32)).ravel().astype(float)
        reconstruction.append(
            -sum(
                math.log(p) if x else math.log(1 - p)
                for x, p in zip(image.ravel(), probs, strict=True)
            )
        )
        per_latent = [(m * m + math.exp(v) - v - 1) / 2 for m, v in zip(mu, logvar, strict=True)]
        kl.append(sum(per_latent))
        kl_latent += per_latent
    elbo = -(np.array(reconstruction) + kl)
    assert result.num_images == 300 and result.seed == 7
    # Equal up to float64 rounding (log(1 - p) here, log1p(-p) there; summation order).
    assert result.reconstruction == pytest.approx(np.mean(reconstruction), rel=1e-9)
    assert result.kl == pytest.approx(np.mean(kl), rel=1e-12)
    assert result.elbo == pytest.approx(np.mean(elbo), rel=1e-9)
    assert result.elbo_se == pytest.approx(np.std(elbo, ddof=1) / math.sqrt(300), rel=1e-9)
    np.testing.assert_allclose(result.kl_per_latent, kl_latent / 300, rtol=1e-12)


def test_a_prior_encoder_and_a_coin_flip_decoder_cost_log_2_per_pixel():
    # mu = 0, logvar = 0: q(z|x) is the prior, KL = 0 exactly; p = 1/2 for every pixel:
    # -log(1/2) per pixel, 12 log 2 per image whatever the image and z.
    def encode(images):
        return np.zeros((len(images), 4), np.float32), np.zeros((len(images), 4), np.float32)

    def decode(z):
        return np.full((len(z), PIXELS, 1), 0.5, np.float32)

    result = heldout_elbo(encode, decode, BitImages(), np.arange(10), num_images=50, seed=0)
    assert result.kl == 0.0
    np.testing.assert_array_equal(result.kl_per_latent, 0.0)
    assert result.reconstruction == pytest.approx(PIXELS * math.log(2), rel=1e-12)
    assert result.elbo == pytest.approx(-PIXELS * math.log(2), rel=1e-12)


def test_a_saturated_wrong_pixel_costs_the_clip_not_infinity():
    # p rounded to exactly 1 is clipped to 1 - 1e-7: a 1-pixel costs -log(1 - 1e-7) ~ 1e-7
    # nats, a 0-pixel -log(1 - (1 - 1e-7)) ~ -log(1e-7) = 16.118 nats (float64 rounds the
    # clipped value, hence the spelled-out form), so an image with k zeros costs ~ 16.118 k.
    images = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]], np.uint8)
    nll = bernoulli_nll(images, np.ones((2, 5), np.float32))
    one, zero = -math.log(1 - 1e-7), -math.log(1 - (1 - 1e-7))
    np.testing.assert_allclose(nll, [3 * zero + 2 * one, 5 * one], rtol=1e-12)
    assert zero == pytest.approx(16.118, abs=1e-3)


def test_reconstruction_is_the_training_losss_on_a_real_betavae():
    # The training loss takes the decoder's logits (sigmoid cross-entropy, vae.py); we take
    # the decode signature's probabilities. At the same z they agree to float32 rounding
    # when no probability saturates (an untrained model's logits are near 0).
    keras = pytest.importorskip("keras")
    from kbetavae.model import BetaVAE
    from kbetavae.model.vae import kl_divergence

    model = BetaVAE(latent_dim=4, seed=0)
    rng = np.random.default_rng(0)
    images = (rng.random((16, 64, 64, 1)) < 0.2).astype(np.uint8)
    eps = rng.standard_normal((16, 4))
    encode = lambda x: tuple(np.asarray(t) for t in model.encode(x))  # noqa: E731
    decode = lambda z: np.asarray(model.decode(z))  # noqa: E731
    nll, kl = elbo_terms(encode, decode, images, eps)

    mu, logvar = encode(images.astype(np.float32))
    z = (mu + np.exp(0.5 * logvar) * eps).astype(np.float32)
    logits = model.decoder(z)
    pixel_nll = keras.ops.binary_crossentropy(images.astype(np.float32), logits, from_logits=True)
    expected = np.asarray(keras.ops.sum(pixel_nll, axis=(1, 2, 3)))
    np.testing.assert_allclose(nll, expected, rtol=1e-5)
    # The model's KL form in float32 loses ~1e-7 nats to cancellation (exp(lv) - lv - 1 at
    # lv ~ 0); ours runs in float64.
    model_kl = np.asarray(keras.ops.sum(kl_divergence(mu, logvar), axis=1))
    np.testing.assert_allclose(kl.sum(axis=1), model_kl, rtol=1e-5, atol=1e-6)


def test_heldout_images_never_meet_the_training_subset_the_pipeline_draws():
    pytest.importorskip("tensorflow")
    from kbetavae.data.pipeline import subset_indices

    class Grid:
        num_images = 737_280

    train, _ = subset_indices(Grid(), 50_000, seed=3)
    for seed in range(3):
        held = heldout_indices(737_280, train, 5_000, np.random.default_rng(seed))
        assert held.size == np.unique(held).size == 5_000
        assert np.intersect1d(held, train).size == 0


def test_every_image_outside_the_subset_can_be_drawn_and_no_more():
    train = np.arange(0, 4096, 2)
    held = heldout_indices(4096, train, 2048, np.random.default_rng(0))
    np.testing.assert_array_equal(held, np.arange(1, 4096, 2))
    with pytest.raises(InputError, match="num_images 2049 is more than the 2048 images outside"):
        heldout_indices(4096, train, 2049, np.random.default_rng(0))


def test_same_seed_same_numbers_and_json():
    data, model, train = BitImages(), TinyVAE(), np.arange(100)
    first = heldout_elbo(model.encode, model.decode, data, train, num_images=64, seed=1)
    again = heldout_elbo(model.encode, model.decode, data, train, num_images=64, seed=1)
    other = heldout_elbo(model.encode, model.decode, data, train, num_images=64, seed=2)
    text = json.dumps(first.to_dict(), allow_nan=False)
    assert text == json.dumps(again.to_dict()) != json.dumps(other.to_dict())
    assert set(json.loads(text)) == {
        "reconstruction",
        "kl",
        "elbo",
        "elbo_se",
        "kl_per_latent",
        "num_images",
        "seed",
    }


@pytest.mark.parametrize(
    ("encode", "message"),
    [
        (lambda x: np.zeros((len(x), 3), np.float32), "needs log-variances"),
        (lambda x: (np.full((len(x), 3), np.nan), np.zeros((len(x), 3))), "non-finite"),
    ],
)
def test_encoders_without_a_usable_posterior_are_input_errors(encode, message):
    with pytest.raises(InputError, match=message):
        heldout_elbo(encode, TinyVAE().decode, BitImages(), np.arange(10), num_images=5)


def test_bad_training_indices_are_input_errors():
    with pytest.raises(InputError, match="train_indices must lie in"):
        heldout_indices(4096, np.array([0, 4096]), 5, np.random.default_rng(0))
    with pytest.raises(InputError, match="train_indices must be a 1-D integer array"):
        heldout_indices(4096, np.array([0.5]), 5, np.random.default_rng(0))
