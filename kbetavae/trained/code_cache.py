"""Codes of encoder archives kept on disk, so evaluating an archive again encodes nothing.

At the full protocol an evaluation encodes ~720,000 of dSprites' 737,280 images per
encoder before any metric is computed: a seed's seven runs spent 52 of their 112 minutes
on it on the 2-core CPU (issue 26, beside two other jobs). A stop lost all of it, and
``kbetavae variants`` encoded the same images again after ``publish --from-archive``. Given
a directory (``--code-cache``), both keep each archive's codes there as they are encoded
(a :class:`~kbetavae.metrics.representation.CodeStore`, saved every
:data:`~kbetavae.metrics.representation.SAVE_EVERY_SECONDS`) and start from them when run
again.

One file per encoder, ``<directory>/<key>.npz``: ``mu`` and ``logvar`` (737,280 x z float32,
59 MB for z = 10), ``filled`` (which rows are codes) and ``key`` (what the key was made
of). The key is a digest of the archive's SHA-256, the run's data (source, data, painting),
the encoder formulation, the batch size and the TensorFlow version: the codes through the
XLA formulations depend in their last bits on the batch an image is encoded in. The code
table encodes in chunks that start at multiples of the batch size, so an evaluation resumed
from its own codes gives its uninterrupted numbers bit for bit; codes kept by another
command (``variants`` after ``publish``) were encoded in other batches and agree to rounding.

A file that cannot be read counts as absent (its images are encoded again): the cache is a
shortcut, never a reason to stop. Delete the directory after changing encoder code that
keeps its formulation's name.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Sequence
from typing import Any

import numpy as np

from kbetavae import io as kio
from kbetavae.metrics.representation import StoredCodes
from kbetavae.trained.archive import archive_digest
from kbetavae.training import rundir


class ArchiveCodeCache:
    """A code store over ``<directory>/<key>.npz``, one key per member of a group."""

    def __init__(self, directory: str, keys: Sequence[dict[str, Any]]) -> None:
        self.directory = directory
        self.keys = [dict(key) for key in keys]
        # One canonical text per key: stored in its file, hashed into its name, compared.
        self.texts = [json.dumps(key, sort_keys=True) for key in self.keys]
        self.paths = [
            os.path.join(directory, f"{hashlib.sha256(text.encode()).hexdigest()[:24]}.npz")
            for text in self.texts
        ]

    def load(self, num_models: int) -> list[StoredCodes | None]:
        """Each member's kept ``(mu, logvar, filled)``, None where none can be read."""
        if num_models != len(self.paths):
            return [None] * num_models
        return [_read(path, text) for path, text in zip(self.paths, self.texts, strict=True)]

    def keep(self, codes: list[tuple[np.ndarray, np.ndarray | None]], filled: np.ndarray) -> None:
        """Write each member's codes and the mask of rows they fill (atomically, each)."""
        kio.makedirs(self.directory)
        for path, text, (mu, logvar) in zip(self.paths, self.texts, codes, strict=True):
            arrays = {"mu": mu, "filled": filled, "key": np.array(text)}
            if logvar is not None:
                arrays["logvar"] = logvar
            kio.write_stream_atomic(path, lambda stream, arrays=arrays: np.savez(stream, **arrays))


def archive_code_cache(
    directory: str, run_dirs: Sequence[str], encoders: Sequence[Any], batch_size: int
) -> ArchiveCodeCache:
    """The code store of published runs' archives, encoded by ``encoders`` (those
    :func:`~kbetavae.trained.archive.read_encoder` gives, in ``run_dirs``' order)."""
    import tensorflow as tf

    keys = []
    for run_dir, encoder in zip(run_dirs, encoders, strict=True):
        config = rundir.read_config(run_dir)
        formulation = getattr(encoder, "formulation", None)
        keys.append(
            {
                "archive_sha256": archive_digest(rundir.archive_path(run_dir), 64),
                "data": [config.source, config.data, config.painting],
                "formulation": getattr(formulation, "name", "plain"),
                "batch_size": batch_size,
                "tensorflow": tf.__version__,
            }
        )
    return ArchiveCodeCache(directory, keys)


def _read(path: str, key_text: str) -> StoredCodes | None:
    if not kio.exists(path):
        return None
    try:
        with np.load(io.BytesIO(kio.read_bytes(path)), allow_pickle=False) as stored:
            if str(stored["key"]) != key_text:
                return None
            logvar = stored["logvar"] if "logvar" in stored.files else None
            return stored["mu"], logvar, stored["filled"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
