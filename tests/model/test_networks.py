"""The Burgess et al. (2018) encoder/decoder builders."""

import keras
import numpy as np
import pytest

from kbetavae.errors import InputError
from kbetavae.model.networks import build_decoder, build_encoder


def test_encoder_is_four_stride_2_convolutions_then_dense_256_256_and_2z():
    encoder = build_encoder(latent_dim=10)
    convs = [layer for layer in encoder.layers if isinstance(layer, keras.layers.Conv2D)]
    denses = [layer for layer in encoder.layers if isinstance(layer, keras.layers.Dense)]
    assert [(c.filters, c.kernel_size, c.strides) for c in convs] == [(32, (4, 4), (2, 2))] * 4
    assert [d.units for d in denses] == [256, 256, 20]
    assert encoder.output_shape == (None, 20)


def test_decoder_mirrors_the_encoder_and_outputs_logits_of_the_image_shape():
    decoder = build_decoder(latent_dim=10)
    deconvs = [layer for layer in decoder.layers if isinstance(layer, keras.layers.Conv2DTranspose)]
    assert [d.filters for d in deconvs] == [32, 32, 32, 1]
    assert deconvs[-1].activation is keras.activations.linear  # logits, not probabilities
    assert decoder.output_shape == (None, 64, 64, 1)


def test_architecture_is_a_parameter():
    encoder = build_encoder(3, image_shape=(32, 32, 1), filters=(8, 16), hidden_units=(64,))
    decoder = build_decoder(3, image_shape=(32, 32, 1), filters=(8, 16), hidden_units=(64,))
    z = encoder(np.zeros((2, 32, 32, 1), "float32"))
    assert z.shape == (2, 6)
    assert decoder(np.zeros((2, 3), "float32")).shape == (2, 32, 32, 1)


@pytest.mark.parametrize("latent_dim", [0, -1, 2.5, True])
def test_bad_latent_dim_is_an_input_error_naming_it(latent_dim):
    with pytest.raises(InputError, match="latent_dim"):
        build_encoder(latent_dim)


def test_image_shape_not_divisible_by_the_strides_is_an_input_error():
    with pytest.raises(InputError, match="image_shape"):
        build_decoder(10, image_shape=(60, 60, 1))
