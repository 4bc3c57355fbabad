"""kbetavae: disentangled representation learning with beta-VAEs on dSprites."""

from kbetavae.errors import InputError
from kbetavae.native_log import filter_when_tensorflow_loads
from kbetavae.registration import register_when_keras_loads

__version__ = "0.1.0"

__all__ = ["BetaVAE", "InputError", "TrainConfig", "TrainResult", "__version__", "train"]

# Loaded on first use: importing kbetavae (e.g. for the numpy-only metrics) must not import
# TensorFlow. The training module is `kbetavae.training`, so that `kbetavae.train` stays the
# function (a submodule named `train` would replace it once imported).
_LAZY = {
    "BetaVAE": "kbetavae.model.vae",
    "TrainConfig": "kbetavae.training.config",
    "TrainResult": "kbetavae.training.rundir",
    "train": "kbetavae.training.loop",
}


filter_when_tensorflow_loads()
register_when_keras_loads()


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kbetavae' has no attribute {name!r}")
