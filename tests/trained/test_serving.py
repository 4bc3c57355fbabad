"""TF Serving REST bodies: they match the exported SavedModel's signatures, and the numbers the
signature computes from a body are the library's own encoding."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from kbetavae.data import open_source
from kbetavae.errors import InputError
from kbetavae.trained.serving import (
    SIGNATURES,
    ServingError,
    parse_predict_response,
    predict_request,
    predict_url,
)

LATENT_DIM = 6


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """An untrained BetaVAE and its SavedModel in TF Serving layout (<model>/1)."""
    import kbetavae
    from kbetavae.trained.export import export_saved_model

    model = kbetavae.BetaVAE(latent_dim=LATENT_DIM, seed=0)
    model(np.zeros((1, 64, 64, 1), np.float32))  # build before export (Keras requirement)
    version_dir = tmp_path_factory.mktemp("served") / "kbetavae" / "1"
    export_saved_model(model, version_dir)
    return model, str(version_dir)


def example_input(signature_name: str, n: int = 3) -> np.ndarray:
    if SIGNATURES[signature_name].input_name == "z":
        return np.random.default_rng(0).normal(size=(n, LATENT_DIM)).astype(np.float32)
    return open_source("replica").sample(n, rng=0)[1]  # uint8 0/1 images


def sent_batch(body: dict, name: str) -> np.ndarray:
    """What TF Serving reads from a body after it went over the wire as JSON."""
    body = json.loads(json.dumps(body))
    if "inputs" in body:
        return np.asarray(body["inputs"][name], np.float32)
    assert all(set(row) == {name} for row in body["instances"])
    return np.asarray([row[name] for row in body["instances"]], np.float32)


@pytest.mark.parametrize("columnar", [False, True], ids=["rows", "columns"])
@pytest.mark.parametrize("signature_name", sorted(SIGNATURES))
def test_request_body_matches_the_saved_models_signature(exported, signature_name, columnar):
    import tensorflow as tf

    signature = tf.saved_model.load(exported[1]).signatures[signature_name]
    (input_name, input_spec), *others = signature.structured_input_signature[1].items()
    body = predict_request(signature_name, example_input(signature_name), columnar=columnar)

    assert not others and input_name == SIGNATURES[signature_name].input_name
    assert body["signature_name"] == signature_name
    batch = sent_batch(body, input_name)
    assert input_spec.dtype == tf.float32 and batch.dtype == np.float32
    assert input_spec.is_compatible_with(tf.TensorSpec(batch.shape, tf.float32))
    assert set(signature.structured_outputs) == set(SIGNATURES[signature_name].outputs)


def test_saved_model_cli_on_a_request_gives_the_librarys_encoding(exported, tmp_path):
    from kbetavae.trained.load import load_encoder_decoder

    model, version_dir = exported
    images = example_input("encode", n=4)
    np.save(tmp_path / "images.npy", sent_batch(predict_request("encode", images), "images"))
    cli = shutil.which("saved_model_cli", path=os.path.dirname(sys.executable))
    assert cli, "saved_model_cli (installed with tensorflow) is missing"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    run = [cli, "run", "--dir", version_dir, "--tag_set", "serve", "--signature_def", "encode"]
    run += ["--inputs", f"images={tmp_path / 'images.npy'}", "--outdir", str(tmp_path / "out")]
    subprocess.run(run, check=True, capture_output=True, env=env, timeout=300)
    served = {name: np.load(tmp_path / "out" / f"{name}.npy") for name in ("mu", "logvar")}

    library_mu, library_logvar = load_encoder_decoder(version_dir)[0](images.astype(np.float32))
    np.testing.assert_array_equal(served["mu"], library_mu)  # same graph, same numbers
    np.testing.assert_array_equal(served["logvar"], library_logvar)
    keras_mu, _ = model.encode(images.astype(np.float32))
    np.testing.assert_allclose(served["mu"], np.asarray(keras_mu), atol=1e-5)

    # The same outputs as TF Serving would send them (row format) parse back exactly.
    rows = [{"mu": m.tolist(), "logvar": v.tolist()} for m, v in zip(*served.values(), strict=True)]
    parsed = parse_predict_response(json.dumps({"predictions": rows}), "encode")
    np.testing.assert_array_equal(parsed["mu"], served["mu"])
    np.testing.assert_array_equal(parsed["logvar"], served["logvar"])


def test_float32_values_cross_json_unchanged():
    z = np.random.default_rng(1).normal(size=(5, LATENT_DIM)).astype(np.float32)
    np.testing.assert_array_equal(sent_batch(predict_request("decode", z), "z"), z)
    np.testing.assert_array_equal(sent_batch(predict_request("decode", z, columnar=True), "z"), z)


def test_single_output_responses_get_their_output_name_back():
    probs = np.full((2, 64, 64, 1), 0.25, np.float32)
    rows = parse_predict_response({"predictions": probs.tolist()}, "decode")
    column = parse_predict_response({"outputs": probs.tolist()}, "reconstruct")
    assert set(rows) == set(column) == {"probs"}
    np.testing.assert_array_equal(rows["probs"], probs)
    np.testing.assert_array_equal(column["probs"], probs)


def test_columnar_response_with_several_outputs_is_read_by_name():
    parsed = parse_predict_response({"outputs": {"mu": [[0.5, 1.0]], "logvar": [[0, 0]]}}, "encode")
    assert parsed["mu"].dtype == np.float32 and parsed["mu"].tolist() == [[0.5, 1.0]]


def test_server_error_is_raised_with_its_message():
    with pytest.raises(ServingError, match="Servable not found"):
        parse_predict_response('{"error": "Servable not found for request"}', "encode")


@pytest.mark.parametrize(
    "signature_name, values, message",
    [
        ("classify", np.zeros((1, 6)), "signature must be one of encode, decode"),
        ("encode", np.zeros((2, 64, 64)), r"images must have shape \(N, 64, 64, 1\)"),
        ("encode", np.full((1, 64, 64, 1), 255), r"must be in \[0, 1\]"),
        ("decode", np.zeros(6), r"z must have shape \(N, latent_dim\)"),
        ("decode", np.zeros((0, 6)), "z must have shape"),
        ("decode", np.full((1, 6), np.nan), "NaN or infinite"),
    ],
)
def test_bad_request_input_names_what_is_expected(signature_name, values, message):
    with pytest.raises(InputError, match=message):
        predict_request(signature_name, values)


@pytest.mark.parametrize(
    "response, message",
    [
        ({"predictions": [[0.0]]}, "must name its outputs"),
        ({"outputs": {"mu": [[0.0]]}}, "lacks logvar"),
        ({"result": 1}, "has 'predictions' or 'outputs'"),
        ({"predictions": [{"mu": [0, 1], "logvar": [0]}, {"mu": [0], "logvar": [0]}]}, "rectang"),
    ],
)
def test_malformed_response_is_an_input_error(response, message):
    with pytest.raises(InputError, match=message):
        parse_predict_response(response, "encode")


def test_predict_url_names_model_and_optional_version():
    assert predict_url() == "http://localhost:8501/v1/models/kbetavae:predict"
    assert predict_url("m", host="srv", port=9000, version=2) == (
        "http://srv:9000/v1/models/m/versions/2:predict"
    )


def test_a_colour_models_request_gives_its_image_shape():
    colour = open_source("color-dsprites").sample(2, rng=0)[1]
    body = predict_request("encode", colour, image_shape=(64, 64, 3))
    assert sent_batch(body, "images").shape == (2, 64, 64, 3)
    with pytest.raises(InputError, match=r"images must have shape \(N, 64, 64, 1\)"):
        predict_request("encode", colour)  # a binary model's request
