"""Objectives: each regulariser against the paper's formula and disentanglement_lib's, the
registry's input checks, and every objective trained, evaluated and saved through BetaVAE.

The paper formulas are transcribed here in numpy (float64). disentanglement_lib's
regularisers are its own TF1 functions (``methods/unsupervised/vae.py``) run eagerly under
TF 2.21 through ``tensorflow.compat.v1``; importing that module needs stand-ins for
modules it imports but these functions never use (``tensorflow.contrib``,
``tensorflow_probability``, ``tensorflow_hub``, ``gin.tf``). Its FactorVAE loss lives
inside a TF1 ``model_fn`` whose discriminator needs ``tf.layers`` (gone with Keras 3), so
that one is transcribed in numpy from the ``model_fn``.
"""

import json
import math
import os
import subprocess
import sys
import types

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.special import logsumexp

from kbetavae import BetaVAE
from kbetavae.errors import InputError
from kbetavae.model import OBJECTIVES, make_objective, normalised_beta

LATENTS, BATCH, DATASET_SIZE = 4, 6, 1000


@pytest.fixture(scope="module")
def codes():
    """A batch of posteriors (μ, log σ²), a sample z of each, and the closed-form KL."""
    rng = np.random.default_rng(3)
    mu = rng.normal(0.0, 1.0, (BATCH, LATENTS)).astype("float32")
    logvar = rng.normal(-1.0, 0.5, (BATCH, LATENTS)).astype("float32")
    z = (mu + np.exp(0.5 * logvar) * rng.normal(size=mu.shape)).astype("float32")
    kl = np.mean(np.sum(0.5 * (np.exp(logvar) + mu**2 - 1.0 - logvar), axis=1))
    return mu, logvar, z, np.float32(kl)


@pytest.fixture(scope="module")
def dlib():
    """disentanglement_lib's ``methods.unsupervised.vae`` module (see the module docstring)."""
    gin = pytest.importorskip("gin")
    stand_ins = {"gin.tf": gin}
    for name in ("tensorflow.contrib", "tensorflow_probability", "tensorflow_hub"):
        stand_ins[name] = types.ModuleType(name)
    stand_ins["tensorflow.contrib"].tpu = None
    added = [name for name in stand_ins if name not in sys.modules]
    sys.modules.update({name: stand_ins[name] for name in added})
    try:
        return pytest.importorskip("disentanglement_lib.methods.unsupervised.vae")
    finally:
        for name in added:
            del sys.modules[name]


def regularise(objective, codes, step=0):
    mu, logvar, z, kl = codes
    if not objective.built:
        objective.build((None, LATENTS))
    value, logs = objective.regularizer(kl, mu, logvar, z, step)
    return float(value), {name: float(v) for name, v in logs.items()}


def log_normal(x, mu, logvar):
    return -0.5 * (np.log(2 * np.pi) + logvar + (x - mu) ** 2 / np.exp(logvar))


def tc_decomposition(mu, logvar, z, n, estimator):
    """Chen et al. (2018): MI, TC and dimension-wise KL (eq. 2) with q(z) estimated by
    minibatch weighted (section 3) or stratified (appendix) sampling."""
    mu, logvar, z = (a.astype("float64") for a in (mu, logvar, z))
    m = len(z)
    pairs = log_normal(z[:, None, :], mu[None], logvar[None])  # [i, j, l]
    if estimator == "mws":
        weights = np.full((m, m), 1.0 / (n * m))
    else:
        weights = np.full((m, m), 1.0 / (m - 1))
        for i in range(m):
            weights[i, i] = 1.0 / n
            weights[i, (i + 1) % m] = (n - m + 1) / (n * (m - 1))
    log_qz = logsumexp(pairs.sum(2), axis=1, b=weights)
    log_qz_product = np.stack(
        [logsumexp(pairs[:, :, k], axis=1, b=weights) for k in range(z.shape[1])], 1
    ).sum(1)
    log_qz_given_x = log_normal(z, mu, logvar).sum(1)
    log_pz = log_normal(z, 0.0, 0.0).sum(1)
    mi = np.mean(log_qz_given_x - log_qz)
    tc = np.mean(log_qz - log_qz_product)
    dimwise_kl = np.mean(log_qz_product - log_pz)
    return mi, tc, dimwise_kl


def dip_penalty(covariance, lambda_od, lambda_d):
    """Kumar et al. (2018), eqs. 6-7: λ_od Σ_{i≠j} C_ij² + λ_d Σ_i (C_ii − 1)²."""
    off = covariance - np.diag(np.diag(covariance))
    return lambda_od * np.sum(off**2) + lambda_d * np.sum((np.diag(covariance) - 1.0) ** 2)


# -- each regulariser equals the paper's formula -----------------------------------------


def test_beta_regulariser_is_beta_times_kl(codes, dlib):
    # Higgins et al. (2017), eq. 4: L = E[log p(x|z)] − β·KL
    value, _ = regularise(make_objective("beta", beta=4.0), codes)
    np.testing.assert_allclose(value, 4.0 * codes[3], rtol=1e-5)
    np.testing.assert_allclose(
        value, float(dlib.BetaVAE(beta=4.0).regularizer(codes[3], *codes[:3])), rtol=1e-5
    )


def test_capacity_regulariser_is_gamma_times_the_distance_to_the_scheduled_capacity(codes, dlib):
    # Burgess et al. (2018), eq. 8: γ·|KL − C|, C = C_max · min(1, step / steps)
    objective = make_objective("capacity", gamma=1000.0, capacity_max=25.0, capacity_steps=100)
    value, logs = regularise(objective, codes, step=7)
    np.testing.assert_allclose(logs["capacity"], 25.0 * 7 / 100, rtol=1e-6)
    np.testing.assert_allclose(value, 1000.0 * abs(codes[3] - 1.75), rtol=1e-5)
    # disentanglement_lib's AnnealedVAE: gamma * |kl_loss - anneal(c_max, step, threshold)|
    theirs = 1000.0 * abs(codes[3] - float(dlib.anneal(25.0, 7, 100)))
    np.testing.assert_allclose(value, theirs, rtol=1e-5)


@pytest.mark.parametrize("estimator", ["mws", "mss"])
def test_btcvae_regulariser_is_the_weighted_decomposition(codes, estimator):
    mu, logvar, z, _ = codes
    objective = make_objective(
        "btcvae", beta=6.0, alpha=0.5, gamma=2.0, dataset_size=DATASET_SIZE, estimator=estimator
    )
    value, logs = regularise(objective, codes)
    mi, tc, dimwise_kl = tc_decomposition(mu, logvar, z, DATASET_SIZE, estimator)
    np.testing.assert_allclose(
        [logs["mi"], logs["tc"], logs["dimwise_kl"]], [mi, tc, dimwise_kl], rtol=1e-5, atol=1e-5
    )
    # Chen et al. (2018), eq. 4: α·MI + β·TC + γ·dimension-wise KL
    np.testing.assert_allclose(value, 0.5 * mi + 6.0 * tc + 2.0 * dimwise_kl, rtol=1e-5)
    # the three terms are a one-sample estimate of E[log q(z|x) − log p(z)]
    z, mu, logvar = (a.astype("float64") for a in (z, mu, logvar))
    monte_carlo_kl = np.mean(log_normal(z, mu, logvar).sum(1) - log_normal(z, 0.0, 0.0).sum(1))
    np.testing.assert_allclose(mi + tc + dimwise_kl, monte_carlo_kl, rtol=1e-9)


def test_btcvae_in_disentanglement_lib_form_equals_its_regulariser(codes, dlib):
    mu, logvar, z, kl = codes
    objective = make_objective(
        "btcvae", beta=6.0, dataset_size=DATASET_SIZE, form="disentanglement_lib"
    )
    value, logs = regularise(objective, codes)
    theirs = float(dlib.BetaTCVAE(beta=6.0).regularizer(kl, mu, logvar, z))
    np.testing.assert_allclose(value, theirs, rtol=1e-5)
    # their TC drops the constant (d − 1)·log(N·M) of the MWS estimate
    their_tc = float(dlib.total_correlation(z, mu, logvar))
    np.testing.assert_allclose(
        logs["tc"], their_tc + (LATENTS - 1) * math.log(DATASET_SIZE * BATCH), rtol=1e-5
    )


def test_mss_weights_of_each_code_sum_to_one():
    objective = make_objective("btcvae", dataset_size=DATASET_SIZE, estimator="mss")
    weights = np.exp(np.asarray(objective.log_weights(BATCH)))
    np.testing.assert_allclose(weights.sum(axis=1), np.ones(BATCH), rtol=1e-6)
    np.testing.assert_allclose(np.diag(weights), 1.0 / DATASET_SIZE, rtol=1e-6)


@pytest.mark.parametrize("name, factor", [("dipvae_i", 10.0), ("dipvae_ii", 1.0)])
def test_dip_regulariser_is_kl_plus_the_covariance_penalty(codes, dlib, name, factor):
    mu, logvar, z, kl = codes
    mu64 = mu.astype("float64")
    covariance = np.cov(mu64, rowvar=False, bias=True)  # Cov_p(x)[μ(x)]
    if name == "dipvae_ii":  # Cov_q(z)[z] = E_p(x)[Σ(x)] + Cov_p(x)[μ(x)]
        covariance = covariance + np.diag(np.exp(logvar.astype("float64")).mean(0))
    objective = make_objective(name, lambda_od=2.0)
    assert objective.lambda_d_factor == factor  # disentanglement_lib's study
    value, logs = regularise(objective, codes)
    penalty = dip_penalty(covariance, 2.0, factor * 2.0)
    np.testing.assert_allclose(logs["covariance_penalty"], penalty, rtol=1e-5)
    np.testing.assert_allclose(value, kl + penalty, rtol=1e-5)
    dip_type = name.split("_")[1]
    theirs = dlib.DIPVAE(2.0, factor, dip_type).regularizer(
        kl, tf.constant(mu), tf.constant(logvar), z
    )
    np.testing.assert_allclose(value, float(theirs), rtol=1e-5)


def test_factorvae_regulariser_and_discriminator_loss(codes):
    mu, logvar, z, kl = codes
    keras.utils.set_random_seed(0)
    objective = make_objective("factorvae", gamma=30.0, seed=0)
    objective.build((None, LATENTS))
    objective.permute_dims = lambda codes: codes[::-1]  # a known permutation
    value, logs = regularise(objective, codes)
    logits = objective.discriminator(z).numpy().astype("float64")
    permuted = objective.discriminator(z[::-1]).numpy().astype("float64")
    # Kim & Mnih (2018), eq. 2: KL + γ·E[log D(z)/(1 − D(z))]; with D = softmax of two
    # logits, log D/(1 − D) = logit_0 − logit_1 (disentanglement_lib's tc_loss)
    tc = np.mean(logits[:, 0] - logits[:, 1])
    np.testing.assert_allclose(logs["tc"], tc, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(value, kl + 30.0 * tc, rtol=1e-5)

    def probs(x):
        p = np.exp(x - logsumexp(x, axis=1, keepdims=True))
        return np.clip(p, 1e-6, 1 - 1e-6)

    # disentanglement_lib's model_fn: D maximises ½E[log p_0(z)] + ½E[log p_1(perm z)]
    their_loss = -(
        0.5 * np.mean(np.log(probs(logits)[:, 0])) + 0.5 * np.mean(np.log(probs(permuted)[:, 1]))
    )
    np.testing.assert_allclose(logs["discriminator_loss"], their_loss, rtol=1e-5)


def test_factorvae_permutes_each_latent_across_the_batch():
    objective = make_objective("factorvae", seed=1)
    z = np.arange(40, dtype="float32").reshape(10, 4)
    permuted = np.asarray(objective.permute_dims(z))
    for column in range(4):
        assert sorted(permuted[:, column]) == sorted(z[:, column])
    assert any((permuted[:, c] != z[:, c]).any() for c in range(4))
    orders = [tuple(np.argsort(permuted[:, c])) for c in range(4)]
    assert len(set(orders)) > 1  # latents are permuted independently


# -- normalised β ------------------------------------------------------------------------


def test_normalised_beta_follows_higgins_for_both_reductions():
    # β_norm = β·M/N (Higgins et al. 2017) with the likelihood summed over N pixels; a
    # mean over pixels is the summed loss divided by N, i.e. β·N in the summed form.
    assert normalised_beta(4.0, 10, 4096) == pytest.approx(4.0 * 10 / 4096)
    assert normalised_beta(4.0 / 4096, 10, 4096, "mean") == pytest.approx(
        normalised_beta(4.0, 10, 4096)
    )
    with pytest.raises(InputError, match="reconstruction"):
        normalised_beta(4.0, 10, 4096, "median")


def test_mean_reconstruction_is_the_sum_divided_by_the_pixels():
    images = (np.random.default_rng(0).random((4, 64, 64, 1)) > 0.5).astype("float32")
    terms = {}
    for reduction in ("sum", "mean"):
        keras.utils.set_random_seed(0)
        model = BetaVAE(reconstruction=reduction, seed=0)
        terms[reduction] = model.compute_terms(images)
    np.testing.assert_allclose(
        terms["mean"]["reconstruction"] * 4096, terms["sum"]["reconstruction"], rtol=1e-5
    )
    np.testing.assert_allclose(terms["mean"]["kl"], terms["sum"]["kl"], rtol=1e-6)


# -- registry and input checks -----------------------------------------------------------


def test_every_objective_names_its_main_weight_as_a_parameter():
    mains = {name: cls.main_weight for name, cls in OBJECTIVES.items()}
    assert mains == {
        "beta": "beta",
        "capacity": "capacity_max",
        "btcvae": "beta",
        "dipvae_i": "lambda_od",
        "dipvae_ii": "lambda_od",
        "factorvae": "gamma",
    }
    for name, weight in mains.items():
        params = {"dataset_size": 10} if name == "btcvae" else {}
        objective = make_objective(name, **{weight: 3.0}, **params)
        assert getattr(objective, weight) == 3.0


@pytest.mark.parametrize(
    "name, params, message",
    [
        ("elbo", {}, "objective must be one of"),
        ("beta", {"gamma": 1.0}, "objective 'beta' has no parameter 'gamma'"),
        ("beta", {"beta": -1.0}, "beta must be a finite number >= 0, got -1.0"),
        ("capacity", {"capacity_steps": 1.5}, "capacity_steps must be an integer >= 0"),
        ("btcvae", {}, "dataset_size"),
        ("btcvae", {"dataset_size": 0}, "dataset_size must be an integer >= 1, got 0"),
        ("btcvae", {"dataset_size": 9, "estimator": "is"}, "estimator must be one of"),
        ("btcvae", {"dataset_size": 9, "form": "disentanglement_lib", "alpha": 2.0}, "alpha"),
        ("dipvae_i", {"lambda_od": float("nan")}, "lambda_od"),
        ("factorvae", {"discriminator_beta_1": 1.0}, "discriminator_beta_1 must be in"),
        ("factorvae", {"discriminator_units": 0}, "discriminator_units"),
    ],
)
def test_bad_objectives_are_one_line_input_errors_naming_the_parameter(name, params, message):
    with pytest.raises(InputError, match=message) as error:
        make_objective(name, **params)
    assert "\n" not in str(error.value)


def test_beta_feeds_objectives_with_a_beta_and_is_rejected_by_the_others():
    assert (
        BetaVAE(4.0, objective="btcvae", objective_args={"dataset_size": 9}).objective.beta == 4.0
    )
    with pytest.raises(InputError, match="objective dipvae_i has no β.*lambda_od"):
        BetaVAE(4.0, objective="dipvae_i")
    with pytest.raises(InputError, match="disagree"):
        BetaVAE(4.0, objective="beta", objective_args={"beta": 2.0})


def test_capacity_arguments_of_models_saved_before_objectives_were_objects_still_load():
    old = {
        "beta": 1.0,
        "latent_dim": 3,
        "objective": "capacity",
        "gamma": 10.0,
        "capacity_min": 0.0,
        "capacity_max": 5.0,
        "capacity_steps": 9,
        "seed": 0,
    }
    model = BetaVAE.from_config(old)
    assert (model.objective.key, model.objective.gamma, model.objective.capacity_steps) == (
        "capacity",
        10.0,
        9,
    )


# -- every objective through BetaVAE: fit, metrics, save ---------------------------------

ARGS = {
    "beta": {"beta": 4.0},
    "capacity": {"capacity_max": 5.0, "capacity_steps": 64},
    "btcvae": {"beta": 6.0, "dataset_size": 512, "estimator": "mss"},
    "dipvae_i": {"lambda_od": 10.0},
    "dipvae_ii": {"lambda_od": 10.0},
    "factorvae": {"gamma": 10.0},
}
LOGS = {
    "beta": set(),
    "capacity": {"capacity"},
    "btcvae": {"mi", "tc", "dimwise_kl"},
    "dipvae_i": {"covariance_penalty"},
    "dipvae_ii": {"covariance_penalty"},
    "factorvae": {"tc", "discriminator_loss"},
}


@pytest.fixture(scope="module")
def replica():
    from kbetavae.data import open_source

    return open_source("replica")


@pytest.fixture(scope="module")
def trained(replica):
    """Each objective fitted for 3 short epochs on real replica images."""
    from kbetavae.data import training_dataset

    data = training_dataset(replica, subset=512, batch_size=32, seed=0)
    models, histories = {}, {}
    for name, args in ARGS.items():
        keras.utils.set_random_seed(0)
        model = BetaVAE(latent_dim=6, objective=name, objective_args=args, seed=0)
        model.compile(keras.optimizers.Adam(1e-3))
        histories[name] = model.fit(data, epochs=3, steps_per_epoch=8, verbose=0).history
        models[name] = model
    return models, histories


@pytest.mark.parametrize("name", list(ARGS))
def test_a_short_fit_lowers_the_loss_and_logs_the_objective_terms(trained, name):
    _, histories = trained
    history = histories[name]
    assert {"loss", "reconstruction", "kl", "kl_0", "kl_5"} | LOGS[name] <= set(history)
    assert np.all(np.isfinite(history["loss"]))
    assert history["loss"][-1] < history["loss"][0]


@pytest.mark.parametrize("name", list(ARGS))
def test_metrics_of_every_objective(trained, replica, name):
    from kbetavae.metrics import Protocol, evaluate

    models, _ = trained
    scores = evaluate(
        models[name],
        replica,
        protocol=Protocol(
            num_points=300,
            num_test_points=150,
            num_train=100,
            num_eval=50,
            num_variance_points=300,
        ),
    )
    for metric in ("mig", "zdiff", "modularity"):
        assert 0.0 <= scores[metric]["score"] <= 1.0


@pytest.mark.parametrize("name", list(ARGS))
def test_keras_round_trip_gives_identical_outputs(trained, tmp_path, name):
    models, _ = trained
    model = models[name]
    images = (np.random.default_rng(1).random((4, 64, 64, 1)) > 0.5).astype("float32")
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert json.dumps(loaded.get_config()) == json.dumps(model.get_config())
    np.testing.assert_array_equal(loaded(images), model(images))
    for ours, theirs in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert int(loaded.optimizer.iterations) == 24


def test_factorvae_discriminator_and_its_optimizer_survive_save_and_load_weights(trained, tmp_path):
    models, _ = trained
    model = models["factorvae"]
    optimizer = model.objective.discriminator_optimizer
    assert int(optimizer.iterations) == 24  # trained in every step, alongside the VAE
    model.save(tmp_path / "model.keras")
    model.save_weights(tmp_path / "model.weights.h5")
    for path in ("model.keras", "model.weights.h5"):
        keras.utils.set_random_seed(1)
        if path.endswith(".keras"):
            other = keras.models.load_model(tmp_path / path)
        else:
            other = BetaVAE(latent_dim=6, objective="factorvae", objective_args=ARGS["factorvae"])
            other.load_weights(tmp_path / path)
        for ours, theirs in zip(
            model.objective.discriminator.weights,
            other.objective.discriminator.weights,
            strict=True,
        ):
            np.testing.assert_array_equal(ours, theirs)
        theirs = other.objective.discriminator_optimizer.variables
        assert len(theirs) == len(optimizer.variables)
        for ours, restored in zip(optimizer.variables, theirs, strict=True):
            np.testing.assert_array_equal(ours, restored)


def test_backup_and_restore_resumes_factorvae_with_its_discriminator(replica, tmp_path):
    from kbetavae.data import training_dataset

    data = training_dataset(replica, subset=128, batch_size=32, seed=0)

    def fresh():
        keras.utils.set_random_seed(0)
        model = BetaVAE(
            latent_dim=4, objective="factorvae", objective_args={"discriminator_units": 32}, seed=0
        )
        model.compile(keras.optimizers.Adam(1e-3))
        return model

    first = fresh()
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"), delete_checkpoint=False)
    first.fit(data, epochs=2, verbose=0, callbacks=[backup])
    resumed = fresh()
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"), delete_checkpoint=False)
    resumed.fit(data, epochs=2, verbose=0, callbacks=[backup])  # both epochs already done
    assert int(resumed.objective.discriminator_optimizer.iterations) == 8
    for ours, theirs in zip(
        first.objective.discriminator_optimizer.variables,
        resumed.objective.discriminator_optimizer.variables,
        strict=True,
    ):
        np.testing.assert_array_equal(ours, theirs)
    for ours, theirs in zip(first.weights, resumed.weights, strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_a_factorvae_model_exports_the_serving_signatures_only(trained, tmp_path):
    from kbetavae.trained.export import export_saved_model

    models, _ = trained
    model = models["factorvae"]
    path = export_saved_model(model, tmp_path / "1")
    served = tf.saved_model.load(path)
    assert set(served.signatures) == {"serving_default", "encode", "decode", "reconstruct"}
    images = (np.random.default_rng(2).random((3, 64, 64, 1)) > 0.5).astype("float32")
    mu, logvar = model.encode(images)
    encoded = served.signatures["encode"](images=tf.constant(images))
    np.testing.assert_allclose(encoded["mu"], mu, atol=1e-6)
    np.testing.assert_allclose(encoded["logvar"], logvar, atol=1e-6)
    probs = served.signatures["reconstruct"](images=tf.constant(images))["probs"]
    np.testing.assert_allclose(probs, model(images), atol=1e-6)


AUTOGRAPH_PROBE = """
import keras, numpy as np, tensorflow as tf
from kbetavae import BetaVAE
from kbetavae.model import OBJECTIVES
from kbetavae.model.objectives import parameters

images = tf.constant((np.random.default_rng(0).random((8, 64, 64, 1)) > 0.9).astype("float32"))
for name, cls in OBJECTIVES.items():
    args = {"dataset_size": 64} if "dataset_size" in parameters(cls) else {}
    model = BetaVAE(latent_dim=4, objective=name, objective_args=args, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model(images)
    tf.function(model.train_step)(images)  # traced with AutoGraph, as fit() does
    print("traced", name, flush=True)
"""


@pytest.mark.slow
def test_tracing_every_objectives_step_prints_no_autograph_warning():
    # A fresh process: AutoGraph warns once per function and caches what it converted.
    # Cause of the warning this pins: Objective.update's docstring-only body.
    result = subprocess.run(
        [sys.executable, "-c", AUTOGRAPH_PROBE],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert [line.split()[1] for line in result.stdout.splitlines()] == list(OBJECTIVES)
    assert "AutoGraph" not in output, output[-3000:]
