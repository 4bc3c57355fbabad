"""TF Serving REST bodies for an exported model, and their responses back as numpy.

Serve a model directory of ``saved_models/`` (TF Serving wants the parent of the numbered
version directories, as an absolute path)::

    tensorflow_model_server --rest_api_port=8501 --model_name=kbetavae \\
        --model_base_path=$PWD/saved_models/study/beta=5_seed=0

and POST a body to ``predict_url()`` (``http://localhost:8501/v1/models/kbetavae:predict``).
A body names the signature and gives its one input either as rows (``"instances"``, one
object per example, the TF Serving "row format") or as a column (``"inputs"``, the whole
batch). Rows come back as ``"predictions"``, a column as ``"outputs"``; TF Serving drops the
output's name when a signature has one output (``decode``, ``reconstruct``), so the parser
puts it back. Pure numpy and json: a client needs neither TensorFlow nor a model.

Example:
    >>> body = predict_request("decode", np.zeros((2, 10), np.float32))
    >>> body["signature_name"], len(body["instances"]), sorted(body["instances"][0])
    ('decode', 2, ['z'])
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from kbetavae.data.factors import IMAGE_SHAPE
from kbetavae.errors import InputError


@dataclasses.dataclass(frozen=True)
class Signature:
    """One exported signature: its input (name, shape of one example) and output names.

    ``example_shape`` None means "a vector of any length" (the latent size is the model's).
    """

    input_name: str
    example_shape: tuple[int, ...] | None
    outputs: tuple[str, ...]
    unit_interval: bool = False  # inputs are images in [0, 1]


# kbetavae.trained.export's signatures (docs/DESIGN.md "SavedModel signatures"); a test checks these
# against an exported SavedModel.
SIGNATURES: dict[str, Signature] = {
    "encode": Signature("images", IMAGE_SHAPE, ("mu", "logvar"), unit_interval=True),
    "decode": Signature("z", None, ("probs",)),
    "reconstruct": Signature("images", IMAGE_SHAPE, ("probs",), unit_interval=True),
}
SIGNATURES["serving_default"] = SIGNATURES["encode"]
INPUT_DTYPE = np.float32


class ServingError(RuntimeError):
    """TF Serving answered with ``{"error": ...}``."""


def signature(name: str) -> Signature:
    """The :class:`Signature` called ``name``, or InputError naming the choices."""
    if name not in SIGNATURES:
        raise InputError(f"signature must be one of {', '.join(SIGNATURES)}, got {name!r}")
    return SIGNATURES[name]


def predict_request(
    signature_name: str,
    values: np.ndarray,
    *,
    columnar: bool = False,
    image_shape: tuple[int, ...] | None = None,
) -> dict[str, Any]:
    """The JSON body (a dict; ``json.dumps`` it) of a ``predict`` call.

    Args:
        signature_name: ``encode``, ``decode``, ``reconstruct`` or ``serving_default``.
        values: a batch: images (N, 64, 64, 1) in [0, 1] (uint8 0/1 is fine) or codes
            z (N, latent_dim); sent as float32.
        columnar: ``{"inputs": {name: batch}}`` instead of the row format
            ``{"instances": [{name: example}, ...]}``.
        image_shape: the model's image shape, if not dSprites' (64, 64, 1): (64, 64, 3)
            for a model of a colour variant.
    """
    spec = signature(signature_name)
    if image_shape is not None and spec.example_shape is not None:
        spec = dataclasses.replace(spec, example_shape=tuple(image_shape))
    batch = _check_batch(spec, values)
    # float32 -> Python float is exact, so the server rebuilds the very same float32 values.
    if columnar:
        return {"signature_name": signature_name, "inputs": {spec.input_name: batch.tolist()}}
    rows = [{spec.input_name: row} for row in batch.tolist()]
    return {"signature_name": signature_name, "instances": rows}


def parse_predict_response(
    response: Mapping[str, Any] | str | bytes, signature_name: str
) -> dict[str, np.ndarray]:
    """``{output name: float32 array (N, ...)}`` of a ``predict`` response (either format)."""
    spec = signature(signature_name)
    body = json.loads(response) if isinstance(response, str | bytes) else response
    if not isinstance(body, Mapping):
        raise InputError(f"a predict response is a JSON object, got {type(body).__name__}")
    if "error" in body:
        raise ServingError(f"TF Serving: {body['error']}")
    if "predictions" in body:
        rows = body["predictions"]
        if not isinstance(rows, list) or not rows:
            raise InputError("'predictions' must be a non-empty list")
        if isinstance(rows[0], Mapping):
            outputs = {name: [row.get(name) for row in rows] for name in rows[0]}
        else:
            outputs = {_single_output(spec, signature_name): rows}
    elif "outputs" in body:
        column = body["outputs"]
        outputs = (
            dict(column)
            if isinstance(column, Mapping)
            else {_single_output(spec, signature_name): column}
        )
    else:
        raise InputError(f"a predict response has 'predictions' or 'outputs', got {list(body)}")
    missing = sorted(set(spec.outputs) - set(outputs))
    if missing:
        raise InputError(f"the {signature_name!r} response lacks {', '.join(missing)}")
    return {name: _as_array(name, value) for name, value in outputs.items()}


def predict_url(
    model_name: str = "kbetavae",
    host: str = "localhost",
    port: int = 8501,
    version: int | None = None,
) -> str:
    """The REST ``predict`` endpoint of a model (its latest version unless ``version``)."""
    path = f"/v1/models/{model_name}" + (f"/versions/{version}" if version is not None else "")
    return f"http://{host}:{port}{path}:predict"


def _check_batch(spec: Signature, values) -> np.ndarray:
    batch = np.asarray(values, dtype=INPUT_DTYPE)
    expected = spec.example_shape
    ok = batch.ndim == 2 if expected is None else batch.shape[1:] == expected
    if not ok or batch.shape[0] == 0:
        shape = "(N, latent_dim)" if expected is None else f"(N, {', '.join(map(str, expected))})"
        raise InputError(f"{spec.input_name} must have shape {shape}, got {batch.shape}")
    if not np.isfinite(batch).all():
        raise InputError(f"{spec.input_name} holds NaN or infinite values")
    if spec.unit_interval and (batch.min() < 0 or batch.max() > 1):
        raise InputError(
            f"{spec.input_name} must be in [0, 1] (pixel values), "
            f"got values in [{batch.min():g}, {batch.max():g}]"
        )
    return batch


def _single_output(spec: Signature, signature_name: str) -> str:
    if len(spec.outputs) != 1:
        raise InputError(
            f"the {signature_name!r} response must name its outputs ({', '.join(spec.outputs)})"
        )
    return spec.outputs[0]


def _as_array(name: str, value) -> np.ndarray:
    try:
        return np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise InputError(f"output {name!r} is not a rectangular array of numbers") from None
