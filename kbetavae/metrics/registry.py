"""The one table of metrics: name, results-table columns, title, default, cost, computation.

Everything that names a metric reads it here: :func:`kbetavae.metrics.evaluate`, the sweep
plan's validation, the results table's columns, figure titles, progress estimates, the
CLI's help and the Vertex AI hyperparameter-tuning metric names. Adding a metric is one
module (a pure function of arrays) plus one :func:`register` call.

Metrics are of two kinds. A metric of one model (``kind="model"``, the default everywhere
below) receives an :class:`~kbetavae.metrics.inputs.EvaluationInputs`, which draws and
encodes the samples metrics share (the 10,000 points of MIG and Modularity and their mutual
information, the test points of SAP and DCI) once, lazily; ``--metrics`` names these. A
metric over several models (``kind="models"``: UDR) receives the codes of all seeds of one
setting on one shared sample and their per-latent KL, and returns a result whose
``model_entry(m)`` goes into model m's ``metrics.json``. Both kinds share one namespace.

Example:
    >>> spec("mig").column_names, spec("mig").title
    (('mig',), 'MIG')
    >>> column_title("dci_completeness")
    'DCI completeness'
    >>> names(kind="models")
    ('udr_lasso', 'udr_spearman')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kbetavae.errors import InputError
from kbetavae.metrics.protocol import Protocol

ONE_MODEL = "model"
SEVERAL_MODELS = "models"
KINDS = (ONE_MODEL, SEVERAL_MODELS)


@dataclasses.dataclass(frozen=True)
class MetricSpec:
    """One metric as the rest of kbetavae sees it.

    Attributes:
        name: the ``--metrics`` name and the key of its entry in ``metrics.json``.
        title: how figures and reports name it.
        compute: for ``kind="model"``, ``EvaluationInputs -> result`` (a ``MetricResult``
            or a dict with ``score``); for ``kind="models"``, ``(codes (M, N, z),
            kl_per_latent (M, z)) -> result`` with ``model_entry(m)``.
        columns: results-table columns and, for each, the key of the entry that fills it
            (``(("mig", "score"),)``; DCI has three).
        default: computed when no ``--metrics`` are given (the study's three); for
            ``kind="models"``, meant for every setting with at least 2 finished seeds.
        cost: a few words on its cost at the default protocol, for the CLI help.
        images_drawn: images the metric encodes at a :class:`~kbetavae.metrics.protocol.Protocol`,
            for progress and time estimates; shared samples are counted by
            ``EvaluationInputs``, not here.
        kind: ``"model"`` (one run's encoder) or ``"models"`` (the seeds of a setting).
    """

    name: str
    title: str
    compute: Callable[[Any], Any]
    columns: tuple[tuple[str, str], ...] = ()
    default: bool = False
    cost: str = ""
    images_drawn: Callable[[Protocol], int] = lambda protocol: 0
    column_titles: tuple[str, ...] = ()
    kind: str = ONE_MODEL

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise InputError(f"a metric name must be an identifier, got {self.name!r}")
        if self.kind not in KINDS:
            raise InputError(
                f"a metric's kind must be one of {', '.join(KINDS)}, got {self.kind!r}"
            )
        if not self.columns:
            object.__setattr__(self, "columns", ((self.name, "score"),))
        if not self.column_titles:
            titles = (self.title,) if len(self.columns) == 1 else tuple(c for c, _ in self.columns)
            object.__setattr__(self, "column_titles", titles)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column for column, _ in self.columns)

    def row(self, entry: Mapping[str, Any] | None) -> dict[str, Any]:
        """The results-table cells of this metric's ``metrics.json`` entry."""
        entry = entry or {}
        return {column: entry.get(key) for column, key in self.columns}


_REGISTRY: dict[str, MetricSpec] = {}


def register(metric: MetricSpec) -> MetricSpec:
    """Add ``metric`` to the table (replacing one of the same name); returns it."""
    _REGISTRY[metric.name] = metric
    return metric


def unregister(name: str) -> None:
    """Remove a metric (tests that register toys clean up with it)."""
    _REGISTRY.pop(name, None)


def spec(name: str) -> MetricSpec:
    """The entry of ``name`` (of either kind), or InputError listing the known metrics."""
    check_names([name], kind=None)
    return _REGISTRY[name]


def _of_kind(kind: str | None) -> list[MetricSpec]:
    """The metrics of ``kind`` (None: every kind), in registration order."""
    if kind is not None and kind not in KINDS:
        raise InputError(f"kind must be one of {', '.join(KINDS)} or None, got {kind!r}")
    return [metric for metric in _REGISTRY.values() if kind is None or metric.kind == kind]


def names(kind: str | None = ONE_MODEL) -> tuple[str, ...]:
    """The registered metrics of ``kind`` (None: all), in registration order."""
    return tuple(metric.name for metric in _of_kind(kind))


def default_names(kind: str | None = ONE_MODEL) -> tuple[str, ...]:
    return tuple(metric.name for metric in _of_kind(kind) if metric.default)


def check_names(
    requested: Iterable[str], option: str = "metrics", kind: str | None = ONE_MODEL
) -> tuple[str, ...]:
    """``requested`` as a tuple, or one InputError naming the unknown ones and the choices
    (the metrics of ``kind``)."""
    requested = tuple(requested)
    choices = names(kind)
    unknown = [name for name in requested if name not in choices]
    if unknown or not requested:
        other = [name for name in unknown if name in _REGISTRY]
        why = (
            f" ({', '.join(other)}: a metric of kind {_REGISTRY[other[0]].kind!r}, not {kind!r})"
            if other
            else ""
        )
        raise InputError(
            f"{option}: unknown {', '.join(unknown) or '(none given)'}{why}; "
            f"choose from {', '.join(choices)}"
        )
    return requested


def columns(kind: str | None = ONE_MODEL) -> tuple[str, ...]:
    """The results-table columns of the metrics of ``kind`` (None: all), in order."""
    return tuple(column for metric in _of_kind(kind) for column in metric.column_names)


def column_title(column: str) -> str:
    """The title of a results-table column (its own name if no metric has it)."""
    for metric in _REGISTRY.values():
        for name, title in zip(metric.column_names, metric.column_titles, strict=True):
            if name == column:
                return title
    return column


def metric_of_column(column: str) -> str:
    """The metric that fills ``column`` (``dci_completeness`` -> ``dci``), or InputError."""
    for metric in _REGISTRY.values():
        if column in metric.column_names:
            return metric.name
    raise InputError(f"{column!r} is not a metric column; choose from {', '.join(columns())}")


def help_text(default: str | None = None) -> str:
    """The ``--metrics`` help: ``default`` (what the option defaults to; the default
    metrics), then the others with their costs."""
    extras = [
        f"{metric.name} ({metric.cost})" if metric.cost else metric.name
        for metric in _of_kind(ONE_MODEL)
        if not metric.default
    ]
    default = default or ",".join(default_names())
    return f"comma-separated metrics; default {default}; also {', '.join(extras)}"


def _register_builtins() -> None:
    # The computations live in their modules; these adapters only pick the shared inputs.
    from kbetavae.metrics.dci import dci
    from kbetavae.metrics.factorvae import factorvae_score
    from kbetavae.metrics.mig import mig_from_mutual_info
    from kbetavae.metrics.modularity import modularity_from_mutual_info
    from kbetavae.metrics.sap import sap
    from kbetavae.metrics.udr import udr
    from kbetavae.metrics.zdiff import zdiff

    def pairs(protocol: Protocol) -> int:
        return protocol.pair_batch_size * (protocol.num_train + protocol.num_eval)

    register(
        MetricSpec(
            "mig",
            "MIG",
            lambda x: mig_from_mutual_info(x.mutual_info, x.factor_entropies),
            default=True,
        )
    )
    register(
        MetricSpec(
            "zdiff",
            "Z-diff (β-VAE score)",
            lambda x: zdiff(x.ground_truth, x.encoder, x.rng("zdiff"), x.protocol),
            default=True,
            images_drawn=lambda p: 2 * pairs(p),
        )
    )
    register(
        MetricSpec(
            "modularity",
            "Modularity",
            lambda x: modularity_from_mutual_info(x.mutual_info, x.active),
            columns=(("modularity", "score"), ("modularity_active", "active_score")),
            column_titles=("Modularity", "Modularity (active latents)"),
            default=True,
        )
    )
    register(
        MetricSpec(
            "sap",
            "SAP",
            lambda x: sap(x.codes, x.factors, x.test_codes, x.test_factors),
            cost="seconds",
        )
    )
    register(
        MetricSpec(
            "factorvae",
            "FactorVAE score",
            lambda x: factorvae_score(x.ground_truth, x.encoder, x.rng("factorvae"), x.protocol),
            cost="about a Z-diff's time",
            images_drawn=lambda p: p.num_variance_points + pairs(p),
        )
    )
    register(
        MetricSpec(
            "dci",
            "DCI",
            lambda x: dci(x.codes, x.factors, x.test_codes, x.test_factors, seed=x.seed),
            columns=(
                ("dci_disentanglement", "disentanglement"),
                ("dci_completeness", "completeness"),
                ("dci_informativeness", "informativeness"),
            ),
            column_titles=("DCI disentanglement", "DCI completeness", "DCI informativeness"),
            cost="minutes: gradient-boosted trees",
        )
    )
    # Over the seeds of one setting: both of Duan et al.'s similarities, seconds each.
    for similarity, title in (("lasso", "UDR (Lasso)"), ("spearman", "UDR (Spearman)")):
        register(
            MetricSpec(
                f"udr_{similarity}",
                title,
                lambda codes, kl, similarity=similarity: udr(codes, kl, similarity=similarity),
                default=True,
                cost="seconds",
                kind=SEVERAL_MODELS,
            )
        )


_register_builtins()
