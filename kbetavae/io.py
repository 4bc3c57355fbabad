"""Files of runs, local or remote, and atomic output: write a temporary name, then rename.
(Long because it is the one home of storage: local and ``gs://`` reads, every atomic
writer and the fault points inside them.)

Every file a later step reads is written by :func:`write_bytes_atomic` (or its text, JSON,
copy, streamed and :func:`write_file_atomic` forms); ``tests/test_atomic_writes.py`` lists the
writers and holds the few justified exceptions. Local paths use ``os`` (``os.replace`` is
atomic on POSIX). Paths with a scheme (``gs://``, ``ram://``) go through ``tf.io.gfile`` so
runs work on Vertex AI's buckets; TensorFlow is imported only for those.
:func:`check_reachable` makes an unreachable bucket fail at once, in one line, instead of
somewhere in a run.
"""

from __future__ import annotations

import glob as _glob
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

from kbetavae import faults
from kbetavae.errors import InputError

# Seconds a remote filesystem gets to answer the first request of a command. Buckets answer
# in well under a second; the default leaves room for a slow credential lookup.
STORAGE_TIMEOUT_ENV = "KBETAVAE_STORAGE_TIMEOUT"
DEFAULT_STORAGE_TIMEOUT = 30.0
# The names of write_bytes_atomic's temporary files (a kill can leave one behind).
TEMPORARY_PATTERN = ".tmp-*"


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def is_remote(path: str | os.PathLike) -> bool:
    """True for paths with a URL scheme, which need ``tf.io.gfile``."""
    return "://" in os.fspath(path)


def _gfile():
    """``tf.io.gfile``, imported on first use of a remote path."""
    import tensorflow as tf

    return tf.io.gfile


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never half.

    Local: a temporary file in the same directory, flushed to disk, then ``os.replace``d
    over ``path``; a kill at any moment leaves the previous file whole (and at worst a
    ``.tmp-*`` file beside it). ``gs://`` (``tf.io.gfile``): an object appears whole when
    its writer closes it, and a rename is a copy then a delete, so readers also see the old
    object or the new one; a kill between the two leaves a ``<path>.tmp-<pid>`` object.

    An ``OSError`` (a full disk: ``ENOSPC``) names ``path``, not the temporary file, and
    leaves the previous file as it was.
    """
    write_stream_atomic(path, lambda handle: handle.write(data))


def write_stream_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], Any]) -> None:
    """:func:`write_bytes_atomic` for bytes too many to hold in memory: ``write(handle)``
    writes them, in pieces, to the temporary file's binary handle."""
    path = os.fspath(path)
    point = f"write/{os.path.basename(path)}"
    if is_remote(path):
        gfile = _gfile()
        # Explicit parent directories: some filesystems (ram://) list and delete only those.
        gfile.makedirs(os.path.dirname(path))
        tmp = f"{path}.tmp-{os.getpid()}"
        try:
            with gfile.GFile(tmp, "wb") as handle:
                write(handle)
            faults.checkpoint(point)
            gfile.rename(tmp, path, overwrite=True)
        except BaseException as exc:
            if gfile.exists(tmp):
                gfile.remove(tmp)
            _raise_naming(exc, path)
        return
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=TEMPORARY_PATTERN.rstrip("*"), dir=directory)
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the file normal modes
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            faults.checkpoint(point)
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        _raise_naming(exc, path)


def _raise_naming(exc: BaseException, path: str):
    """Re-raise ``exc``; an ``OSError`` as one naming ``path`` (the user's file, not our
    temporary one), with its errno kept so callers can tell a full disk."""
    if isinstance(exc, OSError) and exc.filename != path:
        raise OSError(exc.errno, exc.strerror or str(exc), path) from exc
    raise exc


def write_file_atomic(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Atomically produce ``path`` with a library that writes only to a file name (Keras'
    ``model.save``, ``save_weights``): ``write(local)`` into a private temporary directory,
    under ``path``'s own name (Keras checks the suffix), then :func:`write_bytes_atomic`."""
    path = os.fspath(path)
    with tempfile.TemporaryDirectory(prefix="kbetavae-") as tmp:
        local = os.path.join(tmp, os.path.basename(path))
        write(local)
        data = read_bytes(local)
    write_bytes_atomic(path, data)


def copy_atomic(source: str | os.PathLike, target: str | os.PathLike) -> str:
    """Copy ``source`` to ``target`` (parents created) as :func:`write_bytes_atomic`
    writes; return ``target``."""
    write_bytes_atomic(target, read_bytes(source))
    return os.fspath(target)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Atomically write UTF-8 text."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON (NaN is written as ``NaN``)."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read JSON from a local or remote path.

    A ``json.JSONDecodeError`` carries the path as ``filename`` (as an ``OSError`` does), so
    whoever reports it can say which file is damaged.
    """
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        exc.filename = os.fspath(path)
        raise


def exists(path: str | os.PathLike) -> bool:
    """Whether ``path`` exists, locally or on a remote filesystem."""
    path = os.fspath(path)
    if is_remote(path):
        return _gfile().exists(path)
    return os.path.exists(path)


def read_text(path: str | os.PathLike) -> str:
    """UTF-8 text of a local or remote file, line endings as they are (``gfile`` keeps
    them; a rewrite of a CSV's kept rows must not turn its ``\\r\\n`` into ``\\n``)."""
    path = os.fspath(path)
    if is_remote(path):
        with _gfile().GFile(path, "r") as handle:
            return handle.read()
    with open(path, encoding="utf-8", newline="") as handle:
        return handle.read()


def remove_file(path: str | os.PathLike) -> None:
    """Delete a file if it exists (local or remote)."""
    path = os.fspath(path)
    if is_remote(path):
        if _gfile().exists(path):
            _gfile().remove(path)
    elif os.path.exists(path):
        os.unlink(path)


def remove_tree(path: str | os.PathLike) -> None:
    """Delete a directory tree if it exists (local or remote)."""
    path = os.fspath(path)
    if is_remote(path):
        if _gfile().exists(path):
            _gfile().rmtree(path)
    else:
        shutil.rmtree(path, ignore_errors=True)


def rename(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Move ``source`` over ``target`` (atomic for local paths)."""
    source, target = os.fspath(source), os.fspath(target)
    if is_remote(target):
        _gfile().rename(source, target, overwrite=True)
    else:
        os.replace(source, target)


def makedirs(path: str | os.PathLike) -> None:
    """Create ``path`` and its parents if missing (local or remote)."""
    path = os.fspath(path)
    if is_remote(path):
        _gfile().makedirs(path)
    else:
        os.makedirs(path, exist_ok=True)


def is_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a directory (local or remote)."""
    path = os.fspath(path)
    return _gfile().isdir(path) if is_remote(path) else os.path.isdir(path)


def read_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of a local or remote file."""
    path = os.fspath(path)
    if is_remote(path):
        with _gfile().GFile(path, "rb") as handle:
            return handle.read()
    with open(path, "rb") as handle:
        return handle.read()


def file_size(path: str | os.PathLike) -> int:
    """The size in bytes of a local or remote file."""
    path = os.fspath(path)
    return _gfile().stat(path).length if is_remote(path) else os.path.getsize(path)


def glob(directory: str | os.PathLike, pattern: str) -> list[str]:
    """Sorted paths under ``directory`` matching ``pattern`` (``*`` within one component).

    ``directory`` is taken literally (a local ``[`` is not a pattern). Remote paths are
    matched by the filesystem, which finds files even in directories it does not list.
    """
    directory = os.fspath(directory)
    if is_remote(directory):
        return sorted(_gfile().glob(os.path.join(directory, pattern)))
    return sorted(_glob.glob(os.path.join(_glob.escape(directory), pattern)))


def check_reachable(path: str | os.PathLike, what: str, timeout: float | None = None) -> None:
    """Raise InputError, in one line, unless the filesystem of a remote ``path`` answers.

    Asks whether ``path`` exists, in a thread given ``timeout`` seconds (default
    $KBETAVAE_STORAGE_TIMEOUT or 30): a bucket without network or credentials fails at
    once instead of retrying for minutes in the middle of a run. Local paths pass.
    """
    path = os.fspath(path)
    if not is_remote(path):
        return
    if timeout is None:
        timeout = float(os.environ.get(STORAGE_TIMEOUT_ENV) or DEFAULT_STORAGE_TIMEOUT)
    answer: dict[str, Any] = {}

    def ask() -> None:
        try:
            answer["exists"] = _gfile().exists(path)
        except Exception as exc:  # noqa: BLE001 - reported below, in the caller's thread
            answer["error"] = exc

    # A daemon thread: if the filesystem never answers, it must not keep the process alive.
    thread = threading.Thread(target=ask, name="kbetavae-storage-check", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise InputError(
            f"{what} {path} is not reachable: no answer within {timeout:g} s "
            f"(check the network and credentials; ${STORAGE_TIMEOUT_ENV} sets the wait)"
        )
    if "error" in answer:
        error = answer["error"]
        detail = (getattr(error, "message", None) or str(error)).strip().splitlines()
        reason = detail[0] if detail else type(error).__name__
        raise InputError(f"{what} {path} is not reachable: {reason}")


def check_writable(directory: str, option: str) -> None:
    """Raise InputError unless ``directory`` can be created and written to (for a bucket:
    unless it answers, see :func:`kbetavae.io.check_reachable`). A local directory is
    created, and left, only if the check passes."""
    check_writable_all([(directory, option)])


def check_writable_all(directories: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """:func:`check_writable` for each ``(directory, option)``; when one fails, the local
    directories the checks created are removed again, so that a refused command leaves
    no empty ``--out`` behind. Returns what was created, for :func:`remove_created` if a
    later check of the command fails."""
    created: list[tuple[str, str]] = []
    try:
        for directory, option in directories:
            if is_remote(directory):
                check_reachable(directory, option)
                continue
            top = _first_missing(directory)
            if top is not None:
                created.append((top, directory))
            _check_local_writable(directory, option)
    except InputError:
        remove_created(created)
        raise
    return created


def remove_created(created: list[tuple[str, str]]) -> None:
    """Remove the directories :func:`check_writable_all` created, where they are empty."""
    for top, directory in reversed(created):
        _remove_empty_dirs(top, directory)


def _check_local_writable(directory: str, option: str) -> None:
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise InputError(f"{option} {directory} is a file, not a directory")
    try:
        os.makedirs(directory, exist_ok=True)
        # A probe of its own: two sweeps starting at once on one --out shared a fixed
        # name, and one removed the probe the other was about to remove (ENOENT).
        handle, probe = tempfile.mkstemp(prefix=".write-test-", dir=directory)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"{option} {directory} is not writable ({exc.strerror})") from None


def _first_missing(directory: str) -> str | None:
    """The outermost missing directory on the way to local ``directory`` (None: it exists)."""
    path, missing = os.path.abspath(directory), None
    while not os.path.exists(path):
        path, missing = os.path.dirname(path), path
    return missing


def _remove_empty_dirs(top: str, directory: str) -> None:
    """Remove ``directory`` and its parents up to ``top`` while they are empty."""
    path = os.path.abspath(directory)
    while True:
        try:
            os.rmdir(path)
        except FileNotFoundError:
            pass  # never made: the check failed above it
        except OSError:
            return  # not empty: what is in it is not ours to remove
        if path == top:
            return
        path = os.path.dirname(path)
