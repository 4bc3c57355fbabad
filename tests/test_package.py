"""``import kbetavae`` as a library user meets it: light, and Keras-aware."""

import subprocess
import sys

import numpy as np
import pytest


def _python(code: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    import keras

    from kbetavae import BetaVAE

    model = BetaVAE(seed=0, latent_dim=3)
    model(np.zeros((1, 64, 64, 1), np.float32))
    path = tmp_path_factory.mktemp("model") / "beta4.keras"
    keras.saving.save_model(model, path)
    return path


def test_import_kbetavae_does_not_import_tensorflow_or_keras(tmp_path):
    done = _python(
        "import sys, kbetavae; print(sorted({'tensorflow', 'keras'} & set(sys.modules)))",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "imports", ["import kbetavae; import keras", "import keras; import kbetavae"]
)
def test_keras_load_model_finds_beta_vae_in_either_import_order(keras_file, imports):
    done = _python(
        f"{imports}\n"
        f"model = keras.models.load_model({str(keras_file)!r})\n"
        "print(type(model).__name__, model.latent_dim)",
        keras_file.parent,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "BetaVAE 3"


def test_from_keras_import_also_registers(keras_file):
    done = _python(
        "import kbetavae\nfrom keras import saving\n"
        f"print(type(saving.load_model({str(keras_file)!r})).__name__)",
        keras_file.parent,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "BetaVAE"


def test_every_module_with_a_registered_keras_class_is_registered_on_import():
    from pathlib import Path

    from kbetavae import registration

    package = Path(registration.__file__).parent
    registering = {
        ".".join(path.relative_to(package.parent).with_suffix("").parts)
        for path in package.rglob("*.py")
        if "register_keras_serializable" in path.read_text() and path.name != "registration.py"
    }
    assert registering == set(registration._KERAS_MODULES)
