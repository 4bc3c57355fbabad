"""Atomic file output: write to a temporary name beside the target, then rename.

Local paths use ``os.replace`` (atomic on POSIX). Paths with a scheme (``gs://``,
``ram://``) go through ``tf.io.gfile`` so runs work on Vertex AI's buckets; TensorFlow is
imported only for those.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any


def is_remote(path: str | os.PathLike) -> bool:
    """True for paths with a URL scheme, which need ``tf.io.gfile``."""
    return "://" in os.fspath(path)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never half."""
    path = os.fspath(path)
    if is_remote(path):
        import tensorflow as tf

        tmp = f"{path}.tmp-{os.getpid()}"
        with tf.io.gfile.GFile(tmp, "wb") as handle:
            handle.write(data)
        tf.io.gfile.rename(tmp, path, overwrite=True)
        return
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Atomically write UTF-8 text."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON (NaN is written as ``NaN``)."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read JSON from a local or remote path."""
    path = os.fspath(path)
    if is_remote(path):
        import tensorflow as tf

        with tf.io.gfile.GFile(path, "r") as handle:
            return json.loads(handle.read())
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
