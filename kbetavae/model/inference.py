"""Encoder means at evaluation speed: the encoder as plain TensorFlow ops, compiled once.

Evaluation encodes up to ~680,000 distinct images per model, so the encoder's inference
speed sets the cost of ``kbetavae evaluate`` and of every sweep member. This module reads
the weights of a Keras encoder (the stride-2 convolutions, Flatten and Dense layers that
:func:`kbetavae.model.networks.build_encoder` makes) and runs the same arithmetic as one
traced, XLA-compiled graph with a fixed input signature, in float32:

- The first convolution has one input channel, so TF's conv2d runs it as a GEMM with a
  16-long reduction at a few GFLOP/s. Here it is the sum of its kh · kw taps: each tap a
  strided slice of the padded image times that tap's row of weights, broadcast over the
  output channels. XLA fuses the sum into one loop that reads each slice from cache and
  never materialises a patch matrix (a block-Toeplitz GEMM, TF conv2d, space-to-depth and
  extract_patches were all slower; numbers in benchmarks/bench_eval.py's docstring).
- uint8 images are cast to float inside the graph (4× less data through numpy).
- Batches of a fixed size, always full (a short batch is zero-padded).
- Which of these runs fastest depends on the CPU, so there are several
  :data:`FORMULATIONS` of the same arithmetic: the tap sum under XLA at 64 images a batch
  (on the AVX2 EPYC 64 and 128 ran equally, 256 ran 0.72× and 1,024 0.51× as fast: small
  batches keep the first layer's output, 128 KB an image, in cache), the same at 1,024,
  and TF's own conv2d kernels without XLA at 1,024 (on the Zen 4 EPYC with AVX512-BF16 the
  fastest: Keras' ``tf.function`` at 1,024 encoded 1.28× the XLA path at 64, issue 21).
  :mod:`kbetavae.trained.encoder_choice` times them once per machine and picks one.
- The weights are arguments of the graph, not constants in it: every model of one
  architecture runs the same compiled graph, so tracing and XLA compilation (seconds,
  more than the encoding itself at a quick sweep's sample sizes, issue 21) are paid once
  per process, and an image's code is the same whichever models are evaluated beside it.

Numbers equal the Keras model's ``encode`` up to float rounding (the order of the sums
differs); the tests pin codes to 1e-5. (Long because the layer reader, the graph and its
formulations describe one computation and must change together.)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from kbetavae.errors import InputError

BATCH_SIZE = 64


@dataclass(frozen=True)
class Formulation:
    """One way to run the encoder's arithmetic: the batch size, XLA or not, whether a
    one-channel first convolution is the sum of its taps (fast under XLA only) or TF's
    conv2d, the dtype it computes in, and whether a machine's automatic choice
    (:mod:`kbetavae.trained.encoder_choice`) considers it."""

    name: str
    batch_size: int
    jit: bool
    taps: bool
    compute_dtype: str = "float32"
    automatic: bool = True


FORMULATIONS: dict[str, Formulation] = {
    f.name: f
    for f in (
        Formulation("xla-taps-64", BATCH_SIZE, jit=True, taps=True),
        Formulation("xla-taps-1024", 1024, jit=True, taps=True),
        Formulation("tf-conv-1024", 1024, jit=False, taps=False),
        # bfloat16 codes differ from float32 ones by bf16 rounding (0.6 % of their scale),
        # which moves metrics by up to a few 1e-3: by name only, never chosen for a user.
        Formulation(
            "tf-conv-1024-bf16",
            1024,
            jit=False,
            taps=False,
            compute_dtype="bfloat16",
            automatic=False,
        ),
    )
}
DEFAULT_FORMULATION = "xla-taps-64"


def formulation(name: str) -> Formulation:
    """The formulation called ``name``, or InputError listing the known names."""
    if name not in FORMULATIONS:
        raise InputError(f"unknown encoder formulation {name!r}; known: {', '.join(FORMULATIONS)}")
    return FORMULATIONS[name]


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


@dataclass(frozen=True)
class _Architecture:
    """What a compiled encoder depends on besides the weights: the image shape and each
    layer's kernel shape, stride and activation. Models that share it share one graph."""

    image_shape: tuple[int, int, int]
    convs: tuple[tuple[tuple[int, ...], int, bool], ...]
    denses: tuple[tuple[tuple[int, ...], bool], ...]

    @classmethod
    def of(cls, convs: list[Conv], denses: list[Dense], image_shape) -> _Architecture:
        return cls(
            tuple(image_shape),
            tuple((c.kernel.shape, c.stride, c.relu) for c in convs),
            tuple((d.kernel.shape, d.relu) for d in denses),
        )


# (architecture, batch size, formulation, image dtype) -> the traced function. Kept for the
# process: a sweep's models then pay tracing and XLA compilation once, not once each.
_GRAPHS: dict[tuple, object] = {}


def _graph(architecture: _Architecture, batch_size: int, form: Formulation, dtype: str):
    key = (architecture, batch_size, form, dtype)
    if key not in _GRAPHS:
        import tensorflow as tf

        weights = [
            spec
            for kernel, *_ in (*architecture.convs, *architecture.denses)
            for spec in (tf.TensorSpec(kernel, tf.float32), tf.TensorSpec(kernel[-1:], tf.float32))
        ]
        images = tf.TensorSpec((batch_size, *architecture.image_shape), tf.as_dtype(dtype))
        _GRAPHS[key] = tf.function(
            lambda x, w: _encode(architecture, x, w, form),
            input_signature=[images, weights],
            jit_compile=form.jit,
        )
    return _GRAPHS[key]


def _activate(x, relu: bool):
    import tensorflow as tf

    return tf.nn.relu(x) if relu else x


def _first_layer(x, kernel, bias, stride: int, relu: bool, taps: bool = True):
    """The first convolution, ``same`` padding; one input channel as a sum of taps if
    ``taps``, else (or with several channels) TF's conv2d."""
    import tensorflow as tf

    kh, kw, cin = kernel.shape[:3]
    pad_h = _same_padding(x.shape[1], kh, stride)
    pad_w = _same_padding(x.shape[2], kw, stride)
    x = tf.pad(x, [[0, 0], list(pad_h), list(pad_w), [0, 0]])
    if cin != 1 or not taps:
        return _activate(tf.nn.conv2d(x, kernel, stride, "VALID") + bias, relu)
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
    return _activate(out + bias, relu)


def _encode(architecture: _Architecture, images, weights, form: Formulation):
    """(mu, logvar) of a batch, float32: the encoder's arithmetic with its weights as
    arguments, in the formulation's compute dtype."""
    import tensorflow as tf

    dtype = tf.as_dtype(form.compute_dtype)
    weights = [tf.cast(w, dtype) for w in weights]
    kernels, biases = weights[0::2], weights[1::2]
    (_, stride, relu), *convs = architecture.convs
    h = _first_layer(tf.cast(images, dtype), kernels[0], biases[0], stride, relu, form.taps)
    for k, (_, stride, relu) in enumerate(convs, 1):
        h = _activate(tf.nn.conv2d(h, kernels[k], stride, "SAME") + biases[k], relu)
    h = tf.reshape(h, (-1, int(np.prod(h.shape[1:]))))
    for k, (_, relu) in enumerate(architecture.denses, len(architecture.convs)):
        h = _activate(h @ kernels[k] + biases[k], relu)
    mu, logvar = tf.split(tf.cast(h, tf.float32), 2, axis=-1)
    return mu, logvar


class FastEncoder:
    """``encode(images) -> (mu, logvar)`` of one Keras encoder through the graph its
    architecture shares with every other model of it (weights are arguments).

    ``images`` are uint8 in {0, 1} or float32 in [0, 1], shape (N, H, W, C), fed in
    batches of ``batch_size`` (the formulation's unless given).

    Example:
        >>> encode = FastEncoder(model)  # doctest: +SKIP
        >>> mu, logvar = encode(images)  # doctest: +SKIP
        >>> mu, logvar = encode.with_formulation("tf-conv-1024")(images)  # doctest: +SKIP
    """

    accepts_uint8 = True

    def __init__(
        self,
        model,
        *,
        formulation: str | Formulation = DEFAULT_FORMULATION,
        batch_size: int | None = None,
    ) -> None:
        import tensorflow as tf

        convs, denses, shape = encoder_layers(model)
        self.architecture = _Architecture.of(convs, denses, shape)
        self.image_shape = tuple(shape)
        layers = (*convs, *denses)
        self.weights = [tf.constant(a) for layer in layers for a in (layer.kernel, layer.bias)]
        self._set_formulation(formulation, batch_size)

    def _set_formulation(self, chosen: str | Formulation, batch_size: int | None) -> None:
        self.formulation = formulation(chosen) if isinstance(chosen, str) else chosen
        if batch_size is None:
            batch_size = self.formulation.batch_size
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        self.batch_size = batch_size

    def with_formulation(self, chosen: str | Formulation) -> FastEncoder:
        """The same weights run through another formulation (at its batch size)."""
        other = copy.copy(self)
        other._set_formulation(chosen, None)
        return other

    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        images = np.asarray(images)
        if images.dtype != np.uint8:
            images = images.astype(np.float32, copy=False)
        if images.ndim != 4 or tuple(images.shape[1:]) != self.image_shape:
            raise InputError(
                f"images must have shape (N, {', '.join(map(str, self.image_shape))}), "
                f"got {images.shape}"
            )
        graph = _graph(self.architecture, self.batch_size, self.formulation, images.dtype.name)
        parts = [
            self._batch(graph, images[start : start + self.batch_size])
            for start in range(0, max(len(images), 1), self.batch_size)
        ]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _batch(self, graph, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Every batch has exactly batch_size rows (a short one is zero-padded): one
        # compiled shape, and an image's code then never depends on the batch it came in
        # (XLA tiles a GEMM's remainder rows differently: 1e-9 changes seen otherwise).
        count = len(images)
        if count < self.batch_size:
            padding = np.zeros((self.batch_size - count, *images.shape[1:]), images.dtype)
            images = np.concatenate([images, padding])
        mu, logvar = graph(images, self.weights)
        return mu.numpy()[:count], logvar.numpy()[:count]


def fast_encoder(model, **options) -> FastEncoder:
    """The :class:`FastEncoder` of a Keras model (``options`` are its)."""
    return FastEncoder(model, **options)
