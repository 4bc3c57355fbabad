import os
import subprocess
import sys

from kbetavae.native_log import is_noise


def test_tensorflow_start_up_chatter_is_recognised():
    noise = [
        b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        b"I0000 00:00:1795852086.378953    3657 port.cc:153] oneDNN custom operations are on.",
        b"I0000 00:00:1795852086.380029    3657 cudart_stub.cc:31] Could not find cuda drivers",
        b"E0000 00:00:1795852065.656456    3465 cuda_platform.cc:52] failed call to cuInit: "
        b"INTERNAL: CUDA error",
        b"To enable the following instructions: AVX2 AVX512F FMA, in other operations, "
        b"rebuild TensorFlow with the appropriate compiler flags.",
    ]
    assert all(is_noise(line) for line in noise)


def test_real_errors_and_our_own_lines_pass_through():
    kept = [
        b"kbetavae: error: unknown source 'mnist'",
        b"E0000 00:00:1795852065.656456    3465 some_kernel.cc:52] out of memory",
        b"Traceback (most recent call last):",
        b"[1/2] beta=1_seed=0: epoch 1/2 loss 12.0",
    ]
    assert not any(is_noise(line) for line in kept)


LIBRARY_USE = """
import numpy as np
import kbetavae
model = kbetavae.BetaVAE(beta=4.0, seed=0)
mu, _ = model.encode(np.zeros((1, 64, 64, 1), "float32"))
print("codes", mu.shape)
import sys
sys.stderr.write("our own stderr line\\n")
"""


def _library_run(env_extra: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",)}
    env.update({"CUDA_VISIBLE_DEVICES": "", **env_extra})
    return subprocess.run(
        [sys.executable, "-c", LIBRARY_USE], capture_output=True, text=True, env=env, check=True
    )


def test_library_use_prints_no_tensorflow_start_up_chatter_but_keeps_its_own_lines():
    run = _library_run({})
    assert "codes (1, 10)" in run.stdout
    lines = run.stderr.splitlines()
    assert "our own stderr line" in lines
    assert not [line for line in lines if is_noise(line.encode())], run.stderr


def test_the_chatter_is_kept_on_request_so_the_filter_is_what_removes_it():
    run = _library_run({"KBETAVAE_NATIVE_LOG": "1"})
    noise = [line for line in run.stderr.splitlines() if is_noise(line.encode())]
    assert noise, "expected TensorFlow's start-up lines without the filter"
