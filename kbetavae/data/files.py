"""Reading the official dSprites files (``.npz`` and ``.hdf5``) and writing the npz layout.

The release (Matthey et al. 2017) stores ``imgs`` (N, 64, 64) uint8 and the latent classes
with colour first: (colour, shape, scale, orientation, posX, posY). Colour has one value and
is dropped. Only the arrays are read, never the pickled ``metadata``, so loading a file
never runs pickle.
"""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np

from kbetavae.data import factors as grid
from kbetavae.data.arrays import ArrayData
from kbetavae.errors import InputError
from kbetavae.io import write_bytes_atomic

OFFICIAL_NAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64"


def _factor_columns(classes: np.ndarray, path: str) -> np.ndarray:
    if classes.ndim != 2 or classes.shape[1] not in (5, 6):
        raise InputError(
            f"{path}: latents classes must have shape (N, 6) or (N, 5), got {classes.shape}"
        )
    if classes.shape[1] == 6:
        if np.unique(classes[:, 0]).size > 1:
            raise InputError(f"{path}: the colour column (first) must hold a single value")
        classes = classes[:, 1:]
    return classes.astype(np.int64)


def load_file(path: str | os.PathLike) -> ArrayData:
    """Open an official-layout dSprites ``.npz`` or ``.hdf5`` file as ground truth.

    Factor sizes are the full dSprites grid when the file holds it, otherwise the extent of
    the classes present (so a small file of a reduced grid also loads).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(f"no such dSprites file: {path}")
    try:
        if path.endswith(".npz"):
            with np.load(path, allow_pickle=False) as archive:
                missing = {"imgs", "latents_classes"} - set(archive.files)
                if missing:
                    raise InputError(f"{path}: missing array(s) {sorted(missing)}")
                images, classes = archive["imgs"], archive["latents_classes"]
        elif path.endswith((".hdf5", ".h5")):
            import h5py

            with h5py.File(path, "r") as handle:
                if "imgs" not in handle or "latents/classes" not in handle:
                    raise InputError(f"{path}: needs datasets 'imgs' and 'latents/classes'")
                images, classes = handle["imgs"][()], handle["latents/classes"][()]
        else:
            raise InputError(f"{path}: expected a .npz or .hdf5 dSprites file")
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{path}: not a readable dSprites file ({exc})") from exc
    height, width = grid.IMAGE_SHAPE[:2]
    if np.ndim(images) not in (3, 4) or np.shape(images)[1:3] != (height, width):
        raise InputError(
            f"{path}: images must have shape (N, {height}, {width}) or "
            f"(N, {height}, {width}, 1), got {np.shape(images)}"
        )
    factors = _factor_columns(np.asarray(classes), path)
    if factors.size and factors.min() < 0:
        raise InputError(f"{path}: negative latent class")
    if not factors.size:
        raise InputError(f"{path}: the file holds no images")
    sizes = tuple(int(m) + 1 for m in factors.max(axis=0))
    return ArrayData(factors, images, factor_sizes=sizes, name=os.path.basename(path))


def save_npz(path: str | os.PathLike, factors: np.ndarray, images: np.ndarray) -> None:
    """Write images and factor classes in the official npz layout (compressed, atomic)."""
    f = grid.check_factors(factors)
    values = grid.factor_values()
    latents_values = np.column_stack(
        [np.ones(len(f))] + [values[k][f[:, k]] for k in range(f.shape[1])]
    )
    metadata = {
        "latents_names": ("color",) + grid.FACTOR_NAMES,
        "latents_sizes": np.array((1,) + grid.FACTOR_SIZES),
        "description": "dSprites replica rendered by kbetavae (official npz layout)",
    }
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        imgs=np.asarray(images).reshape(-1, 64, 64).astype(np.uint8),
        latents_classes=np.column_stack([np.zeros(len(f), dtype=np.int64), f]),
        latents_values=latents_values,
        metadata=np.array(metadata, dtype=object),
    )
    write_bytes_atomic(path, buffer.getvalue())
