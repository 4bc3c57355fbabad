"""BetaVAE: loss terms, objectives, trackers, serialisation, distribution and input checks."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from kbetavae import BetaVAE
from kbetavae.errors import InputError
from kbetavae.model import build_decoder, build_encoder, capacity_schedule

REPO = Path(__file__).resolve().parents[2]


def squares(n: int, seed: int = 0) -> np.ndarray:
    """Binary images of one random square each: structure a VAE can encode."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 64, 64, 1), "float32")
    corners = rng.integers(0, 48, (n, 2))
    sizes = rng.integers(6, 16, n)
    for image, (row, col), size in zip(images, corners, sizes, strict=True):
        image[row : row + size, col : col + size] = 1.0
    return images


class FixedNoiseVAE(BetaVAE):
    """ε a fixed function of each example's μ: known in a hand computation, and unchanged
    when a batch is split across replicas."""

    def reparameterize(self, mu, logvar, rows=None):
        epsilon = ops.stop_gradient(ops.sin(37.0 * mu + 1.0))
        return mu + ops.exp(0.5 * logvar) * epsilon


def shifted_moments(model, seed=1):
    """Give the encoder's last bias non-trivial values so μ and log σ² are far from 0."""
    bias = model.encoder.get_layer("mu_logvar").bias
    bias.assign(np.random.default_rng(seed).normal(0.0, 0.7, bias.shape).astype("float32"))


def hand_terms(model, images, beta=None, gamma=None, capacity=None):
    moments = model.encoder(images).numpy().astype("float64")
    mu, logvar = np.split(moments, 2, axis=1)
    z = mu + np.exp(0.5 * logvar) * np.sin(37.0 * mu + 1.0)
    logits = model.decoder(z.astype("float32")).numpy().astype("float64")
    # -log p(x | z) of a Bernoulli with logits l: max(l, 0) - l·x + log(1 + exp(-|l|))
    nll = np.maximum(logits, 0) - logits * images + np.log1p(np.exp(-np.abs(logits)))
    reconstruction = nll.sum(axis=(1, 2, 3)).mean()
    kl_per_latent = (0.5 * (np.exp(logvar) + mu**2 - 1.0 - logvar)).mean(axis=0)
    kl = kl_per_latent.sum()
    loss = reconstruction + beta * kl if beta is not None else None
    if capacity is not None:
        loss = reconstruction + gamma * abs(kl - capacity)
    return reconstruction, kl, kl_per_latent, loss


def test_loss_terms_match_a_hand_computation():
    images = squares(3)
    model = FixedNoiseVAE(beta=4.0, seed=0)
    shifted_moments(model)
    terms = model.compute_terms(images)
    reconstruction, kl, kl_per_latent, loss = hand_terms(model, images, beta=4.0)
    assert kl > 1.0  # the shifted bias makes the KL term matter
    np.testing.assert_allclose(terms["reconstruction"], reconstruction, rtol=1e-5)
    np.testing.assert_allclose(terms["kl"], kl, rtol=1e-5)
    np.testing.assert_allclose(terms["kl_per_latent"], kl_per_latent, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(terms["loss"], loss, rtol=1e-5)


def test_capacity_loss_matches_a_hand_computation():
    images = squares(3)
    model = FixedNoiseVAE(objective="capacity", gamma=100.0, capacity_max=20.0, capacity_steps=10)
    model.compile(keras.optimizers.Adam(1e-3))
    shifted_moments(model)
    model.optimizer.iterations.assign(4)  # C = 20 · 4 / 10 = 8 nats
    terms = model.compute_terms(images)
    *_, loss = hand_terms(model, images, gamma=100.0, capacity=8.0)
    np.testing.assert_allclose(terms["capacity"], 8.0)
    np.testing.assert_allclose(terms["loss"], loss, rtol=1e-5)


@pytest.mark.parametrize(
    "step, expected", [(0, 0.0), (25, 5.0), (50, 10.0), (100, 20.0), (10_000, 20.0)]
)
def test_capacity_rises_linearly_then_holds(step, expected):
    value = capacity_schedule(step, capacity_min=0.0, capacity_max=20.0, capacity_steps=100)
    np.testing.assert_allclose(float(value), expected, rtol=1e-6)


def test_capacity_schedule_from_a_nonzero_start_and_with_zero_steps():
    np.testing.assert_allclose(float(capacity_schedule(5, 2.0, 12.0, 10)), 7.0)
    np.testing.assert_allclose(float(capacity_schedule(0, 2.0, 12.0, 0)), 12.0)


def test_fit_logs_the_capacity_at_the_current_optimizer_step():
    model = BetaVAE(objective="capacity", capacity_max=10.0, capacity_steps=8, seed=0)
    model.compile(keras.optimizers.Adam(1e-3))
    history = model.fit(squares(64), batch_size=16, epochs=2, verbose=0).history
    # the last steps of the epochs run at iterations 3 and 7 (counted before the update)
    np.testing.assert_allclose(history["capacity"], [10.0 * 3 / 8, 10.0 * 7 / 8], rtol=1e-6)


def test_beta_50_shrinks_kl_while_beta_0_lets_it_grow():
    images = squares(256)
    kl = {}
    for beta in (0.0, 50.0):
        keras.utils.set_random_seed(0)
        model = BetaVAE(beta=beta, seed=0)
        model.compile(keras.optimizers.Adam(1e-3))
        history = model.fit(images, batch_size=32, epochs=3, verbose=0, shuffle=False).history
        kl[beta] = history["kl"]
    # measured per epoch: beta=0 0.008, 25.8, 5.95 nats; beta=50 0.0, 0.069, 0.197 nats
    assert kl[0.0][-1] > 1.0
    assert kl[50.0][-1] < 1.0
    assert kl[50.0][-1] < 0.1 * kl[0.0][-1]


def test_fit_reports_per_latent_kl_that_sums_to_kl_and_resets_each_epoch():
    images = squares(64)
    model = BetaVAE(beta=1.0, latent_dim=4, seed=0)
    model.compile(keras.optimizers.Adam(1e-3))
    history = model.fit(images, batch_size=16, epochs=2, verbose=0).history
    assert {"loss", "reconstruction", "kl", "kl_0", "kl_3"} <= set(history)
    per_latent = np.array([history[f"kl_{i}"] for i in range(4)]).sum(axis=0)
    np.testing.assert_allclose(per_latent, history["kl"], rtol=1e-4)
    # after two epochs the trackers hold one epoch's examples: they were reset in between
    assert model.kl_per_latent_tracker.count.numpy() == len(images)
    assert model.reconstruction_tracker.count.numpy() == len(images)


def test_call_encode_decode_and_sample_have_the_documented_shapes():
    model = BetaVAE(beta=4.0, latent_dim=6, seed=0)
    images = squares(5)
    probs = model(images).numpy()
    assert probs.shape == (5, 64, 64, 1) and probs.min() >= 0.0 and probs.max() <= 1.0
    mu, logvar = model.encode(images)
    assert mu.shape == logvar.shape == (5, 6)
    np.testing.assert_allclose(model.decode(mu), probs, atol=1e-6)  # call decodes μ
    assert model.sample(3, seed=1).shape == (3, 64, 64, 1)
    np.testing.assert_array_equal(model.sample(3, seed=1), model.sample(3, seed=1))


def test_keras_round_trip_right_after_fit_gives_identical_outputs(tmp_path):
    model = BetaVAE(objective="capacity", objective_args={"capacity_max": 5.0}, seed=3)
    model.compile(keras.optimizers.Adam(1e-3))
    images = squares(32)
    model.fit(images, batch_size=16, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is BetaVAE
    # compared as JSON: tuples of a fresh config are lists in a loaded one
    assert json.dumps(loaded.get_config()) == json.dumps(model.get_config())
    np.testing.assert_array_equal(loaded(images[:4]), model(images[:4]))
    np.testing.assert_array_equal(loaded.encode(images[:4])[1], model.encode(images[:4])[1])
    assert int(loaded.optimizer.iterations.numpy()) == 2
    loaded.fit(images, batch_size=16, epochs=1, verbose=0)  # training continues


def test_keras_round_trip_keeps_user_networks(tmp_path):
    kwargs = {"image_shape": (64, 64, 1), "filters": (8, 8, 8, 8), "hidden_units": (32,)}
    model = BetaVAE(
        latent_dim=3, encoder=build_encoder(3, **kwargs), decoder=build_decoder(3, **kwargs)
    )
    model.save(tmp_path / "small.keras")
    loaded = keras.models.load_model(tmp_path / "small.keras")
    assert loaded.encoder.count_params() == model.encoder.count_params()
    np.testing.assert_array_equal(loaded(squares(2)), model(squares(2)))


def test_mirrored_strategy_over_two_devices_gives_the_single_device_update():
    # Logical devices must be configured before TensorFlow initialises: a fresh process.
    script = textwrap.dedent(
        """
        import json, sys
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
        import keras, numpy as np
        sys.path.insert(0, sys.argv[1])
        from test_vae import FixedNoiseVAE, BetaVAE, squares

        images = squares(8)
        single = FixedNoiseVAE(beta=4.0, seed=0)
        initial = single.get_weights()
        mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        with mirrored.scope():
            replicated = FixedNoiseVAE(beta=4.0, seed=0)
        replicated.set_weights(initial)
        logs = {}
        for name, model in (("single", single), ("mirrored", replicated)):
            # SGD: an update proportional to the gradient exposes any scaling error
            model.compile(keras.optimizers.SGD(1e-4))
            history = model.fit(images, batch_size=8, epochs=1, shuffle=False, verbose=0)
            logs[name] = history.history
        steps = [
            (a - w0, b - w0)
            for a, b, w0 in zip(single.get_weights(), replicated.get_weights(), initial)
        ]
        largest = max(np.abs(s).max() for s, _ in steps)
        difference = max(np.abs(s - m).max() for s, m in steps)
        sampled = {}
        for name, strategy in (("single", tf.distribute.get_strategy()), ("mirrored", mirrored)):
            with strategy.scope():
                model = BetaVAE(beta=4.0, seed=0)
                model.compile(keras.optimizers.SGD(1e-4))
            model.set_weights(initial)
            # 11 images in batches of 8: the last batch splits 2/1 across the replicas
            history = model.fit(squares(11), batch_size=8, shuffle=False, verbose=0)
            sampled[name] = (history.history["loss"][0], model.get_weights())
        sampled_difference = max(
            np.abs(a - b).max() for a, b in zip(sampled["single"][1], sampled["mirrored"][1])
        )
        print(json.dumps({
            "replicas": mirrored.num_replicas_in_sync,
            "relative_difference": float(difference / largest),
            "largest_step": float(largest),
            "loss": [logs["single"]["loss"][0], logs["mirrored"]["loss"][0]],
            "kl": [logs["single"]["kl"][0], logs["mirrored"]["kl"][0]],
            "sampled_loss": [sampled["single"][0], sampled["mirrored"][0]],
            "sampled_difference": float(sampled_difference / largest),
        }))
        """
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["largest_step"] > 1e-4
    # measured 5e-8; an unscaled loss (sum over 2 replicas) would give 1.0
    assert result["relative_difference"] < 1e-3
    np.testing.assert_allclose(*result["loss"], rtol=1e-5)
    np.testing.assert_allclose(*result["kl"], rtol=1e-4)
    # Sampled noise: each replica keeps its rows of the global batch's noise, and weighs its
    # loss by its share of an unevenly split batch, so the update is the single-device one.
    assert np.all(np.isfinite(result["sampled_loss"]))
    np.testing.assert_allclose(*result["sampled_loss"], rtol=1e-5)
    assert result["sampled_difference"] < 1e-3


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"beta": -1.0}, "beta"),
        ({"beta": float("nan")}, "beta"),
        ({"beta": "4"}, "beta"),
        ({"latent_dim": 0}, "latent_dim"),
        ({"objective": "elbo"}, "objective"),
        ({"objective": "capacity", "objective_args": {"gamma": -1.0}}, "gamma"),
        ({"objective": "capacity", "capacity_steps": -5}, "capacity_steps"),
        ({"objective": "capacity", "beta": 4.0}, "beta"),
        ({"reconstruction": "max"}, "reconstruction"),
    ],
)
def test_bad_constructor_arguments_are_input_errors_naming_them(kwargs, name):
    with pytest.raises(InputError, match=name):
        BetaVAE(**kwargs)


@pytest.fixture(scope="module")
def compiled():
    model = BetaVAE(seed=0)
    model.compile(keras.optimizers.Adam(1e-3))
    return model


@pytest.mark.parametrize(
    "images, message",
    [
        (np.zeros((4, 32, 32, 1), "float32"), r"x must be images of shape \(N, 64, 64, 1\)"),
        (np.zeros((4, 64, 64), "float32"), r"x must be images of shape"),
        (np.full((4, 64, 64, 1), 255, "uint8"), r"x must hold binary images.*\[255, 255\]"),
        (squares(4) / 2.0, r"x must hold binary images"),
    ],
)
def test_fit_rejects_images_of_the_wrong_shape_or_non_binary_values(compiled, images, message):
    with pytest.raises(InputError, match=message):
        compiled.fit(images, epochs=1, verbose=0)


def test_fit_checks_a_dataset_shape_and_its_first_batch(compiled):
    wrong_shape = tf.data.Dataset.from_tensor_slices(np.zeros((8, 28, 28, 1), "float32"))
    with pytest.raises(InputError, match=r"x must yield image batches.*28, 28, 1"):
        compiled.fit(wrong_shape.batch(4), verbose=0)
    grey = tf.data.Dataset.from_tensor_slices(squares(8) * 0.5).batch(4)
    with pytest.raises(InputError, match="x must hold binary images"):
        compiled.fit(grey, verbose=0)
    with pytest.raises(InputError, match="validation_data must hold binary images"):
        compiled.fit(squares(8), validation_data=(squares(4) * 0.5,), verbose=0)


@pytest.mark.parametrize("epochs", [0, -1, 1.5])
def test_fit_rejects_epochs_below_one(compiled, epochs):
    with pytest.raises(InputError, match=f"epochs must be an integer >= 1, got {epochs}"):
        compiled.fit(squares(4), epochs=epochs, verbose=0)


def test_encode_rejects_images_of_another_shape(compiled):
    with pytest.raises(InputError, match="images must have shape"):
        compiled.encode(np.zeros((2, 32, 32, 1), "float32"))


def test_networks_that_do_not_fit_together_are_input_errors():
    with pytest.raises(InputError, match="encoder must output"):
        BetaVAE(latent_dim=4, encoder=build_encoder(5))
    with pytest.raises(InputError, match="decoder must output"):
        BetaVAE(latent_dim=4, decoder=build_decoder(4, image_shape=(32, 32, 1)))


# -- the README example ------------------------------------------------------------------

SNIPPET = REPO / "docs" / "snippets" / "fit_example.py"


def test_readme_fit_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    source = SNIPPET.read_text()
    exec(compile(source, str(SNIPPET), "exec"), {"__name__": "__main__"})
    assert (tmp_path / "beta4.keras").exists()
    readme = REPO / "README.md"
    if readme.exists() and "## Use it in your own script" in readme.read_text():
        assert source.strip() in readme.read_text(), "README snippet differs from " + str(SNIPPET)


def test_a_colour_model_takes_unit_interval_pixels_and_keeps_its_shape_when_saved(tmp_path):
    model = BetaVAE(seed=0, image_shape=(64, 64, 3), binary=False)
    model.compile(keras.optimizers.Adam(1e-3))
    colour = (np.repeat(squares(8), 3, axis=3) * [0.5, 0.75, 1.0]).astype("float32")
    history = model.fit(colour, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert tuple(model.decode(np.zeros((1, 10), "float32")).shape) == (1, 64, 64, 3)
    with pytest.raises(
        InputError, match=r"x must hold pixel values in \[0, 1\], got .*\[0.0, 2.0\]"
    ):
        model.fit(colour * 2.0, epochs=1, verbose=0)
    with pytest.raises(InputError, match=r"x must be images of shape \(N, 64, 64, 3\)"):
        model.fit(squares(4), epochs=1, verbose=0)
    model.save(tmp_path / "colour.keras")
    loaded = keras.models.load_model(tmp_path / "colour.keras")
    assert loaded.binary is False and loaded.image_shape == (64, 64, 3)
    np.testing.assert_allclose(loaded(colour), model(colour), atol=1e-6)
