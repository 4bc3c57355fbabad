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
plus the weight gradients, against K separate convolutions, at batch 32. On the 2-core
AMD EPYC (AVX2), three idle runs on 2026-12-02 put the wide first layer at 24.2, 37.2 and
60.2 ms against 34.9, 50.2 and 50.6 ms for 7 separate ones: a gain or loss of at most
3 % of a fused step (414–603 ms for 7 × 32 images); TF's CPU kernels refuse
grouped convolutions ("Graph execution error") and under XLA they took 2,772–3,220 ms
against 92–163 ms for 7 separate ones. So the fused step keeps separate subgraphs.
Whole-step XLA (``jit_compile``) was not faster either (0.95×, measured with
the machine loaded).

Fused groups under ``kbetavae sweep --jobs 2`` are timed too (``jobs_2``): the K βs cut
into two fused groups as the sweep cuts them (4 + 3 for K = 7), each fitted by its own
process with cores/2 threads on the same images, started together; a repeat ends when the
slower group does. It runs after the in-process timings, which it would otherwise share the
CPU with.

Where the step's time goes (:mod:`benchmarks.conv_profile`): ``layer_profile`` times each
convolution (forward + gradients) with TensorFlow's kernels against the same FLOPs as bare
GEMMs of its im2col shapes; ``step_breakdown`` times the fused step against its forward and
gradients, its convolutions alone, and their bare GEMMs alone. The last, as images/s over
the sequential rate of this run (``gemm_bound_ratio_to_sequential``), is the most fusing
could give with every op but those GEMMs free.

Environment: ``KBETAVAE_BENCH_STEPS`` (default 32), ``KBETAVAE_BENCH_REPEATS`` (3),
``KBETAVAE_BENCH_MEMBERS`` (7).
"""

from __future__ import annotations

import os
import statistics
import time

from benchmarks.conv_profile import layer_profile, step_breakdown
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
    from kbetavae.study.workers import limit_threads

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
    breakdown = step_breakdown(betas)
    # The fastest these layers could train at batch 32 (the step's convolutions as bare
    # GEMMs, everything else free), against the sequential models of this run.
    breakdown["gemm_bound_ratio_to_sequential"] = round(
        breakdown["member_images_per_s"]["convolutions as bare GEMMs"]
        / result["sequential_median"],
        3,
    )
    result["step_breakdown"] = breakdown
    print(
        f"{result['cpu']}, {k} members, batch {BATCH}: sequential "
        f"{result['sequential_median']} img/s, fused {result['fused_median']} img/s, "
        f"ratio {result['ratio']} (goal >= 1.6); --jobs 2 ({jobs['groups']} members, "
        f"{jobs['threads_per_job']} thread each) {jobs['median']} img/s; bound with only "
        f"the convolutions' GEMMs paid {breakdown['gemm_bound_ratio_to_sequential']}x",
        flush=True,
    )
    return result
