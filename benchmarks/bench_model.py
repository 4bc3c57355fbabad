"""Model benchmark: images/s of a bare ``train_step`` loop vs ``kbetavae.train``'s path.

Target (model issue): ``kbetavae.train`` reaches >= 95 % of the bare loop measured in the
same run, i.e. the pipeline, trackers and callbacks cost <= 5 %. Reference: ~690 images/s
for batch 32, fp32, on the 2-core CPU.

For each batch size (32, 128), precision (float32, mixed_bfloat16) and jit (off, on):

- bare: ``tf.function(model.train_step)`` on one in-memory random binary batch, timed in
  blocks of ``BLOCK`` steps, each synchronised at its end;
- train: ``kbetavae.train`` on the replica pipeline with all its callbacks and its default
  ``steps_per_execution`` (= BLOCK), three epochs; a callback times epochs 2 and 3 in
  blocks of ``BLOCK`` steps.

The bare loop runs before and after the training run (the shared CPU's speed drifts) and
its rate is the median over both; the ratio compares medians. ``epoch_end_ms`` is the time
from an epoch's last step to the end of its callbacks (CSV row, backup): a fixed cost per
epoch, negligible for a 50,000-image epoch (~1 minute) but not for the short epochs here,
hence kept out of the block rates.

``KBETAVAE_BENCH_STEPS`` (default 32) sets the steps per epoch and per bare loop.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

BLOCK = 8  # steps per timed block, and the train path's steps_per_execution
BATCH_SIZES = (32, 128)
PRECISIONS = ("float32", "mixed_bfloat16")
JIT = (False, True)


def _bare_rates(model, batch_size: int, jit: bool, steps: int) -> list[float]:
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    images = tf.constant((rng.random((batch_size, 64, 64, 1)) < 0.1).astype("float32"))
    step = tf.function(model.train_step, jit_compile=jit)
    for _ in range(2 * BLOCK):  # trace, compile and warm up
        logs = step(images)
    float(logs["loss"])
    rates = []
    for _ in range(max(steps // BLOCK, 1)):
        start = time.perf_counter()
        for _ in range(BLOCK):
            logs = step(images)
        float(logs["loss"])
        rates.append(BLOCK * batch_size / (time.perf_counter() - start))
    return rates


def _bare_model(precision: str):
    import keras

    from kbetavae import BetaVAE

    keras.config.set_dtype_policy(precision)
    try:
        keras.utils.set_random_seed(0)
        model = BetaVAE(beta=4.0, seed=0)
        model.compile(keras.optimizers.Adam(5e-4))
    finally:
        keras.config.set_dtype_policy("float32")
    return model


def _train_rates(batch_size: int, precision: str, jit: bool, steps: int, source):
    import keras

    from kbetavae.training import TrainConfig, train

    class Clock(keras.callbacks.Callback):
        """Step times of epochs 2 and 3; the last callback, so its epoch end comes last.

        With ``steps_per_execution`` Keras calls batch hooks once per BLOCK steps.
        """

        def __init__(self):
            super().__init__()
            self.rates, self.epoch_end_ms = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.ticks = [(-1, time.perf_counter())]

        def on_train_batch_end(self, batch, logs=None):
            self.ticks.append((batch, time.perf_counter()))

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                return
            ticks = self.ticks
            self.rates += [
                (b1 - b0) * batch_size / (t1 - t0)
                for (b0, t0), (b1, t1) in zip(ticks, ticks[1:], strict=False)
            ]
            self.epoch_end_ms.append(1000 * (time.perf_counter() - ticks[-1][1]))

    clock = Clock()
    config = TrainConfig(
        beta=4.0,
        seed=0,
        epochs=3,
        batch_size=batch_size,
        subset=steps * batch_size,
        precision=precision,
        jit_compile=jit,
        steps_per_execution=BLOCK,
    )
    with tempfile.TemporaryDirectory() as run_dir:
        train(config, run_dir, source=source, callbacks=[clock], verbose=0)
    return clock.rates, statistics.median(clock.epoch_end_ms)


def run() -> dict:
    from kbetavae.data import open_source

    steps = int(os.environ.get("KBETAVAE_BENCH_STEPS", "32"))
    source = open_source("replica")
    rows = []
    print(
        f"{'batch':>5} {'precision':>15} {'jit':>5} {'bare img/s':>11} {'train img/s':>12} "
        f"{'ratio':>6} {'epoch end ms':>13}",
        flush=True,
    )
    for batch_size in BATCH_SIZES:
        for precision in PRECISIONS:
            for jit in JIT:
                model = _bare_model(precision)
                bare = _bare_rates(model, batch_size, jit, steps)
                trained, epoch_end_ms = _train_rates(batch_size, precision, jit, steps, source)
                bare += _bare_rates(model, batch_size, jit, steps)
                bare_rate, train_rate = statistics.median(bare), statistics.median(trained)
                row = {
                    "batch_size": batch_size,
                    "precision": precision,
                    "jit": jit,
                    "bare_images_per_s": round(bare_rate, 1),
                    "train_images_per_s": round(train_rate, 1),
                    "ratio": round(train_rate / bare_rate, 3),
                    "epoch_end_ms": round(epoch_end_ms, 1),
                }
                rows.append(row)
                print(
                    f"{batch_size:>5} {precision:>15} {str(jit):>5} {bare_rate:>11.0f} "
                    f"{train_rate:>12.0f} {train_rate / bare_rate:>6.3f} {epoch_end_ms:>13.0f}",
                    flush=True,
                )
    return {
        "steps": steps,
        "block": BLOCK,
        "rows": rows,
        "min_ratio": min(r["ratio"] for r in rows),
    }
