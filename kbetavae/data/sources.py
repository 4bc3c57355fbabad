"""Open a dSprites source by name or path — ``replica``, ``dsprites`` or a file — and,
over it, a dataset of the family (:mod:`kbetavae.data.variants`)."""

from __future__ import annotations

import os

from kbetavae.data.ground_truth import GroundTruthData
from kbetavae.data.variants import PLAIN, VARIANTS, make_variant
from kbetavae.errors import InputError

SOURCE_NAMES = ("replica", "dsprites")


def open_source(
    name_or_path: str | os.PathLike = "replica",
    *,
    data: str = PLAIN,
    painting: str | None = None,
    data_dir: str | None = None,
    download: bool = True,
) -> GroundTruthData:
    """Return the ground truth of dataset ``data`` over the base source ``replica``
    (default), ``dsprites`` (tfds) or a file path. A variant's name in place of the source
    means that variant over the replica; ``painting`` is scream-dSprites' image.

    Example:
        >>> open_source("replica").num_images
        737280
        >>> open_source("color-dsprites").image_shape
        (64, 64, 3)
    """
    name = os.fspath(name_or_path)
    if name in VARIANTS:
        if data not in (PLAIN, name):
            raise InputError(f"source {name!r} is a dataset; give it as data, not source")
        name, data = "replica", name
    base = _open_base(name, data_dir=data_dir, download=download)
    return make_variant(data, base, painting=painting)


def _open_base(name: str, *, data_dir: str | None, download: bool) -> GroundTruthData:
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
