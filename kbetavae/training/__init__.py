"""Training one model into a run directory.

- :mod:`~kbetavae.training.config`: ``TrainConfig`` (every setting of a run), ``TrainResult``;
- :mod:`~kbetavae.training.rundir`: the run directory's format, name, readers and writers;
- :mod:`~kbetavae.training.callbacks`: the Keras callbacks of a run;
- :mod:`~kbetavae.training.loop`: ``train`` itself;
- :mod:`~kbetavae.training.cluster`: TF_CONFIG and the distribution strategy.

``config``, ``rundir`` and ``cluster`` do not import TensorFlow; ``train`` is loaded on
first use.
"""

from kbetavae.training.config import TrainConfig
from kbetavae.training.rundir import TrainResult, read_config, read_history, read_result, run_name

__all__ = [
    "TrainConfig",
    "TrainResult",
    "read_config",
    "read_history",
    "read_result",
    "run_name",
    "train",
]


def __getattr__(name: str):
    if name == "train":
        from kbetavae.training.loop import train

        return train
    raise AttributeError(f"module 'kbetavae.training' has no attribute {name!r}")
