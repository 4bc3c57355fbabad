"""Atomic file output: write to a temporary name beside the target, then rename.

Local paths use ``os.replace`` (atomic on POSIX). Paths with a scheme (``gs://``,
``ram://``) go through ``tf.io.gfile`` so runs work on Vertex AI's buckets; TensorFlow is
imported only for those.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Any


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


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
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the file normal modes
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
    return json.loads(read_text(path))


def exists(path: str | os.PathLike) -> bool:
    """Whether ``path`` exists, locally or on a remote filesystem."""
    path = os.fspath(path)
    if is_remote(path):
        import tensorflow as tf

        return tf.io.gfile.exists(path)
    return os.path.exists(path)


def read_text(path: str | os.PathLike) -> str:
    """UTF-8 text of a local or remote file."""
    path = os.fspath(path)
    if is_remote(path):
        import tensorflow as tf

        with tf.io.gfile.GFile(path, "r") as handle:
            return handle.read()
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def remove_tree(path: str | os.PathLike) -> None:
    """Delete a directory tree if it exists (local or remote)."""
    path = os.fspath(path)
    if is_remote(path):
        import tensorflow as tf

        if tf.io.gfile.exists(path):
            tf.io.gfile.rmtree(path)
    else:
        shutil.rmtree(path, ignore_errors=True)


def rename(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Move ``source`` over ``target`` (atomic for local paths)."""
    source, target = os.fspath(source), os.fspath(target)
    if is_remote(target):
        import tensorflow as tf

        tf.io.gfile.rename(source, target, overwrite=True)
    else:
        os.replace(source, target)


def makedirs(path: str | os.PathLike) -> None:
    """Create ``path`` and its parents if missing (local or remote)."""
    path = os.fspath(path)
    if is_remote(path):
        import tensorflow as tf

        tf.io.gfile.makedirs(path)
    else:
        os.makedirs(path, exist_ok=True)
