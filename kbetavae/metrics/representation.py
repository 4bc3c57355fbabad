"""From factor vectors to codes: encode rendered images, or look codes up in a table.

The module is long because the code table (one model's, or a group's filled together) and
the encoding it wraps are one mechanism: splitting them would split its invariants.

The sampling metrics (Z-diff, FactorVAE, and the point samples behind MIG, Modularity, SAP
and DCI) draw factor vectors and need the codes of their images. They accept either

* a *representation function*, images -> codes, called on float32 images in [0, 1] of
  shape (N, 64, 64, 1) as disentanglement_lib does (it may also return ``(mu, logvar)`` or
  a dict with ``mu``: only ``mu`` is used), or
* a :class:`CodeTable`, which maps factor vectors to codes through the image index
  ``ground_truth.index(factors)``.

The table exists because the encoder mean is deterministic: the full Z-diff protocol
draws 1.92 million images but only ~680,000 distinct ones of the 737,280 in the grid, so
encoding each image at most once and indexing into a (737280, z) float32 table (29 MB for
z = 10) gives the same numbers for far less work. A table fills itself lazily (only the
images some metric asks for are encoded) or can be filled for the whole grid at once.
Metrics never see the difference: both paths hand them codes for factor vectors.
A group of tables may keep its codes between processes in a :class:`CodeStore`
(:mod:`kbetavae.trained.code_cache`), so a stopped evaluation starts again from them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from kbetavae.errors import InputError
from kbetavae.metrics.checks import check_codes
from kbetavae.validation import RngLike, as_rng, check_int

ENCODE_BATCH_SIZE = 1024
# Missing images are encoded this many batches at a time, each chunk stored (and offered to
# a CodeStore) as it is done. Chunks start at multiples of the batch size, so the batches,
# and with them the codes' last bits, are those of encoding all at once.
CHUNK_BATCHES = 64
SAVE_EVERY_SECONDS = 120.0


class GroundTruth(Protocol):
    """The part of ``kbetavae.data.GroundTruthData`` the metrics use (duck-typed, so the
    metrics never import the data package and its TensorFlow pipeline)."""

    factor_sizes: tuple[int, ...]
    factor_names: tuple[str, ...]

    @property
    def num_images(self) -> int: ...

    def index(self, factors: np.ndarray) -> np.ndarray: ...

    def images_at(self, index: np.ndarray) -> np.ndarray: ...

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray: ...


StoredCodes = tuple[np.ndarray, np.ndarray | None, np.ndarray]


class CodeStore(Protocol):
    """Where a group of code tables keeps its codes between processes (e.g.
    :mod:`kbetavae.trained.code_cache`), so a stopped evaluation need not encode again."""

    def load(self, num_models: int) -> list[StoredCodes | None]:
        """Each member's ``(mu, logvar or None, filled mask)`` kept before, or None."""
        ...

    def keep(self, codes: list[tuple[np.ndarray, np.ndarray | None]], filled: np.ndarray) -> None:
        """Keep each member's ``(mu, logvar)`` (rows where ``filled`` is True are codes)."""
        ...


def split_encoding(output: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """``(mu, logvar)`` from an encoder's output: a pair, a dict with ``mu``/``logvar``
    (a SavedModel signature) or ``mu`` alone (then ``logvar`` is None)."""
    if isinstance(output, dict):
        if "mu" not in output:
            raise InputError(f"encoder returned a dict without 'mu' (keys: {sorted(output)})")
        logvar = output.get("logvar")
        return np.asarray(output["mu"]), None if logvar is None else np.asarray(logvar)
    if isinstance(output, tuple | list):
        if len(output) != 2:
            raise InputError(f"encoder returned {len(output)} outputs; expected mu or (mu, logvar)")
        return np.asarray(output[0]), np.asarray(output[1])
    return np.asarray(output), None


def as_encode_fn(model_or_encode_fn: Any) -> Callable[[np.ndarray], Any]:
    """The images -> (mu, logvar) | mu function of a model (``.encode``) or a callable."""
    if isinstance(model_or_encode_fn, str | bytes | os.PathLike):
        raise InputError(
            f"got the path {model_or_encode_fn!r}; load the model first "
            "(`kbetavae evaluate PATH` does) and pass the model or its encode function"
        )
    encode = getattr(model_or_encode_fn, "encode", None)
    if callable(encode):
        return encode
    if callable(model_or_encode_fn):
        return model_or_encode_fn
    raise InputError(
        f"expected a model with .encode(images) or a callable images -> codes, "
        f"got {type(model_or_encode_fn).__name__}"
    )


def encoder_input(images: np.ndarray, encode_fn: Any = None) -> np.ndarray:
    """``images`` as ``encode_fn`` takes them: sources keep images uint8 {0, 1}; encoders
    take float32 in [0, 1], except those that say they cast uint8 themselves
    (``accepts_uint8``, kbetavae.model.inference: 4x less data moved, one compiled graph)."""
    images = np.asarray(images)
    if images.dtype == np.uint8 and getattr(encode_fn, "accepts_uint8", False):
        return images
    return images.astype(np.float32)


def _images(ground_truth: GroundTruth, index: np.ndarray, encode_fn: Any = None) -> np.ndarray:
    return encoder_input(ground_truth.images_at(index), encode_fn)


def encode_index(
    ground_truth: GroundTruth,
    encode_fn: Callable[[np.ndarray], Any],
    index: np.ndarray,
    batch_size: int,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Encode the images at ``index`` in batches: (mu, logvar or None), float32."""
    (encoded,) = _encode_index_many(ground_truth, each_encoder([encode_fn]), 1, index, batch_size)
    return encoded


def _checked(output: Any, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    mu, logvar = split_encoding(output)
    if mu.shape[:1] != batch.shape or mu.ndim != 2:
        raise InputError(
            f"encoder returned codes of shape {mu.shape} for {batch.shape[0]} images; "
            "expected (num_images, num_latents)"
        )
    mu = mu.astype(np.float32, copy=False)
    return mu, None if logvar is None else np.asarray(logvar, dtype=np.float32).reshape(mu.shape)


def each_encoder(encode_fns: Sequence[Callable]) -> Callable[[np.ndarray], list[Any]]:
    """``encode_many(images) -> [output_1, ..., output_K]`` that calls each function in
    turn, each on the float32 images it expects unless it casts uint8 itself."""
    encode_fns = list(encode_fns)

    def encode_each(images: np.ndarray) -> list[Any]:
        as_float = None
        outputs = []
        for encode_fn in encode_fns:
            if images.dtype == np.uint8 and not getattr(encode_fn, "accepts_uint8", False):
                as_float = images.astype(np.float32) if as_float is None else as_float
                outputs.append(encode_fn(as_float))
            else:
                outputs.append(encode_fn(images))
        return outputs

    encode_each.accepts_uint8 = True
    return encode_each


def _encode_index_many(
    ground_truth: GroundTruth,
    encode_many: Callable[[np.ndarray], Sequence[Any]],
    num_models: int,
    index: np.ndarray,
    batch_size: int,
) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Render the images at ``index`` once per batch and encode them with every model."""
    parts: list[list[tuple[np.ndarray, np.ndarray | None]]] = []
    for start in range(0, index.shape[0], batch_size):
        batch = index[start : start + batch_size]
        outputs = list(encode_many(_images(ground_truth, batch, encode_many)))
        if len(outputs) != num_models:
            raise InputError(f"encode_many returned {len(outputs)} outputs for {num_models} models")
        parts.append([_checked(output, batch) for output in outputs])
    result = []
    for k in range(num_models):
        logvars = [part[k][1] for part in parts]
        result.append(
            (
                np.concatenate([part[k][0] for part in parts]),
                None if any(lv is None for lv in logvars) else np.concatenate(logvars),
            )
        )
    return result


class CodeTable:
    """Encoder outputs for the images of a ground truth, looked up by factor vector.

    Each image is encoded at most once (the encoder must be deterministic, as the mean
    is). ``CodeTable(ground_truth, encode_fn)`` starts empty and encodes on demand;
    :meth:`fill` encodes the whole grid; :meth:`from_codes` wraps a finished table.

    Example:
        >>> table = CodeTable(data, model.encode)  # doctest: +SKIP
        >>> zdiff(data, table, rng=0)  # doctest: +SKIP
    """

    def __init__(
        self,
        ground_truth: GroundTruth,
        encode_fn: Callable[[np.ndarray], Any] | None,
        *,
        batch_size: int = ENCODE_BATCH_SIZE,
    ) -> None:
        self.ground_truth = ground_truth
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        self._filled = np.zeros(ground_truth.num_images, dtype=bool)
        self._mu: np.ndarray | None = None
        self._logvar: np.ndarray | None = None
        self.has_logvar = False
        self.encode_seconds = 0.0
        # A table alone is a group of one; group() sets the tables filled together.
        self._group: list[CodeTable] = [self]
        self._encode_many: Callable[[np.ndarray], Sequence[Any]] | None = (
            None if encode_fn is None else each_encoder([as_encode_fn(encode_fn)])
        )
        # The group's store and what it has not been handed yet; group() shares them, as
        # the mask, through the group's first table.
        self._store: CodeStore | None = None
        self._unsaved = False
        self._saved_at = time.monotonic()
        self.codes_loaded = 0

    @classmethod
    def group(
        cls,
        ground_truth: GroundTruth,
        encode_many: Callable[[np.ndarray], Sequence[Any]],
        num_models: int,
        *,
        batch_size: int = ENCODE_BATCH_SIZE,
        store: CodeStore | None = None,
    ) -> list[CodeTable]:
        """``num_models`` tables filled together: when any of them lacks images, those
        are rendered once and ``encode_many(images) -> [output_1, ..., output_K]`` (each
        output as an encoder's) fills every table. Each table's ``encode_seconds`` is its
        1/K share of the group's encoding time.

        With a ``store`` the tables start from the codes it kept (the images every member
        has; ``codes_loaded`` counts them) and hand it their codes every
        :data:`SAVE_EVERY_SECONDS` of encoding and at :meth:`flush`.

        Example:
            >>> tables = CodeTable.group(data, ManyEncoder(models), len(models))  # doctest: +SKIP
        """
        num_models = check_int("num_models", num_models, minimum=1)
        if not callable(encode_many):
            raise InputError(f"encode_many must be callable, got {type(encode_many).__name__}")
        tables = [cls(ground_truth, None, batch_size=batch_size) for _ in range(num_models)]
        for table in tables:
            table._group = tables
            table._encode_many = encode_many
            table._filled = tables[0]._filled  # one mask: the tables fill in lockstep
        tables[0]._store = store
        if store is not None:
            _load(tables, store.load(num_models))
        return tables

    @classmethod
    def from_codes(
        cls, ground_truth: GroundTruth, codes: np.ndarray, logvars: np.ndarray | None = None
    ) -> CodeTable:
        """A complete table: row ``i`` of ``codes`` (num_images, z) is image ``i``'s code."""
        codes = check_codes(codes).astype(np.float32)
        if codes.shape[0] != ground_truth.num_images:
            raise InputError(
                f"a code table needs one row per image ({ground_truth.num_images}), "
                f"got {codes.shape[0]}"
            )
        table = cls(ground_truth, None)
        table._mu = codes
        if logvars is not None:
            table._logvar = check_codes(logvars, "logvars").astype(np.float32).reshape(codes.shape)
            table.has_logvar = True
        table._filled[:] = True
        return table

    @property
    def num_encoded(self) -> int:
        """How many distinct images have codes so far."""
        return int(self._filled.sum())

    def fill(self) -> CodeTable:
        """Encode every image of the grid that is not in the table yet."""
        self._ensure(np.arange(self.ground_truth.num_images))
        return self

    def flush(self) -> None:
        """Hand the group's codes encoded since the last save to its store (if any)."""
        lead = self._group[0]
        if lead._store is not None and lead._unsaved:
            lead._store.keep([(t._mu, t._logvar) for t in self._group], self._filled)
            lead._unsaved = False
            lead._saved_at = time.monotonic()

    def _ensure(self, index: np.ndarray) -> None:
        missing = np.unique(index[~self._filled[index]])
        if missing.size == 0:
            return
        if self._encode_many is None:
            raise InputError("this code table has no encoder and lacks the images asked for")
        chunk = CHUNK_BATCHES * self.batch_size
        for begin in range(0, missing.size, chunk):
            part = missing[begin : begin + chunk]
            start = time.perf_counter()
            encoded = _encode_index_many(
                self.ground_truth, self._encode_many, len(self._group), part, self.batch_size
            )
            seconds = (time.perf_counter() - start) / len(self._group)
            for table, (mu, logvar) in zip(self._group, encoded, strict=True):
                table._keep(part, mu, logvar)
                table.encode_seconds += seconds
            self._filled[part] = True
            self._group[0]._unsaved = True
            if time.monotonic() - self._group[0]._saved_at >= SAVE_EVERY_SECONDS:
                self.flush()

    def _keep(self, missing: np.ndarray, mu: np.ndarray, logvar: np.ndarray | None) -> None:
        check_codes(mu, "encoder means")
        if self._mu is None:
            self._mu = np.zeros((self.ground_truth.num_images, mu.shape[1]), dtype=np.float32)
            self.has_logvar = logvar is not None
            if self.has_logvar:
                self._logvar = np.zeros_like(self._mu)
        if mu.shape[1] != self._mu.shape[1]:
            raise InputError(f"encoder changed its number of latents ({mu.shape[1]})")
        self._mu[missing] = mu
        if self._logvar is not None and logvar is not None:
            self._logvar[missing] = logvar

    def codes_at(self, index: np.ndarray) -> np.ndarray:
        """Encoder means (N, z) of the images at ``index``."""
        index = np.asarray(index, dtype=np.int64)
        self._ensure(index)
        return self._mu[index]

    def logvars_at(self, index: np.ndarray) -> np.ndarray | None:
        """Encoder log-variances (N, z) at ``index``, or None if the encoder gives only mu."""
        index = np.asarray(index, dtype=np.int64)
        self._ensure(index)
        return None if self._logvar is None else self._logvar[index]

    def codes(self, factors: np.ndarray) -> np.ndarray:
        """Encoder means (N, z) of the images with factor vectors (N, K)."""
        return self.codes_at(self.ground_truth.index(factors))


def _load(tables: list[CodeTable], stored: list[StoredCodes | None]) -> None:
    """Start a group's tables from a store's codes: the images every member has kept."""
    if len(stored) != len(tables) or any(item is None for item in stored):
        return
    filled = np.logical_and.reduce([np.asarray(item[2], dtype=bool) for item in stored])
    num_images = tables[0].ground_truth.num_images
    if filled.shape != (num_images,) or not filled.any():
        return
    if any(mu.ndim != 2 or mu.shape[0] != num_images for mu, _, _ in stored):
        return
    for table, (mu, logvar, _) in zip(tables, stored, strict=True):
        table._mu = np.array(mu, dtype=np.float32)
        table.has_logvar = logvar is not None
        table._logvar = None if logvar is None else np.array(logvar, dtype=np.float32)
        table.codes_loaded = int(filled.sum())
    tables[0]._filled[:] = filled


Representation = Callable[[np.ndarray], Any] | CodeTable


def factor_encoder(
    ground_truth: GroundTruth,
    representation: Representation,
    batch_size: int = ENCODE_BATCH_SIZE,
) -> Callable[[np.ndarray], np.ndarray]:
    """A function factor vectors (N, K) -> finite float64 codes (N, z).

    A :class:`CodeTable` is looked up; any other callable is applied to the images,
    ``batch_size`` at a time.
    """
    if isinstance(representation, CodeTable):
        if tuple(representation.ground_truth.factor_sizes) != tuple(ground_truth.factor_sizes):
            raise InputError("the code table was built for a ground truth with other factors")
        return lambda factors: check_codes(representation.codes(factors))
    encode_fn = as_encode_fn(representation)
    batch_size = check_int("batch_size", batch_size, minimum=1)

    def encode(factors: np.ndarray) -> np.ndarray:
        mu, _ = encode_index(ground_truth, encode_fn, ground_truth.index(factors), batch_size)
        return check_codes(mu)

    return encode


def sample_codes(
    ground_truth: GroundTruth,
    representation: Representation,
    num_points: int,
    rng: RngLike,
    batch_size: int = ENCODE_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """``num_points`` factor vectors drawn from the whole grid and their codes:
    (codes (N, z) float64, factors (N, K) int64)."""
    num_points = check_int("num_points", num_points, minimum=1)
    factors = np.asarray(ground_truth.sample_factors(num_points, as_rng(rng)), dtype=np.int64)
    return factor_encoder(ground_truth, representation, batch_size)(factors), factors
