"""Where a train step's time goes, for ``bench_fused``: its convolutions against the GEMMs
they amount to, and the fused step taken apart.

The model is the Burgess et al. (2018) architecture of :mod:`kbetavae.model.networks` at
batch 32: four stride-2 4×4 convolutions with 32 channels and their transposes. A
convolution's forward pass and gradients are three GEMMs of its im2col shapes (rows =
batch × output positions, K = 16 × input channels, N = output channels; a transposed
convolution does the GEMMs of the convolution it transposes). Timed as bare ``tf.matmul``
of those shapes (no patch copies), they bound any im2col, batched-matmul or grouped
formulation of the same layers from below in time.

``layer_profile``: per layer, TensorFlow's kernels (forward + gradients, as training runs
them) against the same FLOPs as bare GEMMs, beside a 2048² matmul; and conv2's forward
GEMM of 7 members as one batched matmul against 7 separate ones.

``step_breakdown``: one fused step of K members (the ``FusedVAE`` train step, called as a
``tf.function``) against its parts, each for all K members in one ``tf.function`` so that
TensorFlow runs the members' independent subgraphs concurrently, as in the step: forward
and gradients without the optimizer; only the convolutions (forward + gradients); only
their bare GEMMs. The last is the step with everything but the convolutions' GEMMs free:
the fastest any formulation of these layers could train, on this CPU, at batch 32.
"""

from __future__ import annotations

import statistics

from benchmarks.timing import round_robin

BATCH = 32
# (name, layer, input shape, output channels, whether its input needs a gradient)
CONVS = (
    ("conv1", "conv", (64, 64, 1), 32, False),
    ("conv2", "conv", (32, 32, 32), 32, True),
    ("conv3", "conv", (16, 16, 32), 32, True),
    ("conv4", "conv", (8, 8, 32), 32, True),
    ("deconv1", "deconv", (4, 4, 32), 32, True),
    ("deconv2", "deconv", (8, 8, 32), 32, True),
    ("deconv3", "deconv", (16, 16, 32), 32, True),
    ("deconv4", "deconv", (32, 32, 32), 1, True),
)
KERNEL = 4
MATMUL_SIZE = 2048
MEMBERS = 7


def gemm_shape(kind: str, shape: tuple, cout: int, batch: int) -> tuple[int, int, int]:
    """(rows, K, N) of a layer's forward GEMM as im2col would write it: rows = batch ×
    output positions of the strided convolution, K = kernel taps × its input channels,
    N = its output channels (for a transposed convolution, those of the convolution it is
    the transpose of)."""
    height, width, channels = shape
    if kind == "conv":
        return batch * (height // 2) * (width // 2), KERNEL * KERNEL * channels, cout
    # the transpose of a conv from (2h, 2w, cout) to (h, w, channels)
    return batch * height * width, KERNEL * KERNEL * cout, channels


def conv_flops(kind: str, shape: tuple, cout: int, input_grad: bool, batch: int) -> int:
    """FLOPs of a layer's forward pass and gradients (weights, and input if it needs one)."""
    rows, k, n = gemm_shape(kind, shape, cout, batch)
    return 2 * rows * k * n * (3 if input_grad else 2)


def _layer_work(rng, kind: str, shape: tuple, cout: int, input_grad: bool):
    """One fresh copy of a layer's work at batch 32: (TensorFlow's forward + gradients,
    the bare GEMMs of the same FLOPs), each a callable returning tensors."""
    import numpy as np
    import tensorflow as tf

    x = tf.constant(rng.random((BATCH, *shape)).astype(np.float32))
    kinds = {"conv": tf.keras.layers.Conv2D, "deconv": tf.keras.layers.Conv2DTranspose}
    layer = kinds[kind](cout, KERNEL, 2, "same", activation="relu")
    layer(x)
    weights = [v.value for v in layer.trainable_variables]

    def train():
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x) ** 2)
        return tape.gradient(loss, [*weights, *([x] if input_grad else [])])

    rows, k, n = gemm_shape(kind, shape, cout, BATCH)
    a = tf.constant(rng.normal(size=(rows, k)).astype(np.float32))
    w = tf.constant(rng.normal(size=(k, n)).astype(np.float32))
    dy = tf.constant(rng.normal(size=(rows, n)).astype(np.float32))

    def gemms():
        out = [tf.matmul(a, w), tf.matmul(a, dy, transpose_a=True)]
        return out + ([tf.matmul(dy, w, transpose_b=True)] if input_grad else [])

    return train, gemms


def _run(function) -> None:
    for tensor in function():
        tensor.numpy()


def _times(functions: dict, rounds: int) -> dict[str, float]:
    """Median seconds of each ``tf.function``-wrapped callable, timed in turn."""
    times = round_robin({name: lambda f=f: _run(f) for name, f in functions.items()}, rounds)
    return {name: statistics.median(t) for name, t in times.items()}


def layer_profile(rounds: int = 7) -> dict:
    """Per layer of one member's step: TensorFlow's forward + gradients against the same
    FLOPs as bare GEMMs of its im2col shapes, beside a 2048² matmul; and conv2's forward
    GEMM of 7 members batched against 7 separate ones."""
    import numpy as np
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # one tf.function per layer is not a retracing bug
    rng = np.random.default_rng(0)
    functions, flops = {}, {}
    for name, *layer in CONVS:
        train, gemms = _layer_work(rng, *layer)
        functions[name], functions[f"{name} gemm"] = tf.function(train), tf.function(gemms)
        flops[name] = flops[f"{name} gemm"] = conv_flops(*layer, BATCH)
    # Vectorised members (issue 10): conv2's forward GEMM of 7 members as one batched
    # matmul, against the 7 one after another; each member keeps its own skinny shape.
    rows, k, n = gemm_shape(*CONVS[1][1:4], BATCH)
    a7 = tf.constant(rng.normal(size=(MEMBERS, rows, k)).astype(np.float32))
    w7 = tf.constant(rng.normal(size=(MEMBERS, k, n)).astype(np.float32))
    functions["batched"] = tf.function(lambda: [tf.matmul(a7, w7)])
    functions["separate"] = tf.function(lambda: [tf.matmul(a7[i], w7[i]) for i in range(MEMBERS)])
    flops["batched"] = flops["separate"] = 2 * MEMBERS * rows * k * n
    matrix = tf.random.normal((MATMUL_SIZE, MATMUL_SIZE))
    functions["matmul"] = tf.function(lambda: [tf.matmul(matrix, matrix)])
    flops["matmul"] = 2 * MATMUL_SIZE**3
    seconds = _times(functions, rounds)

    def gflops(name: str) -> float:
        return round(flops[name] / seconds[name] / 1e9, 1)

    return {
        "batch": BATCH,
        "matmul_gflops": gflops("matmul"),
        "conv2_forward_gemm_7_batched_gflops": gflops("batched"),
        "conv2_forward_gemm_7_separate_gflops": gflops("separate"),
        "layers": [
            {
                "layer": name,
                "mflop_per_image": round(flops[name] / BATCH / 1e6, 2),
                "tf_ms": round(seconds[name] * 1e3, 2),
                "tf_gflops": gflops(name),
                "gemm_ms": round(seconds[f"{name} gemm"] * 1e3, 2),
                "gemm_gflops": gflops(f"{name} gemm"),
            }
            for name, *_ in CONVS
        ],
    }


def step_breakdown(betas, rounds: int = 7) -> dict:
    """Milliseconds of one fused step of ``len(betas)`` members at batch 32 and of its
    parts (module docstring), each part for all members in one ``tf.function``; and the
    member images/s each would allow if it were the whole step."""
    import keras
    import numpy as np
    import tensorflow as tf

    from kbetavae.model.fused import FusedVAE
    from kbetavae.model.vae import BetaVAE

    tf.get_logger().setLevel("ERROR")
    k = len(betas)
    members = []
    for beta in betas:
        keras.utils.set_random_seed(0)
        member = BetaVAE(beta=beta, seed=0)
        member.compile(keras.optimizers.Adam(1e-3))
        members.append(member)
    fused = FusedVAE(members)
    fused.compile()
    rng = np.random.default_rng(0)
    images = tf.constant((rng.random((BATCH, 64, 64, 1)) < 0.1).astype(np.float32))
    weights = [w for member in members for w in member.trainable_weights]

    def forward_and_gradients():
        with tf.GradientTape() as tape:
            terms = [member.compute_terms(images) for member in members]
            total = tf.add_n([t["loss"] for t in terms])
        return tape.gradient(total, weights)

    # Fresh layers and operands per member: identical ops on shared tensors could be merged
    # by TensorFlow's graph optimiser.
    work = [_layer_work(rng, *layer) for _ in range(k) for _, *layer in CONVS]
    functions = {
        "fused step": tf.function(lambda: list(fused.train_step(images).values())),
        "forward + gradients": tf.function(forward_and_gradients),
        "convolutions": tf.function(lambda: [t for train, _ in work for t in train()]),
        "convolutions as bare GEMMs": tf.function(
            lambda: [t for _, gemms in work for t in gemms()]
        ),
    }
    seconds = _times(functions, rounds)
    return {
        "members": k,
        "batch": BATCH,
        "conv_mflop_per_image": round(sum(conv_flops(*c[1:], 1) for c in CONVS) / 1e6, 2),
        "ms": {name: round(s * 1e3, 1) for name, s in seconds.items()},
        "member_images_per_s": {name: round(k * BATCH / s, 1) for name, s in seconds.items()},
    }
