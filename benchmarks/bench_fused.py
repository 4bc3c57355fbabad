"""Fused training benchmark: K members in one step vs the same K models one after another.

Goal (issue 10): the fused group trains ≥ 1.6× the images per second of sequential
single models (K = 7, the study's βs of one seed, batch 32, float32).

Both sides use Keras ``fit`` on the same in-memory replica images, ``steps_per_execution``
8 as ``train`` does: sequential = K BetaVAE models fitted one after another on ``STEPS``
batches each; fused = one FusedVAE of K members fitted on the same ``STEPS`` batches.
Images/s counts every member's images (K × STEPS × 32 for both). Each side is traced and
warmed up on one execution first; the timed repeats alternate (sequential, fused, …) so
the shared CPU's drift hits both; the ratio compares medians.

The fused step runs its members as independent subgraphs of one ``tf.function``. The
other formulation the issue names, vectorised members, is probed in ``vectorised``: the
first convolutions of K members as one wide convolution over the shared batch, and the
second ones as one grouped convolution (a K·32-channel input, groups = K), each forward
plus the weight gradients, against K separate convolutions, at batch 32. On the idle
2-core AMD EPYC (AVX2; `make bench`, 2026-12-02) the wide first layer took 24.2 ms against
34.9 ms for 7 separate ones — 10.7 ms saved on a fused step of ≈ 414 ms (7 × 32 images at
541 img/s), under 3 % — while TF's CPU kernels refuse grouped convolutions ("Graph
execution error") and under XLA they took 2,772 ms against 91.5 ms for 7 separate ones.
With the first layer worth < 3 % and the rest unavailable, the fused step keeps separate
subgraphs. Whole-step XLA (``jit_compile``) was not faster either (0.95×, measured with
the machine loaded).

Fused groups under ``kbetavae sweep --jobs 2`` are timed too (``jobs_2``): the K βs cut
into two fused groups as the sweep cuts them (4 + 3 for K = 7), each fitted by its own
process with cores/2 threads on the same images, started together; a repeat ends when the
slower group does. It runs after the in-process timings, which it would otherwise share the
CPU with.

Where the step's time goes (``layer_profile``): each convolution of one member's step at
batch 32, forward plus gradients with TensorFlow's kernels, against the same FLOPs as bare
GEMMs of the im2col shapes (no patch copies, so a bound for any im2col or batched-matmul
formulation), and a 2048² matmul; plus conv2's forward GEMM of 7 members batched against
7 separate ones. The layers with 32 output channels make skinny GEMMs (N or K = 32).

Environment: ``KBETAVAE_BENCH_STEPS`` (default 32), ``KBETAVAE_BENCH_REPEATS`` (3),
``KBETAVAE_BENCH_MEMBERS`` (7).
"""

from __future__ import annotations

import os
import statistics
import time

from benchmarks.timing import round_robin
from kbetavae.provenance import machine

BATCH = 32
STEPS_PER_EXECUTION = 8


def _members(betas, seed: int = 0):
    import keras

    from kbetavae.model.vae import BetaVAE

    members = []
    for beta in betas:
        keras.utils.set_random_seed(seed)
        member = BetaVAE(beta=beta, seed=seed)
        member.compile(keras.optimizers.Adam(1e-3), steps_per_execution=STEPS_PER_EXECUTION)
        members.append(member)
    return members


def _fused(betas):
    from kbetavae.model.fused import FusedVAE

    fused = FusedVAE(_members(betas))
    fused.compile(steps_per_execution=STEPS_PER_EXECUTION)
    return fused


def _fit_seconds(model, images) -> float:
    start = time.perf_counter()
    model.fit(images, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    return time.perf_counter() - start


def _median_ms(function, rounds: int) -> float:
    function()  # trace
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for gradient in function():
            gradient.numpy()
        times.append(time.perf_counter() - start)
    return round(1e3 * statistics.median(times), 1)


def vectorised(k: int = 7, rounds: int = 7) -> dict:
    """Milliseconds per batch of 32 for one layer's forward + weight gradients of K members:
    separate convolutions vs one wide (first layer) or grouped (second layer) one."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    images = tf.constant((rng.random((BATCH, 64, 64, 1)) < 0.1).astype(np.float32))
    hidden = tf.constant(rng.normal(size=(BATCH, 32, 32, 32 * k)).astype(np.float32))

    def kernels(cin):
        return [
            tf.Variable(0.1 * rng.normal(size=(4, 4, cin, 32)).astype(np.float32)) for _ in range(k)
        ]

    first, second = kernels(1), kernels(32)

    def gradients(inputs, weights, grouped):
        def step():
            with tf.GradientTape() as tape:
                if grouped:
                    out = tf.nn.conv2d(inputs, tf.concat(weights, 3), 2, "SAME")
                    loss = tf.reduce_sum(tf.nn.relu(out) ** 2)
                else:
                    parts = tf.split(inputs, k, -1) if inputs.shape[-1] == 32 * k else [inputs] * k
                    loss = tf.add_n(
                        [
                            tf.reduce_sum(tf.nn.relu(tf.nn.conv2d(x, w, 2, "SAME")) ** 2)
                            for x, w in zip(parts, weights, strict=True)
                        ]
                    )
            return tape.gradient(loss, weights)

        return step

    result = {
        "members": k,
        "conv1_separate_ms": _median_ms(tf.function(gradients(images, first, False)), rounds),
        "conv1_wide_ms": _median_ms(tf.function(gradients(images, first, True)), rounds),
        "conv2_separate_ms": _median_ms(tf.function(gradients(hidden, second, False)), rounds),
    }
    try:
        result["conv2_grouped_ms"] = _median_ms(
            tf.function(gradients(hidden, second, True)), rounds
        )
    except tf.errors.OpError as exc:
        result["conv2_grouped_ms"] = None
        result["conv2_grouped_error"] = str(exc).strip().splitlines()[0][:200]
    result["conv2_grouped_xla_ms"] = _median_ms(
        tf.function(gradients(hidden, second, True), jit_compile=True), max(rounds // 3, 1)
    )
    return result


def _job_worker(betas, indices, threads, repeats, barrier, results) -> None:
    """One ``--jobs`` process: ``threads`` threads, a fused group of ``betas``, fitted on
    the replica images at ``indices`` in step with the other jobs (``barrier``)."""
    from kbetavae.data import open_source
    from kbetavae.data.ground_truth import load_images
    from kbetavae.study.jobs import limit_threads

    limit_threads(threads)
    images = load_images(open_source("replica"), indices).astype("float32")
    fused = _fused(betas)
    _fit_seconds(fused, images[: STEPS_PER_EXECUTION * BATCH])
    for _ in range(repeats):
        barrier.wait()
        results.put(_fit_seconds(fused, images))


def jobs_of_fused_groups(betas, indices, jobs: int, repeats: int) -> dict:
    """Member images/s of ``kbetavae sweep --jobs N`` on one seed: the βs cut into ``jobs``
    fused groups as the sweep cuts them, each trained by its own process with cores/N
    threads, all started together; a repeat lasts until the slowest group is done."""
    import multiprocessing

    from kbetavae.study.jobs import threads_per_job
    from kbetavae.study.plan import SweepPlan, max_group_for_jobs, run_groups

    configs = SweepPlan.of(betas=tuple(betas), seeds=(0,)).configs()
    groups = run_groups(configs, max_group_for_jobs(configs, jobs))
    threads = threads_per_job(len(groups))
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(len(groups)), context.Queue()
    workers = [
        context.Process(
            target=_job_worker,
            args=([c.beta for c in group], indices, threads, repeats, barrier, results),
        )
        for group in groups
    ]
    for worker in workers:
        worker.start()
    seconds = [[results.get() for _ in groups] for _ in range(repeats)]
    for worker in workers:
        worker.join()
    rates = [len(betas) * len(indices) / max(times) for times in seconds]
    return {
        "jobs": len(groups),
        "groups": [len(group) for group in groups],
        "threads_per_job": threads,
        "images_per_s": [round(r, 1) for r in rates],
        "median": round(statistics.median(rates), 1),
    }


# The convolutions of one member's train step (Burgess et al. architecture, batch 32), as
# (name, layer, input shape, output channels, whether its input needs a gradient). A
# transposed convolution does the GEMMs of the convolution it transposes, so the profile
# treats both alike.
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


def _gemm_shapes(kind: str, shape: tuple, cout: int, batch: int) -> tuple[int, int, int]:
    """(rows, K, N) of the layer's forward GEMM as im2col would write it: rows = batch ×
    output positions of the strided convolution, K = kernel taps × its input channels,
    N = its output channels (for a transposed convolution, those of the convolution it is
    the transpose of)."""
    height, width, channels = shape
    if kind == "conv":
        return batch * (height // 2) * (width // 2), KERNEL * KERNEL * channels, cout
    # the transpose of a conv from (2h, 2w, cout) to (h, w, channels)
    return batch * height * width, KERNEL * KERNEL * cout, channels


def layer_profile(rounds: int = 7) -> dict:
    """Where one member's train step spends its time, and how far each convolution is from
    the GEMMs it amounts to: per layer, forward + gradients with TensorFlow's kernels (as
    training runs them) and the same FLOPs as bare ``tf.matmul`` GEMMs of the im2col shapes
    (no patch copies: a bound no im2col formulation can beat), beside a 2048² matmul."""
    import numpy as np
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # one tf.function per layer is not a retracing bug
    rng = np.random.default_rng(0)
    functions, flops = {}, {}
    for name, kind, shape, cout, input_grad in CONVS:
        x = tf.constant(rng.random((BATCH, *shape)).astype(np.float32))
        kinds = {"conv": tf.keras.layers.Conv2D, "deconv": tf.keras.layers.Conv2DTranspose}
        layer = kinds[kind](cout, KERNEL, 2, "same", activation="relu")
        layer(x)
        weights = [v.value for v in layer.trainable_variables]

        def train(x=x, layer=layer, weights=weights, input_grad=input_grad):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(layer(x) ** 2)
            return tape.gradient(loss, [*weights, *([x] if input_grad else [])])

        rows, k, n = _gemm_shapes(kind, shape, cout, BATCH)
        a = tf.constant(rng.normal(size=(rows, k)).astype(np.float32))
        w = tf.constant(rng.normal(size=(k, n)).astype(np.float32))
        dy = tf.constant(rng.normal(size=(rows, n)).astype(np.float32))

        def gemms(a=a, w=w, dy=dy, input_grad=input_grad):
            out = [tf.matmul(a, w), tf.matmul(a, dy, transpose_a=True)]
            return out + ([tf.matmul(dy, w, transpose_b=True)] if input_grad else [])

        functions[name] = tf.function(train)
        functions[f"{name} gemm"] = tf.function(gemms)
        flops[name] = 2 * rows * k * n * (3 if input_grad else 2)
    # Vectorised members (issue 10): conv2's forward GEMM of 7 members as one batched
    # matmul, against the 7 one after another; each member keeps its own skinny shape.
    rows, k, n = _gemm_shapes(*CONVS[1][1:4], BATCH)
    a7 = tf.constant(rng.normal(size=(MEMBERS, rows, k)).astype(np.float32))
    w7 = tf.constant(rng.normal(size=(MEMBERS, k, n)).astype(np.float32))
    functions["conv2 forward gemm, 7 batched"] = tf.function(lambda: [tf.matmul(a7, w7)])
    functions["conv2 forward gemm, 7 separate"] = tf.function(
        lambda: [tf.matmul(a7[i], w7[i]) for i in range(MEMBERS)]
    )
    for name in ("conv2 forward gemm, 7 batched", "conv2 forward gemm, 7 separate"):
        flops[name] = 2 * MEMBERS * rows * k * n
    matrix = tf.random.normal((MATMUL_SIZE, MATMUL_SIZE))
    functions["matmul"] = tf.function(lambda: [tf.matmul(matrix, matrix)])
    flops["matmul"] = 2 * MATMUL_SIZE**3
    times = round_robin({name: lambda f=f: _run(f) for name, f in functions.items()}, rounds)
    seconds = {name: statistics.median(t) for name, t in times.items()}

    def gflops(name: str) -> float:
        return round(flops[name.removesuffix(" gemm")] / seconds[name] / 1e9, 1)

    convs_ms = sum(seconds[name] for name, *_ in CONVS) * 1e3
    return {
        "batch": BATCH,
        "matmul_gflops": gflops("matmul"),
        "conv2_forward_gemm_7_batched_gflops": gflops("conv2 forward gemm, 7 batched"),
        "conv2_forward_gemm_7_separate_gflops": gflops("conv2 forward gemm, 7 separate"),
        "convs_ms_per_member_step": round(convs_ms, 2),
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


def _run(function) -> None:
    for tensor in function():
        tensor.numpy()


def run() -> dict:
    import numpy as np

    from kbetavae.data import open_source
    from kbetavae.data.ground_truth import load_images
    from kbetavae.study.plan import STUDY_BETAS

    steps = int(os.environ.get("KBETAVAE_BENCH_STEPS", 32))
    repeats = int(os.environ.get("KBETAVAE_BENCH_REPEATS", 3))
    k = int(os.environ.get("KBETAVAE_BENCH_MEMBERS", len(STUDY_BETAS)))
    betas = [STUDY_BETAS[i % len(STUDY_BETAS)] * (1 + i // len(STUDY_BETAS)) for i in range(k)]
    source = open_source("replica")
    indices = np.random.default_rng(0).choice(source.num_images, steps * BATCH, replace=False)
    images = load_images(source, np.sort(indices)).astype("float32")
    warm = images[: STEPS_PER_EXECUTION * BATCH]

    singles, fused = _members(betas), _fused(betas)
    for model in [*singles, fused]:
        _fit_seconds(model, warm)  # trace and warm up
    sequential_rates, fused_rates = [], []
    for _ in range(repeats):
        seconds = sum(_fit_seconds(model, images) for model in singles)
        sequential_rates.append(k * len(images) / seconds)
        fused_rates.append(k * len(images) / _fit_seconds(fused, images))
    result = {
        **machine(),
        "load_average_1min": os.getloadavg()[0],
        "members": k,
        "batch_size": BATCH,
        "steps": steps,
        "repeats": repeats,
        "sequential_images_per_s": [round(r, 1) for r in sequential_rates],
        "fused_images_per_s": [round(r, 1) for r in fused_rates],
        "sequential_median": round(statistics.median(sequential_rates), 1),
        "fused_median": round(statistics.median(fused_rates), 1),
    }
    result["ratio"] = round(result["fused_median"] / result["sequential_median"], 3)
    # After the in-process timings: the job processes must not share the CPU with them.
    jobs = jobs_of_fused_groups(betas, np.sort(indices), 2, repeats)
    jobs["ratio_to_sequential"] = round(jobs["median"] / result["sequential_median"], 3)
    jobs["ratio_to_fused"] = round(jobs["median"] / result["fused_median"], 3)
    result["jobs_2"] = jobs
    result["vectorised"] = vectorised(k)
    result["layer_profile"] = layer_profile()
    step_ms = 1e3 * BATCH / result["fused_median"] * k  # one fused step, all members
    result["layer_profile"]["convs_share_of_fused_step"] = round(
        k * result["layer_profile"]["convs_ms_per_member_step"] / step_ms, 3
    )
    print(
        f"{result['cpu']}, {k} members, batch {BATCH}: sequential "
        f"{result['sequential_median']} img/s, fused {result['fused_median']} img/s, "
        f"ratio {result['ratio']} (goal >= 1.6); --jobs 2 ({jobs['groups']} members, "
        f"{jobs['threads_per_job']} thread each) {jobs['median']} img/s",
        flush=True,
    )
    return result
