"""A published run's encoder, kept small: its weights in float16, what re-evaluation needs.

A published run keeps no model.keras, so without this file no metric or protocol variant
could be computed again without retraining. ``encoder.npz``
(:func:`kbetavae.training.rundir.archive_path`) holds the encoder's weights rounded to
float16, in Keras' ``get_weights()`` order: 252,052 numbers for the study's encoder, 0.5 MB
a run where float32 would be 1 MB (issue 26's budget: ~56 runs under ~30 MB). The
architecture is not repeated: it is :func:`~kbetavae.model.networks.build_encoder` of the
run's config.json (``latent_dim`` and the data's image shape); the stored shapes are
checked against it.

Reading casts the weights to float32 and encodes through the fast encoder evaluation uses
(:mod:`kbetavae.model.inference`, in the formulation :mod:`kbetavae.trained.encoder_choice`
picks), so codes are deterministic and equal those of the model with float16-rounded
weights; they are not the float32 model's (float16 keeps 11 significant bits), so metrics
computed from an archive can differ slightly from the sweep's (measured in
tests/trained/test_archive.py and tests/study/test_publish_archive.py).

The file is a zip of ``.npy`` members that ``numpy.load`` reads: ``format`` (1) and
``weight_00``, ``weight_01``, ... Members carry a fixed timestamp, so the same weights give
the same bytes and a report republished from the same sweep does not change in git.

Example:
    >>> write_archive(model, "docs/results/runs/beta=4_seed=0/encoder.npz")  # doctest: +SKIP
    >>> mu, logvar = read_encoder("docs/results/runs/beta=4_seed=0")(images)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import io as _io
import os
import zipfile

import numpy as np

from kbetavae import io as kio
from kbetavae.errors import DamagedFile, InputError
from kbetavae.training import rundir

FORMAT = 1
# One member date for every archive (the earliest a zip holds): same weights, same bytes.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def write_archive(model, path: str) -> str:
    """Write the archive of ``model``'s encoder to ``path`` atomically; return ``path``."""
    kio.write_bytes_atomic(path, archive_bytes(model))
    return path


def archive_bytes(model) -> bytes:
    """The archive of ``model``'s encoder (a ``BetaVAE`` or the encoder itself): its
    float16 weights. InputError if a weight is outside float16's range (it would be
    stored as infinity)."""
    encoder = getattr(model, "encoder", model)
    weights = [np.asarray(w, np.float32) for w in encoder.get_weights()]
    largest = max(float(np.max(np.abs(w), initial=0.0)) for w in weights)
    if not np.isfinite(largest) or largest > float(np.finfo(np.float16).max):
        raise InputError(
            f"cannot archive the encoder in float16: its largest weight is {largest:g} "
            f"(float16 holds at most {np.finfo(np.float16).max:g})"
        )
    members = {"format": np.array(FORMAT, np.int32)}
    members.update({f"weight_{k:02d}": w.astype(np.float16) for k, w in enumerate(weights)})
    return _zip_of(members)


def _zip_of(members: dict[str, np.ndarray]) -> bytes:
    buffer = _io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in members.items():
            member = _io.BytesIO()
            np.lib.format.write_array(member, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def read_weights(path: str) -> list[np.ndarray]:
    """The float16 weights an archive holds, in ``get_weights()`` order; DamagedFile for a
    file that is not a whole archive of this format."""
    run_dir = os.path.dirname(path)
    if not kio.exists(path):
        raise InputError(f"{path} does not exist")
    data = kio.read_bytes(path)
    if not data.startswith(b"PK"):  # np.load would try it as a lone .npy or a pickle
        raise rundir.damaged_archive(run_dir, "empty" if not data else "not a zip archive")
    try:
        with np.load(_io.BytesIO(data), allow_pickle=False) as archive:
            if "format" not in archive.files or int(archive["format"]) != FORMAT:
                raise rundir.damaged_archive(run_dir, f"not an encoder archive of format {FORMAT}")
            names = sorted(name for name in archive.files if name.startswith("weight_"))
            weights = [archive[name] for name in names]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, DamagedFile):
            raise
        raise rundir.damaged_archive(run_dir, f"{type(exc).__name__}: {exc}".strip()) from None
    if not weights or any(w.dtype != np.float16 for w in weights):
        raise rundir.damaged_archive(run_dir, "no float16 weights")
    return weights


def archive_digest(path: str, digits: int = 12) -> str:
    """The first ``digits`` hex digits of the SHA-256 of an encoder archive's bytes."""
    return hashlib.sha256(kio.read_bytes(path)).hexdigest()[:digits]


def read_encoder(run_dir: str):
    """``encode(images) -> (mu, logvar)`` of the run's archive: the encoder of its
    config.json with the archive's weights cast to float32, through the fast encoder.

    InputError without config.json or archive; DamagedFile if the archive is not whole or
    its shapes are not the encoder's.
    """
    from kbetavae.model.inference import fast_encoder
    from kbetavae.model.networks import build_encoder
    from kbetavae.trained.encoder_choice import fastest

    config = rundir.read_config(run_dir)
    if config is None:
        raise InputError(
            f"{rundir.archive_path(run_dir)} needs its run's config.json beside it "
            "(the encoder's architecture)"
        )
    weights = read_weights(rundir.archive_path(run_dir))
    encoder = build_encoder(config.latent_dim, image_shape=config.image_shape)
    expected = [tuple(w.shape) for w in encoder.get_weights()]
    if [tuple(w.shape) for w in weights] != expected:
        raise rundir.damaged_archive(
            run_dir,
            f"weights of shapes {[tuple(w.shape) for w in weights]}, where the encoder of "
            f"its config.json (latent_dim {config.latent_dim}, images "
            f"{config.image_shape}) has {expected}",
        )
    encoder.set_weights([w.astype(np.float32) for w in weights])
    return fastest(fast_encoder(encoder))
