"""A study grid: settings (objective, main weight, other arguments) crossed with seeds.

A :class:`Setting` is what a run is beyond the shared training settings; its runs are named
``<setting>_seed=<s>`` (:func:`kbetavae.training.rundir.run_name`). Grids are written as
``--objective NAME:W1,W2`` specs (:func:`parse_spec`) or a TOML study file
(:func:`read_study_file`) when the settings also vary other arguments. Results rows are
grouped by setting (:func:`setting_of`), ordered by objective then weight
(:func:`setting_order`); rows written before grids existed are β-VAE settings.

Example:
    >>> [s.weight for s in parse_spec("btcvae:1,4")]
    [1.0, 4.0]
    >>> setting_of({"beta": 4.0, "seed": 0})
    'beta=4'
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any

from kbetavae import io as kio
from kbetavae.errors import InputError
from kbetavae.model import catalog
from kbetavae.training.config import TrainConfig


@dataclasses.dataclass(frozen=True)
class Setting:
    """One point of a grid: ``objective`` with its main weight at ``weight`` and ``args``
    (other arguments, over the base config's when it has the same objective)."""

    objective: str
    weight: float
    args: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        name = str(self.objective).replace("-", "_")  # dipvae-i as the papers write it
        object.__setattr__(self, "objective", catalog.facts(name).name)
        weight = self.weight
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise InputError(f"{name} weights must be numbers >= 0, got {weight!r}")
        if not (math.isfinite(weight) and weight >= 0):
            raise InputError(f"{name} weights must be finite numbers >= 0, got {weight!r}")
        object.__setattr__(self, "weight", float(weight))
        args = dict(self.args)
        main = catalog.facts(name).main_weight
        if main in args or "beta" in args:
            raise InputError(f"{name}: give {main} as the setting's weight, not among its args")
        object.__setattr__(self, "args", tuple(sorted(args.items())))

    def config(self, base: TrainConfig, seed: int = 0) -> TrainConfig:
        """The run config of this setting and ``seed`` over ``base`` (validated)."""
        facts = catalog.facts(self.objective)
        args = dict(base.objective_args) if base.objective == self.objective else {}
        args.update(self.args)
        beta = catalog.NO_BETA
        if facts.main_weight == "beta":
            beta = self.weight
        else:
            args[facts.main_weight] = self.weight
        return base.replace(objective=self.objective, beta=beta, objective_args=args, seed=seed)

    @classmethod
    def of_config(cls, config: TrainConfig) -> Setting:
        """The setting a run's config is (its arguments whole, its main weight apart)."""
        main = catalog.facts(config.objective).main_weight
        weight = catalog.main_weight_value(config.objective, config.beta, config.objective_args)
        return cls(
            config.objective,
            weight,
            tuple((k, v) for k, v in config.objective_args.items() if k != main),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"objective": self.objective, "weight": self.weight, "args": dict(self.args)}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Setting:
        return cls(
            record["objective"], record["weight"], tuple(dict(record.get("args", {})).items())
        )


def parse_spec(text: str, option: str = "--objective") -> list[Setting]:
    """``"btcvae:1,4,10"`` as three settings; InputError naming the bad part."""
    name, colon, values = text.partition(":")
    if not colon or not values.strip():
        raise InputError(f"{option} {text!r}: expected NAME:W1,W2 such as beta:1,4,10")
    return [Setting(name.strip(), _number(v, option, text)) for v in values.split(",")]


def settings_of(specs: Iterable[str], option: str = "--objective") -> tuple[Setting, ...]:
    """The settings of every ``--objective`` spec, in the order given."""
    return tuple(s for spec in specs for s in parse_spec(spec, option))


def read_study_file(path: str) -> tuple[Setting, ...]:
    """The settings of a TOML study file: one ``[[objective]]`` table per group, with
    ``name``, ``weights`` (a list) and optional ``args`` (a table of other arguments).

    Example file::

        [[objective]]
        name = "btcvae"
        weights = [1, 4]
        args = { estimator = "mss" }
    """
    try:
        import tomllib  # Python 3.11+; the package supports 3.10 without study files
    except ImportError:
        raise InputError("a `study` file needs Python 3.11 or later (tomllib)") from None
    try:
        record = tomllib.loads(kio.read_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path} is not TOML: {exc}") from None
    groups = record.get("objective")
    if not isinstance(groups, list) or not groups:
        raise InputError(f"{path} has no [[objective]] table (name, weights, optional args)")
    settings = []
    for k, group in enumerate(groups):
        if not isinstance(group, dict) or "name" not in group or "weights" not in group:
            raise InputError(f"{path}: [[objective]] number {k + 1} needs name and weights")
        if not isinstance(group["weights"], list) or not group["weights"]:
            raise InputError(f"{path}: weights of {group['name']!r} must be a non-empty list")
        args = tuple(dict(group.get("args", {})).items())
        settings.extend(Setting(group["name"], w, args) for w in group["weights"])
    return tuple(settings)


# -- results rows grouped by setting -----------------------------------------------------------


def setting_of(row: Mapping[str, Any]) -> str:
    """The setting of a results row (its run name without the seed); a row written before
    grids existed is the β-VAE's ``beta=<β>``."""
    return row.get("setting") or f"beta={row['beta']:g}"


def objective_of(row: Mapping[str, Any]) -> str:
    return row.get("objective") or "beta"


def weight_of(row: Mapping[str, Any]) -> float:
    weight = row.get("weight")
    return float(row["beta"] if weight is None else weight)


def setting_order(row: Mapping[str, Any]) -> tuple:
    """Sort key of a row's setting: objective in the catalog's order, then weight."""
    objective = objective_of(row)
    known = catalog.names()
    rank = known.index(objective) if objective in known else len(known)
    return (rank, objective, weight_of(row), setting_of(row))


def is_beta_only(rows: Iterable[Mapping[str, Any]]) -> bool:
    """Whether every row is a plain β-VAE setting (``beta=<β>``): tables then keep the shape
    they had before grids (one β column)."""
    return all(setting_of(r) == f"beta={r['beta']:g}" for r in rows)


def keyed_by_beta(rows: Iterable[Mapping[str, Any]]) -> bool:
    """Whether β alone tells the rows' settings apart (one objective, one setting per β):
    the β sweep's figures and report sections apply."""
    rows = list(rows)
    objectives = {objective_of(r) for r in rows}
    return len(objectives) <= 1 and len({setting_of(r) for r in rows}) == len(
        {r["beta"] for r in rows}
    )


def _number(text: str, option: str, spec: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise InputError(
            f"{option} {spec!r}: {text.strip()!r} is not a number (expected NAME:W1,W2)"
        ) from None
