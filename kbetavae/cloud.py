"""Vertex AI: what the job's environment says, and hyperparameter-tuning reports.

Vertex AI sets these for a job with a ``baseOutputDirectory`` (a trial of a
hyperparameter-tuning job gets ``<base>/<trial id>/...`` instead of ``<base>/...``)::

    AIP_MODEL_DIR             <base>/model/         kbetavae train: run directories, SavedModels
    AIP_CHECKPOINT_DIR        <base>/checkpoints/   kbetavae train: resume backups
    AIP_TENSORBOARD_LOG_DIR   <base>/logs/          TensorBoard logs (kbetavae.training.loop)

and ``CLOUD_ML_JOB_ID`` (and ``CLOUD_ML_TRIAL_ID`` in a trial). A trial tells the tuning
service its objective through ``cloudml-hypertune`` (the optional extra ``hypertune``),
which writes the value to a file the service watches. Without that package, reporting is a
no-op, so the same command runs on a laptop.

Example:
    >>> env = VertexEnvironment.from_environ({"AIP_MODEL_DIR": "gs://b/hpt/3/model/"})
    >>> env.on_vertex, env.model_dir
    (True, 'gs://b/hpt/3/model/')
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from typing import Any

from kbetavae.errors import InputError
from kbetavae.metrics import metric_row, registry

DEFAULT_HYPERTUNE_METRIC = "mig"
SAVED_MODELS_DIR = "saved_models"


@dataclasses.dataclass(frozen=True)
class VertexEnvironment:
    """The Vertex AI variables of this process (all None off Vertex AI)."""

    model_dir: str | None = None
    checkpoint_dir: str | None = None
    tensorboard_dir: str | None = None
    job_id: str | None = None
    trial_id: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> VertexEnvironment:
        environ = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            return environ.get(name) or None  # Vertex AI never sets them empty; a user might

        return cls(
            model_dir=get("AIP_MODEL_DIR"),
            checkpoint_dir=get("AIP_CHECKPOINT_DIR"),
            tensorboard_dir=get("AIP_TENSORBOARD_LOG_DIR"),
            job_id=get("CLOUD_ML_JOB_ID"),
            trial_id=get("CLOUD_ML_TRIAL_ID"),
        )

    @property
    def on_vertex(self) -> bool:
        """Whether this looks like a Vertex AI training job (or a local imitation of one)."""
        return any(dataclasses.astuple(self))

    def out_root(self, default: str = "runs") -> str:
        """Where run directories go: ``$AIP_MODEL_DIR``, else ``default``."""
        return self.model_dir or default

    def backup_dir(self, run_name: str) -> str | None:
        """``$AIP_CHECKPOINT_DIR/<run>``, or None (training keeps ``<run_dir>/backup``)."""
        return os.path.join(self.checkpoint_dir, run_name) if self.checkpoint_dir else None

    def saved_models_root(self) -> str | None:
        """Default root of SavedModel exports: ``$AIP_MODEL_DIR/saved_models`` on Vertex AI
        (where a Model Registry upload can find them), else None (no export)."""
        return os.path.join(self.model_dir, SAVED_MODELS_DIR) if self.model_dir else None


def check_hypertune_metric(name: str) -> str:
    """``name`` if it is a reportable metric (a column of the results table, from the metric
    registry), else InputError naming the choices."""
    if name not in registry.columns():
        raise InputError(
            f"hypertune_metric must be one of {', '.join(registry.columns())}, got {name!r}"
        )
    return name


def metric_to_compute(hypertune_metric: str) -> str:
    """The evaluation metric behind a table column (``dci_completeness`` -> ``dci``)."""
    return registry.metric_of_column(check_hypertune_metric(hypertune_metric))


def objective_value(record: Mapping[str, Any], hypertune_metric: str) -> float:
    """The value of ``hypertune_metric`` in a ``metrics.json`` record."""
    value = metric_row(dict(record)).get(check_hypertune_metric(hypertune_metric))
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"the evaluation has no finite {hypertune_metric} score (got {value!r})")
    return float(value)


def report_metric(tag: str, value: float, global_step: int | None = None) -> bool:
    """Report ``value`` as hyperparameter-tuning metric ``tag``; False if cloudml-hypertune
    is not installed (nothing is reported then)."""
    try:
        import hypertune
    except ImportError:
        return False
    hypertune.HyperTune().report_hyperparameter_tuning_metric(
        hyperparameter_metric_tag=tag, metric_value=float(value), global_step=global_step
    )
    return True
