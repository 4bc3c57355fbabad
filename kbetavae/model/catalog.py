"""The one table of objective facts, readable without TensorFlow.

Everything that asks a question about an objective by name — which parameter a sweep varies,
whether ``TrainConfig.beta`` feeds it (and β_norm applies), whether several of its runs may
share one fused step, how its runs are named — reads it here. The objective's computation is
a class in :mod:`kbetavae.model.objectives` (a Keras layer); the entry names that class by
import path, so reading the table starts nothing. Adding an objective is one class plus one
:func:`register` call.

Example:
    >>> facts("btcvae").main_weight, facts("btcvae").has_beta, facts("factorvae").fusable
    ('beta', True, False)
    >>> run_label("capacity", {"capacity_max": 25.0, "gamma": 1000.0, "capacity_min": 2.0}, {})
    'capacity=25_gamma=1000_capacity_min=2'
"""

from __future__ import annotations

import dataclasses
import importlib
import string
from typing import Any

from kbetavae.errors import InputError

# β when an objective has none: the constructor default of BetaVAE and TrainConfig.
NO_BETA = 1.0


@dataclasses.dataclass(frozen=True)
class ObjectiveFacts:
    """One objective as the rest of kbetavae sees it.

    Attributes:
        name: the ``--objective`` name and the key of the objective's ``get_config``.
        main_weight: the parameter a sweep varies (disentanglement_lib's study varies the
            same: ``vae.beta``, ``annealed_vae.c_max``, ``beta_tc_vae.beta``,
            ``dip_vae.lambda_od``, ``factor_vae.gamma``).
        cls: ``"module:Class"`` of the :class:`~kbetavae.model.objectives.Objective` (or the
            class itself, for one defined where Keras is already loaded).
        has_beta: whether ``TrainConfig.beta`` is its β (β_norm applies); without one, β
            stays 1 and the main weight lives in ``objective_args``.
        fusable: whether its runs may share one fused step: False for an objective that
            trains weights of its own (FactorVAE's discriminator has its own optimizer).
        run_name: the run directory name's fields before ``_seed=``, a format string over
            β and the objective's arguments (default ``<name>_<main>={<main>:g}``).
        title: how tables and figures name the method.
    """

    name: str
    main_weight: str
    cls: str | type
    has_beta: bool = False
    fusable: bool = True
    run_name: str = ""
    title: str = ""

    def __post_init__(self) -> None:
        if not self.name.replace("_", "").isalnum():
            raise InputError(f"an objective name must be letters, digits and _, got {self.name!r}")
        if not self.run_name:
            template = f"{self.name}_{self.main_weight}={{{self.main_weight}:g}}"
            object.__setattr__(self, "run_name", template)
        if not self.title:
            object.__setattr__(self, "title", self.name)

    @property
    def name_fields(self) -> tuple[str, ...]:
        """The parameters the run name shows (β or the objective's arguments)."""
        return tuple(f for _, f, _, _ in string.Formatter().parse(self.run_name) if f)

    def objective_class(self) -> type:
        """The objective's class (imports Keras)."""
        if isinstance(self.cls, type):
            return self.cls
        module, _, attribute = self.cls.partition(":")
        return getattr(importlib.import_module(module), attribute)


_TABLE: dict[str, ObjectiveFacts] = {}


def register(entry: ObjectiveFacts) -> ObjectiveFacts:
    """Add ``entry`` to the table (replacing one of the same name); returns it."""
    _TABLE[entry.name] = entry
    return entry


def unregister(name: str) -> None:
    """Remove an objective (tests that register toys clean up with it)."""
    _TABLE.pop(name, None)


def names() -> tuple[str, ...]:
    """The registered objectives, in registration order."""
    return tuple(_TABLE)


def facts(name: str) -> ObjectiveFacts:
    """The entry of ``name``, or InputError listing the objectives."""
    if not isinstance(name, str) or name not in _TABLE:
        raise InputError(f"objective must be one of {', '.join(_TABLE)}, got {name!r}")
    return _TABLE[name]


def resolve_beta(objective: str, beta: float, args: dict[str, Any]) -> dict[str, Any]:
    """The objective's arguments with β where it has one: the one rule for β.

    An objective with β takes ``beta`` (``args`` may give it only if ``beta`` is 1 or the
    same); one without refuses a β other than 1 and names its main weight instead.

    Example:
        >>> resolve_beta("btcvae", 4.0, {"alpha": 1.0})
        {'beta': 4.0, 'alpha': 1.0}
    """
    entry = facts(objective)
    if not entry.has_beta:
        if beta != NO_BETA:
            raise InputError(
                f"objective {objective} has no β, got beta={beta:g}; vary its main weight "
                f"{entry.main_weight} in objective_args instead"
            )
        return dict(args)
    # A β at its default leaves the arguments' own (a model's saved objective_args).
    if beta != NO_BETA and args.get("beta", beta) != beta:
        raise InputError(f"beta={beta:g} and objective_args beta={args['beta']} disagree")
    return {"beta": beta, **args}


def main_weight_value(objective: str, beta: float, args: dict[str, Any]) -> float:
    """The value of the objective's main weight in a run of ``beta`` and ``args``."""
    entry = facts(objective)
    return float(beta if entry.main_weight == "beta" else args[entry.main_weight])


def run_label(objective: str, values: dict[str, Any], defaults: dict[str, Any]) -> str:
    """The run name's fields before ``_seed=``: the entry's template filled from ``values``
    (β and the objective's arguments), then ``_name=value`` for every other argument that
    differs from ``defaults``, so runs of two settings never share a name, and a setting at
    its defaults keeps the name it had before study grids existed."""
    entry = facts(objective)
    label = entry.run_name.format(**values)
    shown = {*entry.name_fields, "beta"}
    return label + "".join(
        f"_{k}={_text(v)}"
        for k, v in sorted(values.items())
        if k not in shown and defaults.get(k, v) != v
    )


def _text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


_OBJECTIVES = "kbetavae.model.objectives"
register(
    ObjectiveFacts(
        "beta", "beta", f"{_OBJECTIVES}:Beta", True, run_name="beta={beta:g}", title="β-VAE"
    )
)
# Burgess et al. name their runs by C and γ.
register(
    ObjectiveFacts(
        "capacity",
        "capacity_max",
        f"{_OBJECTIVES}:Capacity",
        run_name="capacity={capacity_max:g}_gamma={gamma:g}",
        title="capacity VAE",
    )
)
register(ObjectiveFacts("btcvae", "beta", f"{_OBJECTIVES}:BetaTC", True, title="β-TCVAE"))
register(ObjectiveFacts("dipvae_i", "lambda_od", f"{_OBJECTIVES}:DIPI", title="DIP-VAE-I"))
register(ObjectiveFacts("dipvae_ii", "lambda_od", f"{_OBJECTIVES}:DIPII", title="DIP-VAE-II"))
register(
    ObjectiveFacts("factorvae", "gamma", f"{_OBJECTIVES}:Factor", fusable=False, title="FactorVAE")
)
