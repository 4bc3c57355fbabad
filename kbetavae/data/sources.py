"""Open a dSprites source by name or path: ``replica``, ``dsprites`` or a file."""

from __future__ import annotations

import os

from kbetavae.data.ground_truth import GroundTruthData
from kbetavae.errors import InputError

SOURCE_NAMES = ("replica", "dsprites")


def open_source(
    name_or_path: str | os.PathLike = "replica",
    *,
    data_dir: str | None = None,
    download: bool = True,
) -> GroundTruthData:
    """Return the ground truth for ``replica`` (default), ``dsprites`` (tfds) or a file path.

    Example:
        >>> open_source("replica").num_images
        737280
    """
    name = os.fspath(name_or_path)
    if name == "replica":
        from kbetavae.data.replica import ReplicaData

        return ReplicaData()
    if name == "dsprites":
        from kbetavae.data.tfds_source import load_tfds

        return load_tfds(data_dir=data_dir, download=download)
    if name.endswith((".npz", ".hdf5", ".h5")):
        from kbetavae.data.files import load_file

        return load_file(name)
    raise InputError(
        f"unknown source {name!r}: use 'replica', 'dsprites' or a path to a dSprites "
        ".npz/.hdf5 file"
    )
