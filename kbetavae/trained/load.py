"""Open a trained model from a run directory, a ``.keras`` file or a SavedModel directory.

Every form gives the same numpy functions: ``encode(images) -> (mu, logvar)`` and
``decode(z) -> probs``; a published run without its model.keras gives the ``encode`` of its
encoder archive (:mod:`kbetavae.trained.archive`) and no ``decode``. Keras models run
through ``tf.function`` (eager calls cost about 1.5x a traced graph at evaluation batch
sizes); SavedModels run through their signatures, exactly as TF Serving would.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable

import numpy as np

from kbetavae import io as kio
from kbetavae.errors import InputError
from kbetavae.trained.export import SAVED_MODEL_FILE, exported_versions, is_exported
from kbetavae.training import rundir
from kbetavae.training.rundir import ARCHIVE_FILE, DONE_FILE, MODEL_FILE

EncodeFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]
DecodeFn = Callable[[np.ndarray], np.ndarray]


def resolve_model(path: str | os.PathLike) -> tuple[str, str]:
    """``("saved_model" | "keras" | "archive", path)`` of what ``path`` holds, or InputError.

    A TF Serving model directory (numbered version subdirectories) resolves to its highest
    version; a run directory to its model.keras, else (a published run) to its encoder
    archive. Paths may be local or remote (``gs://``).
    """
    path = os.fspath(path)
    if path.endswith(".keras") and kio.exists(path) and not kio.is_dir(path):
        return "keras", path
    if os.path.basename(path) == ARCHIVE_FILE and kio.exists(path) and not kio.is_dir(path):
        return "archive", path
    if kio.exists(path) and not kio.is_dir(path):
        raise InputError(
            f"{path} is not a model: expected a run directory, a .keras file or a SavedModel"
        )
    if not kio.is_dir(path):
        raise InputError(f"{path} does not exist (expected a run directory or a SavedModel)")
    if is_exported(path):
        return "saved_model", path
    if rundir.has_model(path):
        return "keras", rundir.model_path(path)
    if rundir.has_archive(path):
        return "archive", rundir.archive_path(path)
    versions = exported_versions(path)
    if versions:
        return "saved_model", os.path.join(path, str(max(versions)))
    if rundir.is_finished(path):
        raise InputError(
            f"{path} is a finished run ({DONE_FILE}) whose {MODEL_FILE} is gone and which has "
            f"no {ARCHIVE_FILE}: restore one, use the run's exported SavedModel instead, or "
            "delete the run directory and rerun the command that trained it to train it again"
        )
    if rundir.is_run_dir(path):
        raise InputError(
            f"{path} is an unfinished run (no {MODEL_FILE} yet): rerun the `kbetavae train` "
            "or `kbetavae sweep` command that started it to resume training"
        )
    raise InputError(
        f"{path} holds neither {MODEL_FILE} (a run directory) nor {SAVED_MODEL_FILE} (a SavedModel)"
    )


def load_model(path: str | os.PathLike):
    """The ``BetaVAE`` of a run directory or a ``.keras`` file (InputError for any other
    model)."""
    import keras

    import kbetavae.model.vae  # noqa: F401 - registers BetaVAE for deserialisation

    kind, resolved = resolve_model(path)
    if kind == "archive":
        raise InputError(
            f"{path} holds only an encoder archive ({ARCHIVE_FILE}: float16 encoder weights, "
            f"no decoder); a run directory with its {MODEL_FILE} or a .keras file is needed"
        )
    if kind != "keras":
        raise InputError(f"{path} is a SavedModel; a run directory or .keras file is needed")
    if not kio.is_remote(resolved) and not zipfile.is_zipfile(resolved):
        raise InputError(f"{resolved} is not a .keras file (corrupt or truncated: not a zip)")
    try:
        model = keras.saving.load_model(resolved)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        # Keras reports a zip missing its parts as "File not found"; name the file instead.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{resolved} is not a readable .keras file ({reason})") from None
    if not (hasattr(model, "encode") and hasattr(model, "decode")):
        raise InputError(
            f"{resolved} holds a Keras {type(model).__name__}, not a kbetavae model "
            "(no encode/decode): train one with `kbetavae train` or `kbetavae.BetaVAE`"
        )
    return model


def graph_encoder(model) -> EncodeFn:
    """A numpy ``encode(images) -> (mu, logvar)`` of a Keras model, traced once.

    A float32 encoder of convolutions and dense layers (every ``build_encoder``) runs
    through :func:`kbetavae.model.inference.fast_encoder` (same numbers to float rounding,
    faster, takes uint8 images too) in the formulation this machine runs fastest
    (:mod:`kbetavae.trained.encoder_choice`); any other model through
    ``tf.function(model.encode)``.
    """
    import tensorflow as tf

    from kbetavae.model.inference import fast_encoder
    from kbetavae.trained.encoder_choice import fastest

    encoder = getattr(model, "encoder", None)
    if encoder is not None and getattr(model, "compute_dtype", None) == "float32":
        try:
            fast = fast_encoder(model)
        except InputError:
            fast = None  # layers the fast path does not know: the Keras graph below is exact
        if fast is not None:
            return fastest(fast)
    graph = tf.function(model.encode, reduce_retracing=True)

    def encode(images: np.ndarray):
        mu, logvar = graph(tf.constant(images, tf.float32))
        return mu.numpy(), logvar.numpy()

    return encode


def graph_decoder(model) -> DecodeFn:
    """A numpy ``decode(z) -> probs`` of a Keras model, traced once."""
    import tensorflow as tf

    graph = tf.function(model.decode, reduce_retracing=True)
    return lambda z: graph(tf.constant(z, tf.float32)).numpy()


def load_encoder_decoder(path: str | os.PathLike) -> tuple[EncodeFn, DecodeFn | None]:
    """``encode`` and ``decode`` of a run directory, ``.keras`` file or SavedModel.

    ``decode`` is None for a SavedModel without a ``decode`` signature and for an encoder
    archive (which holds no decoder).
    """
    kind, resolved = resolve_model(path)
    if kind == "archive":
        from kbetavae.trained.archive import read_encoder

        return read_encoder(os.path.dirname(resolved)), None
    if kind == "keras":
        model = load_model(resolved)
        return graph_encoder(model), graph_decoder(model)

    import tensorflow as tf

    loaded = tf.saved_model.load(resolved)
    if "encode" not in loaded.signatures:
        raise InputError(
            f"SavedModel {resolved} has no 'encode' signature "
            f"(it has: {', '.join(sorted(loaded.signatures)) or 'none'})"
        )
    signature = loaded.signatures["encode"]
    (input_name,) = signature.structured_input_signature[1]

    def encode(images: np.ndarray):
        out = signature(**{input_name: tf.constant(images, tf.float32)})
        if "mu" not in out:
            raise InputError(f"the 'encode' signature of {resolved} returns no 'mu'")
        logvar = out.get("logvar")
        return out["mu"].numpy(), None if logvar is None else logvar.numpy()

    if "decode" not in loaded.signatures:
        return encode, None
    decode_signature = loaded.signatures["decode"]
    (z_name,) = decode_signature.structured_input_signature[1]

    def decode(z: np.ndarray):
        return decode_signature(**{z_name: tf.constant(z, tf.float32)})["probs"].numpy()

    return encode, decode
