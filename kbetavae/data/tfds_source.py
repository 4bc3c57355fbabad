"""The real dSprites through tensorflow-datasets' own ``dsprites`` builder.

Preparing it downloads the release file once (26 MB). Offline, tfds would retry the
download for minutes, so the download host is probed first and an unreachable host is a
one-line error that points at the replica or a local file.
"""

from __future__ import annotations

import socket

import numpy as np

from kbetavae.data.arrays import ArrayData
from kbetavae.errors import InputError

DOWNLOAD_HOST = ("github.com", 443)  # where tfds' dsprites builder fetches the file
LABEL_KEYS = (
    "label_shape",
    "label_scale",
    "label_orientation",
    "label_x_position",
    "label_y_position",
)
OFFLINE_HINT = "use `source` replica (offline default) or the path of a local dSprites .npz/.hdf5"


def host_reachable(address: tuple[str, int] = DOWNLOAD_HOST, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to ``address`` opens within ``timeout`` seconds."""
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except OSError:
        return False


def load_tfds(data_dir: str | None = None, download: bool = True) -> ArrayData:
    """Load tfds' ``dsprites`` (train split, the whole grid) into bit-packed memory.

    Pixels are binarised with ``> 0``: tfds stores dSprites as 0/1, but its mock data (and
    any re-encoded copy) uses other non-zero values, and ``/ 255`` would turn 1 into 0.004.
    """
    import tensorflow_datasets as tfds

    try:  # prepared (or mocked) data needs no download and no network
        dataset = tfds.load(
            "dsprites", split="train", data_dir=data_dir, download=False, batch_size=4096
        )
    except Exception:  # noqa: BLE001 - tfds signals "not prepared" with assorted errors
        if not download:
            raise InputError(
                "tfds dsprites is not prepared and downloads are off; " + OFFLINE_HINT
            ) from None
        if not host_reachable():
            raise InputError(
                f"tfds dsprites is not prepared and its download host {DOWNLOAD_HOST[0]} is "
                "unreachable (offline?); " + OFFLINE_HINT
            ) from None
        try:
            dataset = tfds.load("dsprites", split="train", data_dir=data_dir, batch_size=4096)
        except Exception as exc:  # noqa: BLE001 - a failed download or prepare
            raise InputError(f"tfds could not load dsprites ({exc}); " + OFFLINE_HINT) from exc
    factors, images = [], []
    for batch in tfds.as_numpy(dataset):
        factors.append(np.stack([batch[key] for key in LABEL_KEYS], axis=1))
        images.append(batch["image"] > 0)
    return ArrayData(np.concatenate(factors), np.concatenate(images), name="tfds dsprites")
