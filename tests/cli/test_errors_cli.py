"""Usage errors as a user meets them: one line naming the flag or file, exit 2, nothing left.

These run ``kbetavae`` in a subprocess; the many cases that need no more than the parsed
command line are in-process, in tests/cli/test_bad_input_census.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

KBETAVAE = [sys.executable, "-m", "cli.main"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}


def kbetavae(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*KBETAVAE, *args], capture_output=True, text=True, env=ENV, cwd=cwd, timeout=600
    )


def one_line_error(done: subprocess.CompletedProcess, *expected: str) -> str:
    """The single stderr line of a usage error (exit 2), checked to hold ``expected``."""
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kbetavae: error: "), done.stderr
    assert "Traceback" not in done.stderr and "╭" not in done.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*"))


@pytest.fixture(scope="module")
def keras_bytes(tmp_path_factory) -> bytes:
    import keras

    from kbetavae import BetaVAE

    model = BetaVAE(seed=0, latent_dim=2)
    model(np.zeros((1, 64, 64, 1), np.float32))
    path = tmp_path_factory.mktemp("model") / "model.keras"
    keras.saving.save_model(model, path)
    return path.read_bytes()


def test_a_truncated_keras_file_is_named_and_exit_2(tmp_path, keras_bytes):
    model = tmp_path / "beta4.keras"
    model.write_bytes(keras_bytes[: len(keras_bytes) // 2])
    one_line_error(kbetavae(tmp_path, "evaluate", str(model)), str(model), "truncated")
    assert files_under(tmp_path) == [model]


def test_a_zip_that_is_not_a_keras_model_is_named_and_exit_2(tmp_path):
    model = tmp_path / "beta4.keras"
    with zipfile.ZipFile(model, "w") as archive:
        archive.writestr("notes.txt", "not a model")
    one_line_error(kbetavae(tmp_path, "evaluate", str(model)), str(model), "not a readable")
    assert files_under(tmp_path) == [model]


def test_evaluate_of_a_data_file_says_it_is_not_a_model(tmp_path):
    data = tmp_path / "dsprites.npz"
    np.savez(data, imgs=np.zeros((1, 64, 64), np.uint8))
    one_line_error(kbetavae(tmp_path, "evaluate", str(data)), str(data), "is not a model")


def test_evaluate_of_an_interrupted_run_says_it_is_unfinished_and_how_to_resume(tmp_path):
    from kbetavae.training import TrainConfig
    from kbetavae.training.rundir import write_config

    run = tmp_path / "beta=4_seed=0"
    run.mkdir()
    write_config(str(run), TrainConfig(beta=4.0, seed=0))  # a whole config, as train writes
    one_line_error(kbetavae(tmp_path, "evaluate", str(run)), "unfinished run", "rerun")
    assert files_under(tmp_path) == [run, run / "config.json"]


@pytest.mark.parametrize("command", ["train", "sweep"])
def test_out_that_is_a_file_is_named_and_exit_2(tmp_path, command):
    taken = tmp_path / "runs"
    taken.write_text("")
    done = kbetavae(tmp_path, command, "--out", str(taken), "--epochs", "1", "--subset", "64")
    one_line_error(done, f"--out {taken} is a file, not a directory")
    assert files_under(tmp_path) == [taken]


def test_data_export_to_a_directory_refuses_before_rendering(tmp_path):
    target = tmp_path / "exports"
    target.mkdir()
    one_line_error(kbetavae(tmp_path, "data", "export", str(target)), str(target), "directory")
    assert files_under(tmp_path) == [target]


def test_sweep_errors_name_the_flag_as_typed(tmp_path):
    done = kbetavae(tmp_path, "sweep", "--out", str(tmp_path), "--batch-size", "0")
    one_line_error(done, "--batch-size must be an integer >= 1")
    assert files_under(tmp_path) == []
