"""Reading the official dSprites files (``.npz`` and ``.hdf5``) and writing the npz layout.

The release (Matthey et al. 2017) stores ``imgs`` (N, 64, 64) uint8 and the latent classes
with colour first: (colour, shape, scale, orientation, posX, posY). Colour has one value and
is dropped. Only the arrays are read, never the pickled ``metadata``, so loading a file
never runs pickle.

``kbetavae data export`` writes the layout (:func:`export_npz`); for a variant of the
family its ``imgs`` are the variant's fixed observations, float32 (N, 64, 64, 3). Such a file
opens here as those images, to look at or use as a fixed dataset; it is not a base source
for ``--data`` (variants transform binary images) nor one ``train`` takes (a run's image
shape follows ``--data``).
"""

from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

import numpy as np

from kbetavae.data import factors as grid
from kbetavae.data.arrays import ArrayData
from kbetavae.data.ground_truth import GroundTruthData
from kbetavae.errors import InputError
from kbetavae.io import write_stream_atomic

OFFICIAL_NAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64"
REPLICA_DESCRIPTION = "dSprites replica rendered by kbetavae (official npz layout)"
# Images in memory at once while exporting: 16,384 binary ones, 1,365 colour ones.
_CHUNK_BYTES = 64 * 2**20


def _range(total: int, chunk: int) -> Iterable[int]:
    return range(0, total, chunk)


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
    shape = np.shape(images)
    if shape[1:3] != (height, width) or shape[3:] not in [(), (1,), (3,)]:
        raise InputError(
            f"{path}: images must have shape (N, {height}, {width}) or (N, {height}, {width}, "
            f"1), or (N, {height}, {width}, 3) for a variant's export, got {shape}"
        )
    # A variant's export (export_npz): its observations, float values in [0, 1].
    observed = shape[3:] == (3,)
    if observed and not np.issubdtype(images.dtype, np.floating):
        raise InputError(
            f"{path}: 3-channel images must be float values in [0, 1], got {images.dtype}"
        )
    factors = _factor_columns(np.asarray(classes), path)
    if factors.size and factors.min() < 0:
        raise InputError(f"{path}: negative latent class")
    if not factors.size:
        raise InputError(f"{path}: the file holds no images")
    sizes = tuple(int(m) + 1 for m in factors.max(axis=0))
    name = os.path.basename(path)
    return ArrayData(factors, images, factor_sizes=sizes, name=name, binary=not observed)


def save_npz(path: str | os.PathLike, factors: np.ndarray, images: np.ndarray) -> None:
    """Write binary images (N, 64, 64[, 1]) and their factor classes in the official npz
    layout (compressed, atomic)."""
    images = np.asarray(images).reshape(-1, *grid.IMAGE_SHAPE[:2])
    write_npz(path, factors, [images], images.shape[1:], np.uint8, REPLICA_DESCRIPTION)


def export_npz(
    path: str | os.PathLike,
    data: GroundTruthData,
    indices: np.ndarray,
    starts: Callable[[int, int], Iterable[int]] = _range,
) -> None:
    """Write the images of ``data`` at ``indices`` — a variant's fixed observations
    (``images_at``: one per (seed, index), as the tfds builder's configs hold them) — with
    their factor classes, in the official npz layout.

    Binary images are stored as the release stores them, uint8 (N, 64, 64). A variant's are
    float32 (N, 64, 64, 3): its values (a uniform colour, uniform noise, a colour-shifted
    crop of a painting) are not multiples of 1/255, so uint8 would change them; the whole
    grid is then 36 GB before compression, which is why a subset of ``indices`` is the
    usual export. Streamed: about 64 MB of images in memory at a time; ``starts(total,
    chunk)`` yields the chunk offsets (a CLI passes one that draws a progress bar).
    """
    indices = np.asarray(indices, dtype=np.int64)
    shape = grid.IMAGE_SHAPE[:2] if data.binary else data.image_shape
    chunk = max(1, _CHUNK_BYTES // (math.prod(shape) * data.dtype.itemsize))

    def chunks() -> Iterator[np.ndarray]:
        for start in starts(indices.size, chunk):
            yield data.images_at(indices[start : start + chunk]).reshape(-1, *shape)

    description = REPLICA_DESCRIPTION
    if not data.binary:
        description = f"{data.name}: each image's fixed observation (images_at), over the replica"
    write_npz(path, data.factors(indices), chunks(), shape, data.dtype, description)


def write_npz(
    path: str | os.PathLike,
    factors: np.ndarray,
    chunks: Iterable[np.ndarray],
    image_shape: tuple[int, ...],
    dtype: np.dtype,
    description: str,
) -> None:
    """Write ``factors`` (N, 5) and the N images ``chunks`` yields, in order, as an official-
    layout npz (``imgs``, colour-first ``latents_classes`` and ``latents_values``,
    ``metadata``): compressed as ``np.savez_compressed`` does, atomically, and one chunk in
    memory at a time."""
    f = grid.check_factors(factors)
    values = grid.factor_values()
    latents_values = np.column_stack(
        [np.ones(len(f))] + [values[k][f[:, k]] for k in range(f.shape[1])]
    )
    metadata = {
        "latents_names": ("color",) + grid.FACTOR_NAMES,
        "latents_sizes": np.array((1,) + grid.FACTOR_SIZES),
        "description": description,
    }
    arrays = {
        "latents_classes": np.column_stack([np.zeros(len(f), dtype=np.int64), f]),
        "latents_values": latents_values,
        "metadata": np.array(metadata, dtype=object),
    }
    dtype = np.dtype(dtype)
    header = {
        "descr": np.lib.format.dtype_to_descr(dtype),
        "fortran_order": False,
        "shape": (len(f), *image_shape),
    }

    def write(handle: BinaryIO) -> None:
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            with archive.open("imgs.npy", "w", force_zip64=True) as entry:
                np.lib.format.write_array_header_1_0(entry, header)
                written = 0
                for images in chunks:
                    if tuple(images.shape[1:]) != tuple(image_shape):
                        raise ValueError(f"images of shape {images.shape[1:]}, not {image_shape}")
                    entry.write(np.ascontiguousarray(images, dtype=dtype).tobytes())
                    written += len(images)
                if written != len(f):
                    raise ValueError(f"{written} images for {len(f)} factor rows")
            for name, array in arrays.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as entry:
                    np.lib.format.write_array(entry, array, allow_pickle=True)

    write_stream_atomic(path, write)
