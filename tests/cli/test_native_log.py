from cli.native_log import is_noise


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
