"""The objectives BetaVAE optimises: one class per paper, behind one hook.

Every objective adds a regulariser to the reconstruction term; the hook is
``regularizer(kl, mu, logvar, z, step) -> (value, logs)`` — disentanglement_lib's
``regularizer(kl_loss, z_mean, z_logvar, z_sampled)`` plus the optimizer step (the capacity
schedule needs it) and named logs. ``kl`` is KL(q(z|x) ‖ N(0, I)) in closed form, summed
over latents and averaged over the batch; ``mu``, ``logvar`` and ``z`` (one sample of
q(z|x)) are (batch, latents). Terms estimated on a minibatch (β-TCVAE, DIP-VAE, FactorVAE)
use this replica's rows of the batch.

=============  ==========================================
name           regulariser
=============  ==========================================
``beta``       β·KL (Higgins et al. 2017)
``capacity``   γ·|KL − C| (Burgess et al. 2018)
``btcvae``     α·MI + β·TC + γ·dim-wise KL (Chen 2018)
``dipvae_i``   KL + DIP penalty on Cov[μ] (Kumar 2018)
``dipvae_ii``  KL + DIP penalty on Cov[z] (Kumar 2018)
``factorvae``  KL + γ·TC, TC from a discriminator (Kim)
=============  ==========================================

What the rest of kbetavae knows about each (its main weight, whether β applies, whether it
can fuse, its run name) is :mod:`kbetavae.model.catalog`'s table.

The module is long because it holds all six objectives side by side — each a small class
with its paper's formula — so that they read against each other and share their helpers.

Objectives are Keras layers so that a model saves and restores them with itself: their
parameters through ``get_config``, FactorVAE's discriminator and its optimizer through the
weights (``.keras`` files and ``save_weights``, hence ``BackupAndRestore``).

Example:
    >>> objective = make_objective("btcvae", beta=6.0, dataset_size=50_000)
    >>> objective.main_weight, getattr(objective, objective.main_weight)
    ('beta', 6.0)
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import keras
from keras import ops

from kbetavae.errors import InputError
from kbetavae.model import catalog
from kbetavae.validation import check_int, check_weight

LOG_2PI = math.log(2.0 * math.pi)


def check_choice(name: str, value, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``, or InputError naming ``name``."""
    if value not in choices:
        raise InputError(f"{name} must be one of {choices}, got {value!r}")
    return value


def gaussian_log_density(x, mu, logvar):
    """log N(x; μ, exp(logvar)) elementwise, in nats."""
    return -0.5 * (LOG_2PI + logvar + ops.square(x - mu) * ops.exp(-logvar))


def batch_mean(values):
    """Mean over the batch axis; 0, not NaN, for a replica left without examples."""
    size = ops.maximum(ops.cast(ops.shape(values)[0], "float32"), 1.0)
    return ops.sum(values, axis=0) / size


def capacity_schedule(step, capacity_min: float, capacity_max: float, capacity_steps: int):
    """The target KL C at optimizer ``step``: linear from C_min to C_max, then constant."""
    step = ops.cast(step, "float32")
    if capacity_steps <= 0:
        return ops.cast(capacity_max, "float32") + 0.0 * step
    progress = ops.minimum(step / float(capacity_steps), 1.0)
    return capacity_min + (capacity_max - capacity_min) * progress


class _MainWeight:
    """``cls.main_weight``: the table's, so the class never restates it."""

    def __get__(self, obj, cls) -> str:
        return catalog.facts(cls.key).main_weight


class Objective(keras.layers.Layer):
    """What BetaVAE adds to the reconstruction term.

    To add one: subclass, and register its facts (main weight, β, fusable, run name) with
    :func:`kbetavae.model.catalog.register`. Class attributes: ``key`` (its name in that
    table), ``epoch_means`` (logs averaged over the epoch like ``kl``) and
    ``current_logs`` (logs reported at their value of the last step, e.g. a schedule);
    ``main_weight`` is read from the table.
    """

    key: ClassVar[str] = ""
    main_weight = _MainWeight()
    epoch_means: ClassVar[tuple[str, ...]] = ()
    current_logs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **kwargs):
        # The VAE optimizer updates the model's trainable weights; an objective's own
        # weights (FactorVAE's discriminator) have their own optimizer.
        kwargs.pop("trainable", None)
        super().__init__(trainable=False, **kwargs)

    def build(self, input_shape):
        """Create the objective's weights for codes of ``input_shape`` (batch, latents)."""
        self.built = True

    def regularizer(self, kl, mu, logvar, z, step) -> tuple[Any, dict]:
        """The regulariser (a scalar) and the named logs of one batch."""
        raise NotImplementedError

    @property
    def auxiliary_weights(self) -> list:
        """Weights trained by :meth:`update` rather than by the VAE optimizer."""
        return []

    def update(self, tape, terms: dict) -> None:
        """Train the auxiliary weights on a step's ``terms`` (recorded on ``tape``)."""
        # A statement, not only the docstring: AutoGraph turns a docstring-only body into
        # an empty block and warns that it "could not transform" the method.
        return None


@keras.saving.register_keras_serializable(package="kbetavae")
class Beta(Objective):
    """β·KL: β-VAE (Higgins et al. 2017, eq. 4); β = 1 is the ELBO of a plain VAE."""

    key = "beta"

    def __init__(self, beta: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.beta = check_weight("beta", beta)

    def regularizer(self, kl, mu, logvar, z, step):
        return self.beta * kl, {}

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}


@keras.saving.register_keras_serializable(package="kbetavae")
class Capacity(Objective):
    """γ·|KL − C|: controlled capacity (Burgess et al. 2018, eq. 8).

    C rises linearly from ``capacity_min`` to ``capacity_max`` nats over
    ``capacity_steps`` optimizer steps, then holds (disentanglement_lib's "annealed VAE"
    starts from 0). The paper's dSprites run: γ = 1000, C to 25 nats over 100,000 steps.
    """

    key = "capacity"
    current_logs = ("capacity",)

    def __init__(
        self,
        gamma: float = 1000.0,
        capacity_min: float = 0.0,
        capacity_max: float = 25.0,
        capacity_steps: int = 100_000,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.gamma = check_weight("gamma", gamma)
        self.capacity_min = check_weight("capacity_min", capacity_min)
        self.capacity_max = check_weight("capacity_max", capacity_max)
        self.capacity_steps = check_int("capacity_steps", capacity_steps, minimum=0)

    def regularizer(self, kl, mu, logvar, z, step):
        capacity = capacity_schedule(
            step, self.capacity_min, self.capacity_max, self.capacity_steps
        )
        return self.gamma * ops.abs(kl - capacity), {"capacity": capacity}

    def get_config(self):
        return {
            **super().get_config(),
            "gamma": self.gamma,
            "capacity_min": self.capacity_min,
            "capacity_max": self.capacity_max,
            "capacity_steps": self.capacity_steps,
        }


@keras.saving.register_keras_serializable(package="kbetavae")
class BetaTC(Objective):
    """β-TCVAE (Chen et al. 2018, "Isolating sources of disentanglement in VAEs").

    The KL term decomposes (eq. 2) into the index-code mutual information MI, the total
    correlation TC = KL(q(z) ‖ ∏_j q(z_j)) and the dimension-wise KL Σ_j KL(q(z_j) ‖ p(z_j));
    eq. 4 weighs them α, β, γ. q(z) and q(z_j) are estimated on the minibatch of M codes
    out of a dataset of N = ``dataset_size`` images:

    - ``estimator="mws"``, minibatch weighted sampling (section 3 of the paper):
      q(z_i) ≈ 1/(N·M) Σ_j q(z_i | x_j).
    - ``estimator="mss"``, minibatch stratified sampling (the paper's appendix): weight 1/N for the
      code's own image, (N − M + 1)/(N·(M − 1)) for one other (here the next row, cyclic)
      and 1/(M − 1) for the remaining M − 2; the weights sum to 1.

    ``form="decomposition"`` (default) is the paper's α·MI + β·TC + γ·dim-wise KL, each a
    one-sample Monte-Carlo estimate (they sum to a Monte-Carlo KL, not the closed form).
    ``form="disentanglement_lib"`` is that library's regulariser KL + (β − 1)·TC: the
    closed-form KL, α = γ = 1, and the MWS TC without its constant (d − 1)·log(N·M), so N
    does not change the loss. Logs ``mi``, ``tc`` and ``dimwise_kl`` are the paper's
    estimates in both forms.
    """

    key = "btcvae"
    epoch_means = ("mi", "tc", "dimwise_kl")
    ESTIMATORS = ("mws", "mss")
    FORMS = ("decomposition", "disentanglement_lib")

    def __init__(
        self,
        beta: float = 1.0,
        dataset_size: int | None = None,
        alpha: float = 1.0,
        gamma: float = 1.0,
        estimator: str = "mws",
        form: str = "decomposition",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.beta = check_weight("beta", beta)
        if dataset_size is None:
            raise InputError(
                "dataset_size (the number of training images) is required by objective 'btcvae'"
            )
        self.dataset_size = check_int("dataset_size", dataset_size, minimum=1)
        self.alpha = check_weight("alpha", alpha)
        self.gamma = check_weight("gamma", gamma)
        self.estimator = check_choice("estimator", estimator, self.ESTIMATORS)
        self.form = check_choice("form", form, self.FORMS)
        if self.form == "disentanglement_lib" and (
            self.alpha != 1.0 or self.gamma != 1.0 or self.estimator != "mws"
        ):
            raise InputError(
                "form 'disentanglement_lib' means alpha = gamma = 1 and estimator 'mws', got "
                f"alpha={self.alpha}, gamma={self.gamma}, estimator={self.estimator!r}"
            )

    def log_weights(self, batch_size):
        """log of the (M, M) weights of q(z_i | x_j) in the estimate of q(z_i)."""
        size = ops.cast(batch_size, "float32")
        n = float(self.dataset_size)
        if self.estimator == "mws":
            return ops.zeros((batch_size, batch_size)) - ops.log(n * size)
        own = ops.eye(batch_size)
        following = ops.roll(own, shift=1, axis=1)  # row i, column i + 1 (mod M)
        others = ops.maximum(size - 1.0, 1.0)
        weights = (
            own / n + following * (n - size + 1.0) / (n * others) + (1.0 - own - following) / others
        )
        return ops.log(weights)

    def regularizer(self, kl, mu, logvar, z, step):
        batch_size = ops.shape(z)[0]
        latents = ops.shape(z)[1]
        # [i, j, l] = log q(z_il | x_j): every code under every image's posterior
        pairs = gaussian_log_density(z[:, None, :], mu[None, :, :], logvar[None, :, :])
        log_weights = self.log_weights(batch_size)
        log_qz = ops.logsumexp(ops.sum(pairs, axis=2) + log_weights, axis=1)
        log_qz_product = ops.sum(ops.logsumexp(pairs + log_weights[:, :, None], axis=1), axis=1)
        log_qz_given_x = ops.sum(gaussian_log_density(z, mu, logvar), axis=1)
        log_pz = ops.sum(gaussian_log_density(z, 0.0, 0.0), axis=1)
        logs = {
            "mi": batch_mean(log_qz_given_x - log_qz),
            "tc": batch_mean(log_qz - log_qz_product),
            "dimwise_kl": batch_mean(log_qz_product - log_pz),
        }
        if self.form == "disentanglement_lib":
            size = ops.cast(batch_size, "float32")
            constant = (ops.cast(latents, "float32") - 1.0) * ops.log(self.dataset_size * size)
            return kl + (self.beta - 1.0) * (logs["tc"] - constant), logs
        loss = self.alpha * logs["mi"] + self.beta * logs["tc"] + self.gamma * logs["dimwise_kl"]
        return loss, logs

    def get_config(self):
        return {
            **super().get_config(),
            "beta": self.beta,
            "dataset_size": self.dataset_size,
            "alpha": self.alpha,
            "gamma": self.gamma,
            "estimator": self.estimator,
            "form": self.form,
        }


class DIP(Objective):
    """DIP-VAE (Kumar et al. 2018, "Variational inference of disentangled latent concepts
    from unlabeled observations"): KL plus a penalty pulling a covariance towards I,

        λ_od · Σ_{i≠j} Cov_ij² + λ_d · Σ_i (Cov_ii − 1)²,   λ_d = ``lambda_d_factor`` · λ_od,

    on Cov_p(x)[μ(x)] (DIP-VAE-I, eq. 6) or Cov_q(z)[z] = E_p(x)[Σ(x)] + Cov_p(x)[μ(x)]
    (DIP-VAE-II, eq. 7), both over the minibatch (population covariance, as
    disentanglement_lib). disentanglement_lib's study fixes λ_d/λ_od at 10 (I) and 1 (II).
    """

    epoch_means = ("covariance_penalty",)
    default_lambda_d_factor: ClassVar[float] = 1.0

    def __init__(self, lambda_od: float = 1.0, lambda_d_factor: float | None = None, **kwargs):
        super().__init__(**kwargs)
        self.lambda_od = check_weight("lambda_od", lambda_od)
        if lambda_d_factor is None:
            lambda_d_factor = self.default_lambda_d_factor
        self.lambda_d_factor = check_weight("lambda_d_factor", lambda_d_factor)

    def covariance(self, mu, logvar):
        raise NotImplementedError

    def regularizer(self, kl, mu, logvar, z, step):
        covariance = self.covariance(mu, logvar)
        diagonal = ops.diagonal(covariance)
        off_diagonal = covariance - ops.diag(diagonal)
        penalty = self.lambda_od * ops.sum(ops.square(off_diagonal)) + (
            self.lambda_d_factor * self.lambda_od * ops.sum(ops.square(diagonal - 1.0))
        )
        return kl + penalty, {"covariance_penalty": penalty}

    def get_config(self):
        return {
            **super().get_config(),
            "lambda_od": self.lambda_od,
            "lambda_d_factor": self.lambda_d_factor,
        }


def mean_covariance(mu):
    """Cov[μ] over the batch: E[μ μᵀ] − E[μ] E[μ]ᵀ (divided by the batch size)."""
    mean = batch_mean(mu)
    return batch_mean(mu[:, :, None] * mu[:, None, :]) - mean[:, None] * mean[None, :]


@keras.saving.register_keras_serializable(package="kbetavae")
class DIPI(DIP):
    __doc__ = DIP.__doc__
    key = "dipvae_i"
    default_lambda_d_factor = 10.0

    def covariance(self, mu, logvar):
        return mean_covariance(mu)


@keras.saving.register_keras_serializable(package="kbetavae")
class DIPII(DIP):
    __doc__ = DIP.__doc__
    key = "dipvae_ii"
    default_lambda_d_factor = 1.0

    def covariance(self, mu, logvar):
        return ops.diag(batch_mean(ops.exp(logvar))) + mean_covariance(mu)


@keras.saving.register_keras_serializable(package="kbetavae")
class Factor(Objective):
    """FactorVAE (Kim & Mnih 2018, "Disentangling by factorising", eq. 2): KL + γ·TC.

    TC = E_q(z)[log D(z) / (1 − D(z))] with D a discriminator telling codes of q(z) from
    codes whose latents were each permuted across the batch (algorithm 2; samples of
    ∏_j q(z_j)). As in disentanglement_lib: D is 6 × Dense(1000, leaky ReLU) → 2 logits,
    TC = mean(logit_real − logit_permuted), the permuted codes come from the same batch,
    and D maximises ½·E[log D(z)] + ½·E[log(1 − D(perm z))] (probabilities clipped to
    [1e-6, 1 − 1e-6]), with its own Adam (lr 1e-4, β1 0.5, β2 0.9, the paper's appendix)
    in the same step. Logs ``tc`` and ``discriminator_loss`` (the loss D minimises).
    """

    key = "factorvae"
    epoch_means = ("tc", "discriminator_loss")

    def __init__(
        self,
        gamma: float = 10.0,
        discriminator_units: int = 1000,
        discriminator_layers: int = 6,
        discriminator_lr: float = 1e-4,
        discriminator_beta_1: float = 0.5,
        discriminator_beta_2: float = 0.9,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.gamma = check_weight("gamma", gamma)
        self.discriminator_units = check_int("discriminator_units", discriminator_units, minimum=1)
        self.discriminator_layers = check_int(
            "discriminator_layers", discriminator_layers, minimum=0
        )
        self.discriminator_lr = check_weight("discriminator_lr", discriminator_lr)
        for name, value in (
            ("discriminator_beta_1", discriminator_beta_1),
            ("discriminator_beta_2", discriminator_beta_2),
        ):
            if check_weight(name, value) >= 1.0:
                raise InputError(f"{name} must be in [0, 1), got {value!r}")
        self.discriminator_beta_1 = float(discriminator_beta_1)
        self.discriminator_beta_2 = float(discriminator_beta_2)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        hidden = [
            keras.layers.Dense(self.discriminator_units, activation="leaky_relu")
            for _ in range(self.discriminator_layers)
        ]
        self.discriminator = keras.Sequential(
            [keras.Input((int(input_shape[-1]),)), *hidden, keras.layers.Dense(2)],
            name="discriminator",
        )
        self.discriminator.trainable = False  # see Objective.__init__
        self.discriminator_optimizer = keras.optimizers.Adam(
            self.discriminator_lr,
            beta_1=self.discriminator_beta_1,
            beta_2=self.discriminator_beta_2,
            name="discriminator_optimizer",
        )
        # Built now, so a loaded model has the slots its saved optimizer state fills.
        self.discriminator_optimizer.build(self.discriminator.weights)
        self.built = True

    @property
    def auxiliary_weights(self) -> list:
        return self.discriminator.weights

    def permute_dims(self, z):
        """Each latent permuted across the batch independently (algorithm 1)."""
        order = ops.argsort(keras.random.uniform(ops.shape(z), seed=self.seed_generator), axis=0)
        return ops.take_along_axis(z, order, axis=0)

    def regularizer(self, kl, mu, logvar, z, step):
        logits = ops.cast(self.discriminator(z), "float32")
        tc = batch_mean(logits[:, 0] - logits[:, 1])
        # D's loss reuses D(z): :meth:`update` differentiates it only in D's weights.
        permuted_logits = ops.cast(
            self.discriminator(self.permute_dims(ops.stop_gradient(z))), "float32"
        )
        real = ops.clip(ops.softmax(logits), 1e-6, 1 - 1e-6)
        permuted = ops.clip(ops.softmax(permuted_logits), 1e-6, 1 - 1e-6)
        discriminator_loss = -0.5 * (
            batch_mean(ops.log(real[:, 0])) + batch_mean(ops.log(permuted[:, 1]))
        )
        return kl + self.gamma * tc, {"tc": tc, "discriminator_loss": discriminator_loss}

    def update(self, tape, terms):
        weights = self.discriminator.weights
        # The tape closed after the VAE's loss: D's loss is scaled (replica share, loss
        # scaling) through the output gradient; D's weights are not trainable (not the
        # VAE optimizer's), so the tape knows them by their TensorFlow variables.
        scale = self.discriminator_optimizer.scale_loss(terms["batch_share"])
        gradients = tape.gradient(
            terms["discriminator_loss"],
            [weight.value for weight in weights],
            output_gradients=ops.convert_to_tensor(scale, "float32"),
        )
        self.discriminator_optimizer.apply(gradients, weights)

    def get_config(self):
        return {
            **super().get_config(),
            "gamma": self.gamma,
            "discriminator_units": self.discriminator_units,
            "discriminator_layers": self.discriminator_layers,
            "discriminator_lr": self.discriminator_lr,
            "discriminator_beta_1": self.discriminator_beta_1,
            "discriminator_beta_2": self.discriminator_beta_2,
            "seed": self.seed,
        }


class _Classes(Mapping):
    """name -> objective class, for every objective in :mod:`kbetavae.model.catalog`."""

    def __getitem__(self, name: str) -> type[Objective]:
        if name not in catalog.names():
            raise KeyError(name)
        return catalog.facts(name).objective_class()

    def __iter__(self) -> Iterator[str]:
        return iter(catalog.names())

    def __len__(self) -> int:
        return len(catalog.names())


OBJECTIVES: Mapping[str, type[Objective]] = _Classes()


def parameters(cls: type[Objective]) -> tuple[str, ...]:
    """The constructor parameters of an objective class (what ``make_objective`` takes)."""
    signature = inspect.signature(cls.__init__)
    return tuple(
        name
        for name, p in signature.parameters.items()
        if name != "self" and p.kind is p.POSITIONAL_OR_KEYWORD
    )


def make_objective(name: str, **params) -> Objective:
    """The objective registered as ``name`` with ``params``; InputError if either is unknown.

    Example:
        >>> make_objective("capacity", capacity_max=10.0).capacity_max
        10.0
    """
    cls = catalog.facts(name).objective_class()
    unknown = sorted(set(params) - set(parameters(cls)))
    if unknown:
        raise InputError(
            f"objective {name!r} has no parameter {unknown[0]!r} "
            f"(its parameters: {', '.join(parameters(cls))})"
        )
    return cls(**params)
