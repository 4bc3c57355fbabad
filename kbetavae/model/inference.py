"""Encoder means at evaluation speed: the encoder as plain TensorFlow ops, one or many models.

The module is long because it re-states the encoder's arithmetic layer by layer (the
first layer as shifted slices, the later convolutions, the dense head) for one and for K
models, each with the shape checks that keep it equal to the Keras path.

Evaluation encodes ~680,000 distinct images per model, so the encoder's inference speed
sets the cost of ``kbetavae evaluate`` and of every sweep member. This module reads the
weights of a Keras encoder (the stride-2 convolutions, Flatten and Dense layers that
:func:`kbetavae.model.networks.build_encoder` makes) and runs the same arithmetic as one
traced, XLA-compiled graph with a fixed input signature, in float32:

- The first convolution has one input channel, so TF's conv2d runs it as a GEMM with a
  16-long reduction at a few GFLOP/s. Here it is the sum of its kh · kw taps: each tap a
  strided slice of the padded image times that tap's row of weights, broadcast over the
  output channels. XLA fuses the sum into one loop that reads each slice from cache and
  never materialises a patch matrix (a block-Toeplitz GEMM, TF conv2d, space-to-depth and
  extract_patches were all slower; numbers in benchmarks/bench_eval.py's docstring).
- uint8 images are cast to float inside the graph (4× less data through numpy).
- Batches of ``BATCH_SIZE`` images, always full (a short batch is zero-padded). Small
  batches keep the first layer's output (128 KB an image) in cache: 64 and 128 ran
  equally, 256 ran 0.72× and 1,024 0.51× as fast.

:func:`encode_many` encodes one batch with K encoders: their first layers are one wide
layer over the shared input (weights concatenated along the output channels), the rest
runs per member. Numbers equal each model's ``encode`` up to float rounding (the order of
the sums differs); the tests pin codes to 1e-5.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kbetavae.errors import InputError

BATCH_SIZE = 64


@dataclass(frozen=True)
class Conv:
    """A Conv2D layer: kernel (kh, kw, cin, cout), bias, stride, ``"same"`` padding, ReLU?"""

    kernel: np.ndarray
    bias: np.ndarray
    stride: int
    relu: bool


@dataclass(frozen=True)
class Dense:
    """A Dense layer: kernel (in, out), bias, ReLU?"""

    kernel: np.ndarray
    bias: np.ndarray
    relu: bool


def encoder_layers(model) -> tuple[list[Conv], list[Dense], tuple[int, int, int]]:
    """The convolutions, dense layers and image shape of a Keras encoder (or a model with
    ``.encoder``), or InputError if it has layers this module cannot run."""
    import keras

    encoder = getattr(model, "encoder", model)
    convs: list[Conv] = []
    denses: list[Dense] = []
    for layer in encoder.layers:
        if isinstance(layer, keras.layers.InputLayer | keras.layers.Flatten):
            continue
        relu = _relu(layer)
        if isinstance(layer, keras.layers.Conv2D) and not denses:
            strides = tuple(layer.strides)
            if (
                layer.padding != "same"
                or strides[0] != strides[1]
                or tuple(layer.dilation_rate) != (1, 1)
                or layer.groups != 1
                or layer.data_format != "channels_last"
                or not layer.use_bias
            ):
                raise InputError(f"fast inference does not support the layer {layer.name}")
            convs.append(Conv(_weight(layer.kernel), _weight(layer.bias), strides[0], relu))
        elif isinstance(layer, keras.layers.Dense) and layer.use_bias:
            denses.append(Dense(_weight(layer.kernel), _weight(layer.bias), relu))
        else:
            raise InputError(f"fast inference does not support the layer {layer.name}")
    if not convs or not denses:
        raise InputError("fast inference needs an encoder of convolutions then dense layers")
    shape = tuple(int(s) for s in encoder.input_shape[1:])
    return convs, denses, shape


def _relu(layer) -> bool:
    import keras

    activation = getattr(layer, "activation", None)
    if activation is keras.activations.relu:
        return True
    if activation is None or activation is keras.activations.linear:
        return False
    raise InputError(f"fast inference supports relu or linear activations, not {layer.name}'s")


def _weight(variable) -> np.ndarray:
    return np.asarray(variable.numpy(), dtype=np.float32)


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    # TF's "same": output ceil(size / stride), the extra pad on the bottom/right side.
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class _Graph:
    """One traced function images -> [(mu, logvar)] for a fixed list of encoders."""

    def __init__(
        self,
        members: Sequence[tuple[list[Conv], list[Dense]]],
        image_shape: tuple[int, int, int],
        *,
        batch_size: int,
        jit: bool,
    ) -> None:
        import tensorflow as tf

        self.image_shape = image_shape
        first = [convs[0] for convs, _ in members]
        kh, kw = first[0].kernel.shape[:2]
        stride = first[0].stride
        self.first_kernel = tf.constant(np.concatenate([c.kernel for c in first], axis=3))
        self.first_bias = [tf.constant(c.bias) for c in first]
        self.first_relu = [c.relu for c in first]
        height, width = image_shape[:2]
        self.first_geometry = (
            stride,
            _same_padding(height, kh, stride),
            _same_padding(width, kw, stride),
        )
        self.rest = [
            (
                [(tf.constant(c.kernel), tf.constant(c.bias), c.stride, c.relu) for c in convs[1:]],
                [(tf.constant(d.kernel), tf.constant(d.bias), d.relu) for d in denses],
            )
            for convs, denses in members
        ]
        self.function = tf.function(
            self._encode,
            input_signature=[tf.TensorSpec((batch_size, *image_shape), tf.uint8)],
            jit_compile=jit,
        )
        self.function_float = tf.function(
            self._encode,
            input_signature=[tf.TensorSpec((batch_size, *image_shape), tf.float32)],
            jit_compile=jit,
        )

    def _first_layer(self, images):
        import tensorflow as tf

        stride, pad_h, pad_w = self.first_geometry
        kernel = self.first_kernel  # (kh, kw, cin, K · cout)
        kh, kw, cin = kernel.shape[:3]
        x = tf.pad(images, [[0, 0], list(pad_h), list(pad_w), [0, 0]])
        if cin == 1:
            rows = (x.shape[1] - kh) // stride + 1
            cols = (x.shape[2] - kw) // stride + 1
            out = None
            for i in range(kh):
                for j in range(kw):
                    tap = (
                        x[
                            :,
                            i : i + stride * (rows - 1) + 1 : stride,
                            j : j + stride * (cols - 1) + 1 : stride,
                            :,
                        ]
                        * kernel[i, j, 0]
                    )
                    out = tap if out is None else out + tap
        else:
            out = tf.nn.conv2d(x, kernel, stride, "VALID")
        members = tf.split(out, len(self.rest), axis=-1)
        return [
            self._activate(m + bias, relu)
            for m, bias, relu in zip(members, self.first_bias, self.first_relu, strict=True)
        ]

    @staticmethod
    def _activate(x, relu: bool):
        import tensorflow as tf

        return tf.nn.relu(x) if relu else x

    def _encode(self, images):
        import tensorflow as tf

        x = tf.cast(images, tf.float32)
        outputs = []
        for h, (convs, denses) in zip(self._first_layer(x), self.rest, strict=True):
            for kernel, bias, stride, relu in convs:
                h = self._activate(tf.nn.conv2d(h, kernel, stride, "SAME") + bias, relu)
            h = tf.reshape(h, (-1, int(np.prod(h.shape[1:]))))
            for kernel, bias, relu in denses:
                h = self._activate(h @ kernel + bias, relu)
            mu, logvar = tf.split(h, 2, axis=-1)
            outputs.append((mu, logvar))
        return outputs

    def __call__(self, images: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        images = np.asarray(images)
        if images.dtype != np.uint8:
            images = images.astype(np.float32, copy=False)
        if images.ndim != 4 or tuple(images.shape[1:]) != self.image_shape:
            raise InputError(
                f"images must have shape (N, {', '.join(map(str, self.image_shape))}), "
                f"got {images.shape}"
            )
        function = self.function if images.dtype == np.uint8 else self.function_float
        return [(mu.numpy(), logvar.numpy()) for mu, logvar in function(images)]


class ManyEncoder:
    """Encode images with K encoders at once: ``encoder(images) -> [(mu, logvar)] * K``.

    ``images`` are uint8 in {0, 1} or float32 in [0, 1], shape (N, H, W, C); they are fed
    in batches of ``batch_size``. All models need the same image shape and first layer's
    kernel shape and stride.

    Example:
        >>> encode = ManyEncoder([model_a, model_b])  # doctest: +SKIP
        >>> (mu_a, logvar_a), (mu_b, logvar_b) = encode(images)  # doctest: +SKIP
    """

    def __init__(
        self,
        models: Sequence,
        *,
        batch_size: int = BATCH_SIZE,
        jit: bool = True,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if not models:
            raise InputError("encode_many needs at least one model")
        members, shapes = [], set()
        for model in models:
            convs, denses, shape = encoder_layers(model)
            members.append((convs, denses))
            shapes.add((shape, convs[0].kernel.shape, convs[0].stride))
        if len(shapes) != 1:
            raise InputError("encode_many needs models with the same input and first layer")
        self.num_models = len(members)
        self.batch_size = batch_size
        self._graph = _Graph(members, shape, batch_size=batch_size, jit=jit)

    def __call__(self, images: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        images = np.asarray(images)
        parts = [
            self._batch(images[start : start + self.batch_size])
            for start in range(0, max(len(images), 1), self.batch_size)
        ]
        return [
            (
                np.concatenate([part[k][0] for part in parts]),
                np.concatenate([part[k][1] for part in parts]),
            )
            for k in range(self.num_models)
        ]

    def _batch(self, images: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        # Every batch has exactly batch_size rows (a short one is zero-padded): one
        # compiled shape, and an image's code then never depends on the batch it came in
        # (XLA tiles a GEMM's remainder rows differently: 1e-9 changes seen otherwise).
        count = len(images)
        if count < self.batch_size:
            padding = np.zeros((self.batch_size - count, *images.shape[1:]), images.dtype)
            images = np.concatenate([images, padding])
        return [(mu[:count], logvar[:count]) for mu, logvar in self._graph(images)]


def fast_encoder(model, **options):
    """``encode(images) -> (mu, logvar)`` of one Keras encoder through :class:`ManyEncoder`
    (uint8 or float32 images); ``options`` are ManyEncoder's."""
    many = ManyEncoder([model], **options)

    def encode(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return many(images)[0]

    encode.accepts_uint8 = True
    return encode


def encode_many(models: Sequence, images: np.ndarray, **options):
    """``[(mu, logvar)]`` of ``images`` for each model, the first layers as one wide layer.

    Builds (and traces) a :class:`ManyEncoder` per call: keep one for repeated calls.
    """
    return ManyEncoder(models, **options)(images)
