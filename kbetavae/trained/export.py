"""Export a trained model as a SavedModel for TF Serving.

Signatures (docs/DESIGN.md), all deterministic:
``encode``: ``images`` float32 (N, 64, 64, 1) in [0, 1] -> ``mu``, ``logvar`` (N, z);
``decode``: ``z`` float32 (N, z) -> ``probs`` (N, 64, 64, 1);
``reconstruct``: ``images`` -> ``probs`` (decodes μ); ``serving_default`` is ``encode``.
A local SavedModel is written to a temporary directory and renamed into place, so a reader
(or TF Serving polling the version directory) never sees half an export. Buckets have no
atomic directory rename, so a remote export is written in place; it is complete once
``saved_model.pb`` exists (:func:`is_exported`), which TensorFlow writes after the variables.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from typing import Any

from kbetavae import faults
from kbetavae import io as kio

SIGNATURES = ("encode", "decode", "reconstruct")
SAVED_MODEL_FILE = "saved_model.pb"


def is_exported(path: str | os.PathLike) -> bool:
    """Whether ``path`` holds a complete SavedModel (local or remote)."""
    return kio.exists(os.path.join(os.fspath(path), SAVED_MODEL_FILE))


def exported_versions(model_dir: str) -> list[int]:
    """The numbered versions of a TF Serving model directory that hold a SavedModel."""
    found = kio.glob(model_dir, os.path.join("*", SAVED_MODEL_FILE))
    names = [os.path.basename(os.path.dirname(path)) for path in found]
    return sorted(int(name) for name in names if re.fullmatch(r"\d+", name))


def export_saved_model(model: Any, path: str | os.PathLike) -> str:
    """Write ``model`` (a built ``BetaVAE``) as a SavedModel at ``path`` (a version dir)."""
    # Imported here: the layout above is read by modules that must not start TensorFlow.
    import keras
    import tensorflow as tf

    path = os.fspath(path)
    image_spec = tf.TensorSpec([None, *model.image_shape], tf.float32, name="images")
    code_spec = tf.TensorSpec([None, model.latent_dim], tf.float32, name="z")

    def encode(images):
        mu, logvar = model.encode(images)
        return {"mu": mu, "logvar": logvar}

    def decode(z):
        return {"probs": model.decode(z)}

    def reconstruct(images):
        mu, _ = model.encode(images)
        return {"probs": model.decode(mu)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", encode, input_signature=[image_spec])
    archive.add_endpoint("encode", encode, input_signature=[image_spec])
    archive.add_endpoint("decode", decode, input_signature=[code_spec])
    archive.add_endpoint("reconstruct", reconstruct, input_signature=[image_spec])
    if kio.is_remote(path):
        kio.remove_tree(path)  # what an interrupted export left
        archive.write_out(path, verbose=False)
        return path
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        archive.write_out(staging, verbose=False)
        faults.checkpoint("export")
        if os.path.exists(path):
            shutil.rmtree(path)
        os.replace(staging, path)
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging)
    return path
