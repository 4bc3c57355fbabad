"""The cluster a training process belongs to: TF_CONFIG, the distribution strategy, the chief.

TF_CONFIG (set by Vertex AI, Kubeflow or by hand) names the cluster's tasks and which one
this process is::

    {"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]},
     "task": {"type": "worker", "index": 1}}

With two or more tasks, training runs under ``MultiWorkerMirroredStrategy``: every worker
runs the same program on its part of each global batch, and the chief (the ``chief`` task,
or worker 0 when there is none) writes the run's files. The other workers still make
every call the chief makes (saving may need their collective ops), but write to a private
scratch directory that is deleted at the end, as TensorFlow's multi-worker guide does.

Example:
    >>> strategy_kind({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker"}}, 0)
    'multi_worker'
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any

from kbetavae.errors import InputError

# Synchronous data-parallel training has workers (one may be the chief); parameter servers
# and evaluators belong to other strategies.
TASK_TYPES: tuple[str, ...] = ("chief", "worker")


def read_tf_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """TF_CONFIG as a dict (``{}`` when unset), checked so a bad one fails in one line.

    Raises InputError for text that is not a JSON object, a cluster with other task types
    or addresses that are not ``host:port``, and a task that is not in the cluster (an
    unknown type or an index out of range).
    """
    text = (os.environ if environ is None else environ).get("TF_CONFIG", "")
    if not text.strip():
        return {}
    try:
        tf_config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"TF_CONFIG is not valid JSON ({exc.msg} at character {exc.pos})"
        ) from None
    if not isinstance(tf_config, dict):
        raise InputError(
            f"TF_CONFIG must be a JSON object with 'cluster' and 'task', got {text.strip()!r}"
        )
    cluster = tf_config.get("cluster", {})
    if not isinstance(cluster, dict):
        raise InputError(f"TF_CONFIG 'cluster' must map task types to addresses, got {cluster!r}")
    for kind, addresses in cluster.items():
        if kind not in TASK_TYPES:
            raise InputError(
                f"TF_CONFIG cluster has {kind!r} tasks; kbetavae trains with "
                f"{' and '.join(repr(t) for t in TASK_TYPES)} tasks only "
                "(MultiWorkerMirroredStrategy)"
            )
        if not isinstance(addresses, list) or not addresses or not all(map(_is_address, addresses)):
            raise InputError(
                f"TF_CONFIG cluster {kind!r} must be a list of 'host:port' addresses, "
                f"got {addresses!r}"
            )
    if len(cluster.get("chief", [])) > 1:
        raise InputError(f"TF_CONFIG cluster can have one chief, got {cluster['chief']!r}")
    task = tf_config.get("task", {})
    if not isinstance(task, dict):
        raise InputError(f"TF_CONFIG 'task' must be an object with type and index, got {task!r}")
    if cluster and not task:
        raise InputError("TF_CONFIG names a cluster but no 'task' (which task this process is)")
    if task:
        kind, index = task.get("type"), task.get("index", 0)
        if kind not in cluster:
            raise InputError(
                f"TF_CONFIG task type {kind!r} is not in the cluster "
                f"(it has {', '.join(map(repr, cluster)) or 'no tasks'})"
            )
        size = len(cluster[kind])
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < size:
            raise InputError(
                f"TF_CONFIG task index {index!r} is out of range: the cluster has {size} "
                f"{kind!r} task{'s' if size > 1 else ''} (indices 0 to {size - 1})"
            )
    return tf_config


def is_multi_worker(tf_config: Mapping[str, Any]) -> bool:
    """Whether TF_CONFIG names two or more training tasks."""
    cluster = tf_config.get("cluster", {})
    return sum(len(cluster.get(kind, [])) for kind in TASK_TYPES) > 1


def strategy_kind(tf_config: Mapping[str, Any], num_gpus: int) -> str:
    """``"multi_worker"`` when TF_CONFIG names several tasks, ``"mirrored"`` over ≥ 2 GPUs,
    otherwise ``"default"`` (one device, a GPU if there is one)."""
    if is_multi_worker(tf_config):
        return "multi_worker"
    return "mirrored" if num_gpus > 1 else "default"


def select_strategy():
    """The ``tf.distribute.Strategy`` for this machine and cluster (see :func:`strategy_kind`).

    A multi-worker strategy is created once per process: its collective ops are configured
    when TensorFlow starts, so call this before anything else runs TensorFlow.
    """
    tf_config = read_tf_config()
    if is_multi_worker(tf_config):
        # Decided from TF_CONFIG alone: counting GPUs would start TensorFlow's runtime,
        # after which collective ops can no longer be configured.
        return _multi_worker_strategy(json.dumps(tf_config, sort_keys=True))
    import tensorflow as tf

    if strategy_kind(tf_config, len(tf.config.list_logical_devices("GPU"))) == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief(tf_config: Mapping[str, Any] | None = None) -> bool:
    """Whether this process writes the run's files (the chief, or worker 0 without one)."""
    tf_config = read_tf_config() if tf_config is None else tf_config
    task = tf_config.get("task", {})
    if not task:
        return True
    if task.get("type") == "chief":
        return True
    has_chief = bool(tf_config.get("cluster", {}).get("chief"))
    return task.get("type") == "worker" and task.get("index", 0) == 0 and not has_chief


@contextlib.contextmanager
def worker_scratch(chief: bool) -> Iterator[str | None]:
    """None on the chief; on another worker, a private local directory for the files it
    must write but nobody reads (backups, the saved model), deleted on exit."""
    if chief:
        yield None
        return
    scratch = tempfile.mkdtemp(prefix="kbetavae-worker-")
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@functools.cache
def _multi_worker_strategy(tf_config_key: str):
    import tensorflow as tf

    del tf_config_key  # the cache key: one strategy per cluster, for the process's life
    return tf.distribute.MultiWorkerMirroredStrategy()


def _is_address(address: object) -> bool:
    if not isinstance(address, str):
        return False
    host, _, port = address.rpartition(":")
    return bool(host) and port.isdigit()
