"""Evaluation speed: encoder inference against the machine's matmul, evaluate now vs e31e903.

Targets (issue 10, part 2), on the 2-core CPU:

- ``inference``: the fast encoder (kbetavae.model.inference, in the formulation
  trained/encoder_choice picked for this machine; every formulation is timed beside it) at
  >= 0.5 of the fp32 GFLOP/s of a 2048² ``tf.matmul`` measured in the same run. The
  encoders, the old path (``tf.function(model.encode)`` at 1,024 images a call) and the
  matmul are timed in turn,
  ``ROUNDS`` times, so a burst of load from other processes hits all three alike; ratios
  are per round, then the median. ``layers`` is the per-layer profile of the fast path
  (each layer alone on its real input, XLA as in the encoder; ``conv1 (tf conv2d)`` is the
  formulation it replaced).
- ``evaluate``: seconds per model of ``evaluate`` through ``load_encoder_decoder`` (what
  ``kbetavae evaluate`` runs) now vs at commit e31e903 on the same saved untrained
  BetaVAE, <= 0.5. Each side runs in its own process (``PYTHONPATH`` = this tree or
  ``KBETAVAE_BENCH_BASE``, default /work/base-e31e903), alternating, reduced protocol
  (``KBETAVAE_BENCH_EVAL_POINTS``, the CLI's ``--eval-points``), timed inside the process.
- ``group``: ``evaluate_many`` of K = 7 models (shared draws, each image rendered once) vs
  7 × ``evaluate`` of each model's fast encoder, same seed and sizes
  (``KBETAVAE_BENCH_GROUP_POINTS``, at least 100); the graph is compiled by then in both.

The machine is shared: absolute numbers move with the load; quote the ratios.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.timing import round_robin
from kbetavae.provenance import machine

ROUNDS = 12
IMAGES = 1024
MATMUL_SIZE = 2048
GROUP_SIZE = 7
ROOT = Path(__file__).resolve().parents[1]

# One evaluation in a fresh process: load the model as `kbetavae evaluate` does.
_EVALUATE = """
import json, sys, time
start = time.perf_counter()
from kbetavae.data import open_source
from kbetavae.metrics import evaluate
from kbetavae.trained.load import load_encoder_decoder
points = int(sys.argv[2])
encode, _ = load_encoder_decoder(sys.argv[1])
try:  # trees with one Protocol object; e31e903 took the sizes one by one
    from kbetavae.metrics.protocol import Protocol
    sizes = {"protocol": Protocol.scaled(points)}
except ImportError:
    sizes = dict(num_points=points, num_test_points=points // 2, num_train=points,
                 num_eval=points // 2, num_variance_points=points)
report = evaluate(encode, open_source("replica"), seed=0, **sizes)
print(json.dumps({"seconds": time.perf_counter() - start,
                  "encode_seconds": report["timing"]["encode_seconds"],
                  "images_encoded": report["images_encoded"],
                  "scores": {m: report[m]["score"] for m in report["metrics"]}}))
"""


def _model(seed: int):
    import keras

    from kbetavae import BetaVAE

    keras.utils.set_random_seed(seed)
    model = BetaVAE(seed=seed)
    model(np.zeros((1, 64, 64, 1), np.float32))
    return model


def _flops_per_image(model) -> list[tuple[str, float]]:
    from kbetavae.model.inference import encoder_layers

    convs, denses, (height, width, _) = encoder_layers(model)
    layers = []
    for i, conv in enumerate(convs, 1):
        height, width = -(-height // conv.stride), -(-width // conv.stride)
        kh, kw, cin, cout = conv.kernel.shape
        layers.append((f"conv{i}", 2.0 * height * width * kh * kw * cin * cout))
    for i, dense in enumerate(denses, 1):
        layers.append((f"dense{i}", 2.0 * dense.kernel.size))
    return layers


def _layer_functions(model, images: np.ndarray) -> dict:
    """Each layer of the fast path alone, on its input (computed once beforehand)."""
    import tensorflow as tf

    from kbetavae.model.inference import _first_layer, encoder_layers

    convs, denses, _ = encoder_layers(model)
    first = convs[0]

    def conv1(x):
        x = tf.cast(x, tf.float32)
        return _first_layer(x, first.kernel, first.bias, first.stride, first.relu)

    functions = {"conv1": (tf.function(conv1, jit_compile=True), tf.constant(images))}
    x = functions["conv1"][0](functions["conv1"][1])
    functions["conv1 (tf conv2d)"] = (
        tf.function(
            lambda u: tf.nn.relu(
                tf.nn.conv2d(tf.cast(u, tf.float32), first.kernel, first.stride, "SAME")
                + first.bias
            ),
            jit_compile=True,
        ),
        tf.constant(images),
    )

    def conv(c):
        return tf.function(
            lambda h: tf.nn.relu(tf.nn.conv2d(h, c.kernel, c.stride, "SAME") + c.bias),
            jit_compile=True,
        )

    def dense(d):
        activation = tf.nn.relu if d.relu else tf.identity
        return tf.function(lambda h: activation(h @ d.kernel + d.bias), jit_compile=True)

    for i, layer in enumerate(convs[1:], 2):
        functions[f"conv{i}"] = (conv(layer), x)
        x = functions[f"conv{i}"][0](x)
    x = tf.reshape(x, (len(images), -1))
    for i, layer in enumerate(denses, 1):
        functions[f"dense{i}"] = (dense(layer), x)
        x = functions[f"dense{i}"][0](x)
    # Eager calls of a tf.function on CPU return after the work is done: no sync needed.
    return {name: _bound(f, a) for name, (f, a) in functions.items()}


def _bound(function, argument):
    return lambda: function(argument)


def bench_inference(rounds: int = ROUNDS) -> dict:
    import tensorflow as tf

    from kbetavae.model.inference import BATCH_SIZE, FORMULATIONS, fast_encoder
    from kbetavae.trained.load import graph_encoder

    model = _model(0)
    rng = np.random.default_rng(0)
    images = (rng.random((IMAGES, 64, 64, 1)) < 0.1).astype(np.uint8)
    floats = images.astype(np.float32)
    fast = graph_encoder(model)  # the formulation this machine chose (trained/encoder_choice)
    formulations = {name: fast_encoder(model, formulation=name) for name in FORMULATIONS}
    old = tf.function(model.encode, reduce_retracing=True)
    matrix = tf.random.normal((MATMUL_SIZE, MATMUL_SIZE))
    matmul = tf.function(lambda a: tf.matmul(a, a))
    assert graph_encoder(model).accepts_uint8
    layers = _layer_functions(model, images[:BATCH_SIZE])
    times = round_robin(
        {
            "matmul": lambda: matmul(matrix).numpy(),
            "fast": lambda: fast(images),
            "old": lambda: old(tf.constant(floats))[0].numpy(),
            **{f"formulation {name}": _bound(e, images) for name, e in formulations.items()},
            **{f"layer {name}": function for name, function in layers.items()},
        },
        rounds,
    )
    flops = _flops_per_image(model)
    per_image = sum(f for _, f in flops)
    matmul_gflops = [2 * MATMUL_SIZE**3 / t / 1e9 for t in times["matmul"]]

    def summary(name: str) -> dict:
        gflops = [IMAGES * per_image / t / 1e9 for t in times[name]]
        return {
            "images_per_s": round(statistics.median(IMAGES / t for t in times[name])),
            "gflops": round(statistics.median(gflops), 1),
            "ratio_to_matmul": round(
                statistics.median(g / m for g, m in zip(gflops, matmul_gflops, strict=True)), 3
            ),
        }

    flop_of = dict(flops) | {"conv1 (tf conv2d)": dict(flops)["conv1"]}
    layer_seconds = {n: statistics.median(times[f"layer {n}"]) for n in layers}
    fast_total = sum(s for n, s in layer_seconds.items() if n != "conv1 (tf conv2d)")
    profile = [
        {
            "layer": name,
            "mflop_per_image": round(flop_of[name] / 1e6, 3),
            "us_per_image": round(1e6 * seconds / BATCH_SIZE, 1),
            "gflops": round(flop_of[name] * BATCH_SIZE / seconds / 1e9, 1),
            "time_share": round(seconds / fast_total, 3),
        }
        for name, seconds in layer_seconds.items()
    ]
    return {
        "matmul_gflops": round(statistics.median(matmul_gflops), 1),
        "mflop_per_image": round(per_image / 1e6, 2),
        "fast": summary("fast"),
        "chosen_formulation": fast.formulation.name,
        "formulations": {name: summary(f"formulation {name}") for name in formulations},
        "old_tf_function_batch_1024": summary("old"),
        "speedup": round(
            statistics.median(o / f for o, f in zip(times["old"], times["fast"], strict=True)), 2
        ),
        "target_ratio": 0.5,
        "layers_batch": BATCH_SIZE,
        "layers": profile,
        "rounds": rounds,
    }


def _evaluate_in(tree: str, model_path: str, points: int) -> dict:
    env = {**os.environ, "PYTHONPATH": tree, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-c", _EVALUATE, model_path, str(points)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_evaluate(model_path: str, points: int, rounds: int) -> dict:
    import keras

    base = os.environ.get("KBETAVAE_BENCH_BASE", "/work/base-e31e903")
    if not Path(base, "kbetavae").is_dir():
        return {"skipped": f"no e31e903 tree at {base}"}
    keras.saving.save_model(_model(0), model_path)
    runs: dict[str, list[dict]] = {"now": [], "e31e903": []}
    for _ in range(rounds):
        runs["e31e903"].append(_evaluate_in(base, model_path, points))
        runs["now"].append(_evaluate_in(str(ROOT), model_path, points))
    seconds = {side: [r["seconds"] for r in rs] for side, rs in runs.items()}
    return {
        "eval_points": points,
        "rounds": rounds,
        "now_seconds": [round(s, 1) for s in seconds["now"]],
        "e31e903_seconds": [round(s, 1) for s in seconds["e31e903"]],
        "ratio_median": round(
            statistics.median(
                n / b for n, b in zip(seconds["now"], seconds["e31e903"], strict=True)
            ),
            3,
        ),
        "target_ratio": 0.5,
        "images_encoded": runs["now"][0]["images_encoded"],
        "scores_now": runs["now"][0]["scores"],
        "scores_e31e903": runs["e31e903"][0]["scores"],
    }


def bench_group(points: int) -> dict:
    from kbetavae.data import open_source
    from kbetavae.metrics import Protocol, evaluate, evaluate_many
    from kbetavae.model.inference import fast_encoder

    models = [_model(seed) for seed in range(GROUP_SIZE)]
    data = open_source("replica")
    protocol = Protocol.scaled(points)
    start = time.perf_counter()
    many = evaluate_many([fast_encoder(m) for m in models], data, seed=0, protocol=protocol)
    group_seconds = time.perf_counter() - start
    start = time.perf_counter()
    alone = [evaluate(fast_encoder(m), data, seed=0, protocol=protocol) for m in models]
    separate_seconds = time.perf_counter() - start
    differences = [
        abs(m[name]["score"] - a[name]["score"])
        for m, a in zip(many, alone, strict=True)
        for name in m["metrics"]
    ]
    return {
        "models": GROUP_SIZE,
        "eval_points": points,
        "images_encoded": many[0]["images_encoded"],
        "evaluate_many_seconds": round(group_seconds, 1),
        "separate_evaluate_seconds": round(separate_seconds, 1),
        "ratio": round(group_seconds / separate_seconds, 3),
        "max_score_difference": max(differences),
    }


def run() -> dict:
    result: dict = machine()
    result["inference"] = bench_inference(int(os.environ.get("KBETAVAE_BENCH_ROUNDS", ROUNDS)))
    print(json.dumps(result["inference"], indent=1), flush=True)
    with tempfile.TemporaryDirectory() as directory:
        result["evaluate"] = bench_evaluate(
            os.path.join(directory, "model.keras"),
            int(os.environ.get("KBETAVAE_BENCH_EVAL_POINTS", "500")),
            int(os.environ.get("KBETAVAE_BENCH_EVAL_ROUNDS", "3")),
        )
        print(json.dumps(result["evaluate"], indent=1), flush=True)
        if os.environ.get("KBETAVAE_BENCH_FULL_EVAL", "0") == "1":
            result["evaluate_full_protocol"] = bench_evaluate(
                os.path.join(directory, "model.keras"), 10_000, 1
            )
    result["group"] = bench_group(int(os.environ.get("KBETAVAE_BENCH_GROUP_POINTS", "500")))
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
