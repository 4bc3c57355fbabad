"""BetaVAE: a Keras model whose ``fit`` optimises a VAE objective (β-VAE by default).

Loss per image, averaged over the global batch: ``reconstruction`` + the objective's
regulariser (:mod:`kbetavae.model.objectives`: ``beta``, ``capacity``, ``btcvae``,
``dipvae_i``, ``dipvae_ii``, ``factorvae``).

``reconstruction`` is the Bernoulli negative log-likelihood (sigmoid cross-entropy on the
decoder's logits) summed over pixel values, all channels (``reconstruction="sum"``, the
likelihood of the papers) or averaged over them (``"mean"``, what some tools do: it
divides the reconstruction term by the number of pixels, so the same β weighs the KL term
4096× more on 64×64 images; :func:`normalised_beta` puts both on one scale). ``kl`` is
KL(q(z|x) ‖ N(0, I)) summed over latents. For images that are not binary (the colour
variants of dSprites) the same cross-entropy takes their values in [0, 1] as targets, as
disentanglement_lib's ``bernoulli_loss`` does: not a normalised likelihood, and its
minimum, the targets' entropy, is above 0.

The module is long because a Keras model's contract is: besides the dozen-line train
step, ``fit``/``evaluate`` input checks with one-line errors, ``get_config`` and legacy
configs, and logs shaped for multi-worker reduction.

Example:
    >>> import keras, numpy as np
    >>> images = (np.random.default_rng(0).random((64, 64, 64, 1)) > 0.5).astype("float32")
    >>> model = BetaVAE(beta=4.0, seed=0)
    >>> model.compile(keras.optimizers.Adam(1e-3))
    >>> history = model.fit(images, batch_size=32, epochs=1, verbose=0)
    >>> sorted(history.history)[:3]
    ['kl', 'kl_0', 'kl_1']
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kbetavae.data.factors import IMAGE_SHAPE
from kbetavae.errors import InputError
from kbetavae.model import catalog
from kbetavae.model.distributed import reducible_across_workers, replica_rows
from kbetavae.model.networks import build_decoder, build_encoder
from kbetavae.model.objectives import (
    Objective,
    check_choice,
    make_objective,
    parameters,
)
from kbetavae.model.scale import RECONSTRUCTIONS
from kbetavae.model.trackers import PerLatentMean
from kbetavae.validation import check_int, check_latent_dim, check_weight

DEFAULT_BETA = catalog.NO_BETA
# Constructor arguments of BetaVAE before objectives were objects: models saved then, and
# TrainConfig.model_kwargs until it passes objective_args, still give them.
LEGACY_CAPACITY_ARGS = ("gamma", "capacity_min", "capacity_max", "capacity_steps")


def kl_divergence(mu, logvar):
    """KL(N(μ, σ²) ‖ N(0, 1)) per example and latent, in nats (closed form)."""
    return 0.5 * (ops.exp(logvar) + ops.square(mu) - 1.0 - logvar)


def build_objective(
    objective: str | Objective,
    objective_args: dict | None = None,
    *,
    beta: float = DEFAULT_BETA,
    seed: int | None = None,
) -> Objective:
    """The objective of a BetaVAE: ``objective`` itself, or the one of that name.

    ``beta`` (BetaVAE's first argument) feeds an objective that has a β; for one without,
    it must stay at its default. ``seed`` seeds an objective that draws noise.
    """
    beta = check_weight("beta", beta)
    if isinstance(objective, Objective):
        if objective_args:
            raise InputError("objective_args is for an objective given by name, not an Objective")
        if beta != DEFAULT_BETA and beta != getattr(objective, "beta", None):
            raise InputError(f"beta={beta} differs from the objective's own ({objective.key!r})")
        return objective
    accepted = parameters(catalog.facts(objective).objective_class())
    args = catalog.resolve_beta(objective, beta, dict(objective_args or {}))
    if "seed" in accepted:
        args.setdefault("seed", seed)
    return make_objective(objective, **args)


@keras.saving.register_keras_serializable(package="kbetavae")
class BetaVAE(keras.Model):
    """A VAE whose ``train_step`` optimises an objective of :mod:`kbetavae.model.objectives`.

    Args:
        beta: β ≥ 0 of an objective that has one (``"beta"``, ``"btcvae"``); must stay 1
            for the others.
        latent_dim: number of latents z ≥ 1 (used to build the default networks).
        objective: a name in :mod:`kbetavae.model.catalog` or an :class:`Objective`.
        objective_args: parameters of an objective given by name, e.g.
            ``{"capacity_max": 25.0}`` or ``{"dataset_size": 50_000}`` for ``"btcvae"``.
        reconstruction: ``"sum"`` (default) or ``"mean"`` of the per-pixel Bernoulli NLL.
        image_shape: (H, W, C) of the data, for the default networks (default dSprites').
        binary: whether the data's pixels are 0/1 (dSprites); otherwise any value in
            [0, 1] (the colour variants). Checked on the images ``fit`` gets.
        encoder: images → (N, 2·z) (μ then log σ²); default :func:`build_encoder`.
        decoder: z → logits of the image shape; default :func:`build_decoder`.
        seed: seed of the reparameterisation noise and of an objective's own noise (weight
            init is seeded separately, e.g. by ``keras.utils.set_random_seed``).

    Logs of ``fit``/``evaluate``: ``loss``, ``reconstruction``, ``kl``, ``kl_0`` … ``kl_{z-1}``
    (per-example means over the epoch) and the objective's own: ``capacity`` (the current
    C), ``mi``/``tc``/``dimwise_kl`` (β-TCVAE), ``covariance_penalty`` (DIP-VAE),
    ``tc``/``discriminator_loss`` (FactorVAE).

    Example:
        >>> import keras
        >>> model = BetaVAE(beta=4.0, seed=0)
        >>> model.compile(keras.optimizers.Adam(1e-3))
        >>> mu, logvar = model.encode(np.zeros((2, 64, 64, 1), "float32"))
        >>> tuple(mu.shape), tuple(model.sample(3, seed=0).shape)
        ((2, 10), (3, 64, 64, 1))
        >>> BetaVAE(objective="capacity", objective_args={"capacity_max": 10.0}).objective.key
        'capacity'
    """

    def __init__(
        self,
        beta: float = DEFAULT_BETA,
        latent_dim: int = 10,
        *,
        objective: str | Objective = "beta",
        objective_args: dict | None = None,
        reconstruction: str = "sum",
        image_shape: tuple[int, int, int] = IMAGE_SHAPE,
        binary: bool = True,
        encoder: keras.Model | None = None,
        decoder: keras.Model | None = None,
        seed: int | None = None,
        **kwargs,
    ):
        legacy = {name: kwargs.pop(name) for name in LEGACY_CAPACITY_ARGS if name in kwargs}
        super().__init__(**kwargs)
        if objective == "capacity":
            objective_args = {**legacy, **(objective_args or {})}
        self.latent_dim = check_latent_dim(latent_dim)
        self.reconstruction = check_choice("reconstruction", reconstruction, RECONSTRUCTIONS)
        self.seed = seed
        self.binary = bool(binary)
        self.objective = build_objective(objective, objective_args, beta=beta, seed=seed)
        shape = tuple(int(d) for d in image_shape)
        self.encoder = (
            encoder if encoder is not None else build_encoder(latent_dim, image_shape=shape)
        )
        self.decoder = (
            decoder if decoder is not None else build_decoder(latent_dim, image_shape=shape)
        )
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.kl_per_latent_tracker = PerLatentMean(latent_dim, name="kl")
        self.objective_trackers = [keras.metrics.Mean(name=n) for n in self.objective.epoch_means]
        # Built at construction: save/export right after fit then never meets an unbuilt
        # subclassed model (the usual Keras pitfall).
        self.build((None, *self.encoder.input_shape[1:]))

    @property
    def beta(self) -> float:
        """The objective's β, or 1 for an objective without one."""
        return getattr(self.objective, "beta", DEFAULT_BETA)

    def build(self, input_shape):
        self.image_shape = tuple(int(d) for d in input_shape[1:])
        zeros = ops.zeros((1, *self.image_shape))
        moments = self.encoder(zeros)
        if tuple(moments.shape) != (1, 2 * self.latent_dim):
            raise InputError(
                f"encoder must output (N, 2 * latent_dim) = (N, {2 * self.latent_dim}), "
                f"got {tuple(moments.shape)}"
            )
        logits = self.decoder(ops.zeros((1, self.latent_dim)))
        if tuple(logits.shape[1:]) != self.image_shape:
            raise InputError(
                f"decoder must output logits of the image shape {self.image_shape}, "
                f"got {tuple(logits.shape[1:])}"
            )
        if not self.objective.built:  # deserialising builds it from its build config
            self.objective.build((None, self.latent_dim))

    @property
    def metrics(self):
        # Listed here so Keras resets them at the start of every epoch.
        return [
            self.loss_tracker,
            self.reconstruction_tracker,
            self.kl_tracker,
            self.kl_per_latent_tracker,
            *self.objective_trackers,
        ]

    # -- the model as users call it ------------------------------------------------------

    def encode(self, images):
        """Images (N, H, W, C) in [0, 1] → (μ, log σ²), each float32 (N, z)."""
        images = self._check_shape(images)
        moments = ops.cast(self.encoder(images), "float32")
        mu, logvar = ops.split(moments, 2, axis=-1)
        return mu, logvar

    def decode(self, z):
        """Codes (N, z) → pixel probabilities (N, H, W, C)."""
        return ops.sigmoid(ops.cast(self.decoder(z), "float32"))

    def call(self, images):
        """Reconstruction probabilities of ``images``, decoding the mean μ (deterministic)."""
        mu, _ = self.encode(images)
        return self.decode(mu)

    def sample(self, n: int, seed: int | None = None):
        """``n`` images (probabilities) decoded from codes drawn from the prior N(0, I)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InputError(f"n must be an integer >= 1, got {n!r}")
        return self.decode(keras.random.normal((n, self.latent_dim), seed=seed))

    # -- the objective -------------------------------------------------------------------

    def reparameterize(self, mu, logvar, rows=None):
        """z = μ + σ · ε with ε ~ N(0, I) seeded by the model's SeedGenerator.

        ``rows`` is ``(offset, global_size)`` of this replica's examples in the global batch
        (:func:`replica_rows`). Replicas share the generator's state, so each draws the
        noise of the whole global batch and keeps its own rows: every example gets its own
        noise, and the noise, like the data, does not depend on how many replicas share
        the batch (a multi-worker run follows the single-device one).
        """
        seed = self.seed_generator.next()
        size = tf.shape(mu)[0]
        offset, global_size = rows if rows is not None else (0, size)
        shape = tf.stack([global_size, tf.shape(mu)[1]])
        epsilon = tf.random.stateless_normal(shape, seed=seed, dtype=mu.dtype)
        return mu + ops.exp(0.5 * logvar) * epsilon[offset : offset + size]

    def compute_terms(self, images) -> dict:
        """Loss terms of a batch: per-example means of reconstruction, kl and the loss,
        the objective's logs, the codes ``z``, and ``batch_share``, this replica's
        fraction of the global batch (1 on one device).
        """
        images = ops.cast(images, "float32")
        mu, logvar = self.encode(images)
        rows = replica_rows(tf.shape(images)[0])
        z = self.reparameterize(mu, logvar, rows)
        logits = ops.cast(self.decoder(z), "float32")
        pixel_nll = ops.binary_crossentropy(images, logits, from_logits=True)
        per_image = ops.sum if self.reconstruction == "sum" else ops.mean
        # Sums divided by at least one: the last partial batch of a distributed epoch can
        # leave a replica without examples, whose terms are then 0, not NaN.
        size = ops.cast(tf.shape(images)[0], "float32")
        reconstruction = ops.sum(per_image(pixel_nll, axis=(1, 2, 3))) / ops.maximum(size, 1.0)
        kl_per_latent = ops.sum(kl_divergence(mu, logvar), axis=0) / ops.maximum(size, 1.0)
        kl = ops.sum(kl_per_latent)
        optimizer = getattr(self, "optimizer", None)  # None before compile
        step = optimizer.iterations if optimizer is not None else 0
        regulariser, logs = self.objective.regularizer(kl, mu, logvar, z, step)
        return {
            "loss": reconstruction + regulariser,
            "reconstruction": reconstruction,
            "kl": kl,
            "kl_per_latent": kl_per_latent,
            **logs,
            "z": z,
            "batch_share": 1.0 if rows is None else size / ops.cast(rows[1], "float32"),
        }

    def train_step(self, data):
        images = _images_of(data)
        auxiliary = self.objective.auxiliary_weights  # FactorVAE's discriminator
        with tf.GradientTape(persistent=bool(auxiliary)) as tape:
            tape.watch([weight.value for weight in auxiliary])  # not trainable: not watched
            terms = self.compute_terms(images)
            # Keras sums the replicas' gradients, so each replica optimises its examples'
            # share of the global batch mean (a last partial batch splits unevenly).
            loss = self.optimizer.scale_loss(terms["loss"] * terms["batch_share"])
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply(gradients, self.trainable_weights)
        self.objective.update(tape, terms)
        return self._track(terms, ops.shape(images)[0])

    def test_step(self, data):
        images = _images_of(data)
        return self._track(self.compute_terms(images), ops.shape(images)[0])

    def _track(self, terms: dict, batch_size) -> dict:
        self.loss_tracker.update_state(terms["loss"], sample_weight=batch_size)
        self.reconstruction_tracker.update_state(terms["reconstruction"], sample_weight=batch_size)
        self.kl_tracker.update_state(terms["kl"], sample_weight=batch_size)
        self.kl_per_latent_tracker.update_state(terms["kl_per_latent"], batch_size)
        for tracker in self.objective_trackers:
            tracker.update_state(terms[tracker.name], sample_weight=batch_size)
        logs = self.get_metrics_result()
        logs.update({name: terms[name] for name in self.objective.current_logs})
        return reducible_across_workers(logs)

    # -- input checks and serialisation --------------------------------------------------

    def fit(self, x=None, y=None, batch_size=None, epochs=1, **kwargs):
        """``keras.Model.fit`` after checking the images and ``epochs`` (InputError if bad)."""
        check_int("epochs", epochs, minimum=1)
        self.check_images(x, "x")
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # Keras cannot shuffle a Dataset, only warns
        if kwargs.get("validation_data") is not None:
            self.check_images(kwargs["validation_data"], "validation_data")
        return super().fit(x, y, batch_size=batch_size, epochs=epochs, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """``keras.Model.evaluate`` after checking the images (InputError if bad)."""
        self.check_images(x, "x")
        return super().evaluate(x, y, *args, **kwargs)

    def check_images(self, data, name: str = "x") -> None:
        """Raise InputError unless ``data`` holds images of the model's shape and values
        (0/1 for a binary model, else in [0, 1]).

        Arrays are checked whole; for a ``tf.data.Dataset`` the element shape is checked
        statically and the values of its first batch.
        """
        if isinstance(data, tf.data.Dataset):
            spec = _images_of(data.element_spec)
            if spec.shape.rank is not None and tuple(spec.shape[1:]) != self.image_shape:
                raise InputError(
                    f"{name} must yield image batches of shape (N, {_dims(self.image_shape)}), "
                    f"got {tuple(spec.shape)}"
                )
            for batch in data.take(1):
                _check_values(np.asarray(_images_of(batch)), name, self.binary)
            return
        if isinstance(data, tuple | list) and data:
            data = data[0]
        if data is None or isinstance(data, keras.utils.PyDataset) or callable(data):
            return  # generators and PyDatasets are checked by Keras as they run
        images = np.asarray(data)
        if images.ndim != 4 or images.shape[1:] != self.image_shape:
            raise InputError(
                f"{name} must be images of shape (N, {_dims(self.image_shape)}), got {images.shape}"
            )
        _check_values(images, name, self.binary)

    def _check_shape(self, images):
        shape = tuple(images.shape[1:])
        if len(shape) != len(self.image_shape) or any(
            got is not None and got != want
            for got, want in zip(shape, self.image_shape, strict=True)
        ):
            raise InputError(
                f"images must have shape (N, {_dims(self.image_shape)}), got {tuple(images.shape)}"
            )
        return images

    def get_config(self):
        config = super().get_config()
        config.update(
            beta=self.beta,
            latent_dim=self.latent_dim,
            objective=keras.saving.serialize_keras_object(self.objective),
            reconstruction=self.reconstruction,
            binary=self.binary,
            seed=self.seed,
            encoder=keras.saving.serialize_keras_object(self.encoder),
            decoder=keras.saving.serialize_keras_object(self.decoder),
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder", "objective"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def _check_values(images: np.ndarray, name: str, binary: bool) -> None:
    """InputError unless the pixels are 0/1 (``binary``) or within [0, 1]: the targets the
    Bernoulli cross-entropy takes. Binary data is held to 0/1 because dSprites scaled by
    1/255 would still lie in [0, 1]."""
    if not images.size:
        return
    if binary and not np.all((images == 0) | (images == 1)):
        lo, hi = np.nanmin(images), np.nanmax(images)
        raise InputError(
            f"{name} must hold binary images (pixel values 0 and 1), got values in "
            f"[{lo}, {hi}]; binarise with `images > 0`, do not divide by 255"
        )
    if not binary and not np.all((images >= 0) & (images <= 1)):
        lo, hi = np.nanmin(images), np.nanmax(images)
        raise InputError(
            f"{name} must hold pixel values in [0, 1], got values in [{lo}, {hi}]; "
            "divide uint8 images by 255"
        )


def _images_of(data):
    """The images of a batch that may be ``x``, ``(x,)`` or ``(x, y, ...)``."""
    return data[0] if isinstance(data, tuple | list) else data


def _dims(shape: tuple[int, ...]) -> str:
    return ", ".join(str(d) for d in shape)
