"""FusedVAE: K BetaVAE members trained in one step on the same batches.

The βs of one seed see the same batches in the same order (the pipeline's order depends on
(seed, epoch) alone), so one ``fit`` can train them together: each step runs every
member's forward and backward pass as independent subgraphs of one ``tf.function``, which
TensorFlow schedules in parallel across cores and which share one input pipeline and one
Python/Keras step overhead. Each member keeps its own weights, noise (its SeedGenerator)
and optimizer, so it ends up the model it would have been trained alone.

A member whose loss becomes NaN or infinite stops being updated (its optimizer step is
skipped from then on) and is marked dead in ``alive``; the others go on.

Logs: every member's logs under ``<name>@<k>`` (``loss@0``, ``kl_3@2``, ``val_loss@1``);
:func:`member_logs` splits them back.

Example:
    >>> import keras
    >>> members = []
    >>> for beta in (1.0, 4.0):
    ...     keras.utils.set_random_seed(0)
    ...     member = BetaVAE(beta=beta, seed=0)
    ...     member.compile(keras.optimizers.Adam(1e-3))
    ...     members.append(member)
    >>> fused = FusedVAE(members)
    >>> fused.compile()  # members step their own optimizers
    >>> fused.fit(images, batch_size=32, verbose=0)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf
from keras import ops

from kbetavae.errors import InputError
from kbetavae.model.vae import PerLatentMean

SEPARATOR = "@"
# Terms logged as epoch means, as BetaVAE logs them; other scalar terms (the capacity C)
# are reported as their current value.
MEAN_TERMS = ("loss", "reconstruction", "kl")


@keras.saving.register_keras_serializable(package="kbetavae")
class FusedVAE(keras.Model):
    """Train compiled ``members`` (each with its own optimizer) in one step.

    Args:
        members: BetaVAE models (anything with ``compute_terms``, ``optimizer``,
            ``trainable_weights``), each compiled with its own optimizer, all taking the
            same image shape. A member whose trainable weights are more than its encoder's
            and decoder's (an objective with its own adversary) cannot be fused.
    """

    def __init__(self, members: Sequence[keras.Model], **kwargs):
        super().__init__(**kwargs)
        members = list(members)
        if not members:
            raise InputError("members must hold at least one model")
        for k, member in enumerate(members):
            if getattr(member, "optimizer", None) is None:
                raise InputError(f"members[{k}] must be compiled with its own optimizer")
            if not is_fusable(member):
                raise InputError(
                    f"members[{k}] trains weights beyond its encoder and decoder (an "
                    "adversary); train it on its own"
                )
            # Built now: a fused step must not create optimizer variables inside tf.cond.
            member.optimizer.build(member.trainable_weights)
        self.members = members
        self.alive = self.add_weight(
            shape=(len(members),), initializer="ones", dtype="int32", trainable=False, name="alive"
        )
        self._trackers = [_MemberTrackers(m.latent_dim, k) for k, m in enumerate(members)]
        self.built = True

    def compile(self, optimizer="adam", **kwargs):
        """``keras.Model.compile``; ``optimizer`` is Keras' required one, left empty: each
        member steps its own (so the backup holds no unused Adam moments)."""
        super().compile(optimizer=optimizer, **kwargs)
        self.optimizer.build([])

    @property
    def metrics(self):
        return [metric for trackers in self._trackers for metric in trackers.metrics]

    def train_step(self, data):
        images = data[0] if isinstance(data, tuple | list) else data
        with tf.GradientTape() as tape:
            terms = [member.compute_terms(images) for member in self.members]
            # One gradient of the sum: each member's weights get exactly its own loss's
            # gradient (the sum passes 1 to every term), and TF runs the K backward passes
            # as independent subgraphs.
            total = ops.sum(
                ops.stack(
                    [
                        member.optimizer.scale_loss(t["loss"] * t["batch_share"])
                        for member, t in zip(self.members, terms, strict=True)
                    ]
                )
            )
        weights = [member.trainable_weights for member in self.members]
        gradients = tape.gradient(total, [w for ws in weights for w in ws])
        start = 0
        alive = []
        for k, member in enumerate(self.members):
            grads = gradients[start : start + len(weights[k])]
            start += len(weights[k])
            ok = tf.logical_and(self.alive[k] > 0, tf.math.is_finite(terms[k]["loss"]))
            tf.cond(
                ok,
                lambda m=member, g=grads, w=weights[k]: _apply(m.optimizer, g, w),
                lambda: tf.constant(False),
            )
            alive.append(tf.cast(ok, "int32"))
        self.alive.assign(ops.stack(alive))
        return self._logs(terms, ops.shape(images)[0])

    def test_step(self, data):
        images = data[0] if isinstance(data, tuple | list) else data
        terms = [member.compute_terms(images) for member in self.members]
        return self._logs(terms, ops.shape(images)[0])

    def _logs(self, terms: list[dict], batch_size) -> dict:
        logs = {}
        for trackers, member_terms in zip(self._trackers, terms, strict=True):
            logs.update(trackers.update(member_terms, batch_size))
        return logs

    def call(self, images):
        """Every member's reconstruction of ``images``, stacked on a leading member axis."""
        return ops.stack([member(images) for member in self.members])


def is_fusable(member: keras.Model) -> bool:
    """True if the member trains only its encoder and decoder (one optimizer's weights)."""
    own = {id(w) for w in member.encoder.trainable_weights + member.decoder.trainable_weights}
    return all(id(w) in own for w in member.trainable_weights)


def member_logs(logs: dict | None, k: int) -> dict:
    """Member ``k``'s logs out of a FusedVAE's logs, under the names BetaVAE gives them."""
    suffix = f"{SEPARATOR}{k}"
    return {
        name[: -len(suffix)]: value for name, value in (logs or {}).items() if name.endswith(suffix)
    }


def _apply(optimizer, gradients, weights):
    optimizer.apply(gradients, weights)
    return tf.constant(True)


class _MemberTrackers:
    """One member's epoch means (loss, reconstruction, kl, kl per latent), logged as
    ``<name>@<k>`` with BetaVAE's names."""

    def __init__(self, latent_dim: int, k: int):
        self.k = k
        self.means = {name: keras.metrics.Mean(name=f"{name}{SEPARATOR}{k}") for name in MEAN_TERMS}
        self.kl_per_latent = PerLatentMean(latent_dim, name=f"kl{SEPARATOR}{k}")

    @property
    def metrics(self) -> list:
        return [*self.means.values(), self.kl_per_latent]

    def update(self, terms: dict, batch_size) -> dict:
        for name, tracker in self.means.items():
            tracker.update_state(terms[name], sample_weight=batch_size)
        self.kl_per_latent.update_state(terms["kl_per_latent"], batch_size)
        logs = {tracker.name: tracker.result() for tracker in self.means.values()}
        suffix = f"{SEPARATOR}{self.k}"
        for i, value in enumerate(self.kl_per_latent.result().values()):
            logs[f"kl_{i}{suffix}"] = value
        for name, value in terms.items():
            if name not in (*MEAN_TERMS, "kl_per_latent", "batch_share") and ops.ndim(value) == 0:
                logs[f"{name}{suffix}"] = value
        return logs
