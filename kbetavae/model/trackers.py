"""Keras metrics that track what BetaVAE logs beyond Keras' own ``Mean``."""

from __future__ import annotations

import keras
from keras import ops


class PerLatentMean(keras.metrics.Metric):
    """Per-example mean of a vector over an epoch, reported as ``<name>_0``, ``<name>_1``, …

    One tracker (two variables) instead of one ``Mean`` per latent keeps the step cheap;
    Keras flattens the dict result into the logs, so CSVLogger writes one column per latent.
    """

    def __init__(self, size: int, name: str = "kl", **kwargs):
        super().__init__(name=name, **kwargs)
        self.size = size
        self.total = self.add_variable(shape=(size,), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, values, num_examples):
        num_examples = ops.cast(num_examples, self.dtype)
        self.total.assign_add(ops.cast(values, self.dtype) * num_examples)
        self.count.assign_add(num_examples)

    def result(self):
        means = ops.divide_no_nan(self.total, self.count)
        return {f"{self.name}_{i}": means[i] for i in range(self.size)}

    def get_config(self):
        return {**super().get_config(), "size": self.size}
