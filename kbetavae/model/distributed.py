"""What a training step needs to know about ``tf.distribute``: its rows, its logs.

A replica's rows of the global batch (:func:`replica_rows`) let every replica draw the
noise of the whole batch and keep its own, so a run does not depend on the number of
replicas; :func:`reducible_across_workers` shapes the logs so Keras 3 can reduce them
across workers.
"""

from __future__ import annotations

import tensorflow as tf


def replica_rows(size):
    """``(offset, global_size)`` of this replica's ``size`` examples in the global batch,
    or None outside a multi-replica step.

    ``tf.distribute`` splits each global batch into contiguous parts in replica order
    (across workers too: the pipeline shards by element, AutoShardPolicy.DATA), so the
    offset is the number of examples held by the replicas before this one.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    sizes = context.all_gather(tf.reshape(tf.cast(size, tf.int64), [1]), axis=0)
    sizes = tf.cast(sizes, tf.int32)
    return tf.reduce_sum(sizes[: context.replica_id_in_sync_group]), tf.reduce_sum(sizes)


def reducible_across_workers(logs: dict) -> dict:
    """Logs shaped so Keras 3 can reduce them across workers.

    Under a multi-worker strategy Keras reduces each log with
    ``strategy.reduce(MEAN, value, axis=0)``, which fails on scalars
    (tensorflow/tensorflow#72388); a leading axis of one, which that reduction removes,
    avoids it. Elsewhere the logs stay scalars.
    """
    strategy = tf.distribute.get_strategy()
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    if not (multi_worker and strategy.extended._in_multi_worker_mode()):
        return logs
    return {name: tf.reshape(value, [1]) for name, value in logs.items()}
