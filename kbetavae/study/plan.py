"""What a sweep trains and measures: a base ``TrainConfig`` crossed with settings and seeds.

Every training setting lives in the base config (one list of settings:
:class:`~kbetavae.training.config.TrainConfig`); the plan adds only what is a sweep's own —
the grid, the seeds, the metrics and the evaluation's sample size. The grid is ``settings``
(:class:`~kbetavae.study.grid.Setting`: objective, main weight, arguments) or, as before
grids, ``betas`` of the base's objective; ``configs()`` is one config per (setting, seed),
setting-major as the study lists them.

Example:
    >>> plan = SweepPlan(betas=(1.0, 4.0), seeds=(0, 1), base=TrainConfig(epochs=2))
    >>> [(c.beta, c.seed, c.epochs) for c in plan.configs()][:2]
    [(1.0, 0, 2), (1.0, 1, 2)]
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable
from typing import Any

from kbetavae.errors import InputError
from kbetavae.metrics import registry
from kbetavae.metrics.protocol import (
    DEFAULT_CLASSIFIER,
    FULL_POINTS,
    Protocol,
    check_classifier,
)
from kbetavae.model import catalog
from kbetavae.study.grid import Setting
from kbetavae.training import rundir
from kbetavae.training.config import TrainConfig

STUDY_BETAS: tuple[float, ...] = (0.5, 1.0, 2.5, 5.0, 7.5, 10.0, 50.0)
# Named sets of settings (``kbetavae sweep --preset NAME``), in SweepPlan.of's flat names;
# explicit settings override them. "quick": the README's first sweep, chosen by measurement
# (benchmarks/bench_quickstart.py, issue 23) to finish in about 3 minutes on a 2-core CPU
# with β = 4 using several latents; bf16 where the CPU computes it natively ("auto").
PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        "name": "quick",
        "betas": (1.0, 4.0),
        # Of seeds 0-2 measured, seed 1's β = 4 moved the sprite along an image axis (5°);
        # seeds 0 and 2 moved it diagonally (61°, 42°) after as many steps.
        "seeds": (1,),
        "epochs": 3,
        "subset": 10_000,
        "eval_points": 200,
        "precision": "auto",
    },
}


@dataclasses.dataclass(frozen=True)
class SweepPlan:
    """A sweep: ``base`` trained for every (setting, seed), each run evaluated on ``metrics``.

    The grid is ``settings`` when given (then ``betas`` is unused and stored empty), else one
    setting per β of ``betas`` with the base's objective. Defaults are the study's settings.
    ``eval_points`` scales the metric protocol
    (:meth:`~kbetavae.metrics.protocol.Protocol.scaled`; 10,000 is disentanglement_lib's).
    The base's own β and seed are ignored (each run sets them).
    """

    name: str = "study"
    betas: tuple[float, ...] = STUDY_BETAS
    seeds: tuple[int, ...] = (0,)
    settings: tuple[Setting, ...] = ()
    base: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    metrics: tuple[str, ...] = dataclasses.field(default_factory=registry.default_names)
    eval_points: int = FULL_POINTS
    zdiff_classifier: str = DEFAULT_CLASSIFIER

    def __post_init__(self) -> None:
        if not self.name or any(c in self.name for c in "/\\") or self.name.startswith("."):
            raise InputError(f"name must be a plain directory name, got {self.name!r}")
        if not isinstance(self.base, TrainConfig):
            raise InputError(f"base must be a TrainConfig, got {type(self.base).__name__}")
        # The base's β and seed are placeholders: fixing them keeps equal plans equal.
        object.__setattr__(self, "base", self.base.replace(beta=1.0, seed=0))
        if self.settings:
            object.__setattr__(self, "betas", ())
            object.__setattr__(self, "settings", tuple(map(_as_setting, self.settings)))
        else:
            _check_betas(self.betas)
        if not self.seeds or any(
            isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in self.seeds
        ):
            raise InputError(f"seeds must be integers >= 0, got {list(self.seeds)}")
        if len(set(self.seeds)) != len(self.seeds):
            raise InputError(f"seeds has repeated values: {list(self.seeds)}")
        if not catalog.facts(self.base.objective).has_beta and len(self.betas) > 1:
            main = catalog.facts(self.base.objective).main_weight
            raise InputError(
                f"objective {self.base.objective} does not use β, so several `betas` would "
                f"train the same model; sweep its {main} as `objective` "
                f"{self.base.objective}:W1,W2"
            )
        object.__setattr__(self, "metrics", registry.check_names(self.metrics))
        check_classifier(self.zdiff_classifier, "zdiff_classifier")
        Protocol.scaled(self.eval_points, self.zdiff_classifier)  # eval_points' one check
        names = [rundir.setting_name(c) for c in self.grid_configs()]  # every config validates
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise InputError(f"the grid names setting {repeated[0]} more than once")

    @classmethod
    def of(cls, **settings) -> SweepPlan:
        """A plan from flat settings: the plan's own (name, betas, seeds, metrics,
        eval_points) and any ``TrainConfig`` field, which goes into the base config.

        Example:
            >>> SweepPlan.of(betas=(1.0,), epochs=2).base.epochs
            2
        """
        own = {f.name for f in dataclasses.fields(cls)} - {"base"}
        base = TrainConfig(**{k: v for k, v in settings.items() if k not in own})
        return cls(base=base, **{k: v for k, v in settings.items() if k in own})

    def grid(self) -> tuple[Setting, ...]:
        """The plan's settings: ``settings``, or one per β of the base's objective."""
        if self.settings:
            return self.settings
        objective = self.base.objective
        if catalog.facts(objective).has_beta:
            return tuple(Setting(objective, beta) for beta in self.betas)
        weight = catalog.main_weight_value(objective, 1.0, self.base.objective_args)
        return (Setting(objective, weight),)

    def grid_configs(self) -> list[TrainConfig]:
        """One ``TrainConfig`` per setting (at seed 0)."""
        if not self.settings:  # as before grids: the base with each β (args kept whole)
            return [self.base.replace(beta=float(beta)) for beta in self.betas]
        return [setting.config(self.base) for setting in self.settings]

    def configs(self) -> list[TrainConfig]:
        """One ``TrainConfig`` per (setting, seed), setting-major as the study lists them."""
        return [c.replace(seed=seed) for c in self.grid_configs() for seed in self.seeds]

    def grid_text(self) -> str:
        """``β 1, 4`` for a β sweep, else ``settings beta=1, btcvae_beta=4``."""
        if not self.settings:
            return "β " + ", ".join(f"{b:g}" for b in self.betas)
        return "settings " + ", ".join(rundir.setting_name(c) for c in self.grid_configs())

    @property
    def protocol(self) -> Protocol:
        """The evaluation protocol of every run: scaled to ``eval_points``, with the plan's
        Z-diff classifier (the held-out ELBO's images included)."""
        return Protocol.scaled(self.eval_points, self.zdiff_classifier)

    def to_dict(self) -> dict[str, Any]:
        # A β sweep keeps the record it had before grids (sweep.json reads unchanged).
        grid = (
            {"settings": [s.to_dict() for s in self.settings]}
            if self.settings
            else {"betas": list(self.betas)}
        )
        return {
            "name": self.name,
            **grid,
            "seeds": list(self.seeds),
            "base": self.base.to_dict(),
            "metrics": list(self.metrics),
            "eval_points": self.eval_points,
            "zdiff_classifier": self.zdiff_classifier,
        }

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> SweepPlan:
        """The plan of a ``sweep.json``, including those written before plans held a base
        config (their training settings were fields of the plan)."""
        record = dict(record)
        own = {f.name for f in dataclasses.fields(cls)} - {"base"}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in record.items() if k in own}
        if "settings" in values:
            values["settings"] = tuple(Setting.from_dict(s) for s in values["settings"])
        if "base" in record:
            base = TrainConfig.from_dict(record["base"])
        else:
            training = {f.name for f in dataclasses.fields(TrainConfig)}
            base = TrainConfig.from_dict({k: v for k, v in record.items() if k in training})
        return cls(base=base, **values)


def _check_betas(betas) -> None:
    if not betas:
        raise InputError("betas needs at least one value")
    for beta in betas:
        if isinstance(beta, bool) or not isinstance(beta, int | float):
            raise InputError(f"betas values must be numbers >= 0, got {beta!r}")
        if not (math.isfinite(beta) and beta >= 0):
            raise InputError(f"betas values must be finite numbers >= 0, got {beta!r}")
    if len(set(betas)) != len(betas):
        raise InputError(f"betas has repeated values: {list(betas)}")


def _as_setting(value) -> Setting:
    if isinstance(value, Setting):
        return value
    if isinstance(value, dict):
        return Setting.from_dict(value)
    raise InputError(f"settings must be Settings, got {value!r}")


def preset_settings(name: str) -> dict[str, Any]:
    """The flat settings of preset ``name`` (:data:`PRESETS`).

    Example:
        >>> preset_settings("quick")["precision"]
        'auto'
    """
    if name not in PRESETS:
        raise InputError(f"preset must be one of {', '.join(PRESETS)}, got {name!r}")
    return dict(PRESETS[name])


def with_preset(name: str | None, settings: dict[str, Any], given: Iterable[str]) -> dict[str, Any]:
    """``settings`` with preset ``name``'s value for every setting not in ``given`` (the
    ones the user set explicitly, which override the preset); ``settings`` if no preset.

    Example:
        >>> with_preset("quick", {"epochs": 10, "subset": 50_000}, given={"epochs"})["subset"]
        10000
    """
    if name is None:
        return dict(settings)
    given = set(given)
    preset = preset_settings(name)
    return {**settings, **{k: v for k, v in preset.items() if k not in given}}


def run_groups(configs: list, max_group: int | None = None) -> list[list]:
    """The plan's runs in groups that may train fused: same settings but the objective's
    (one seed; an objective that cannot fuse groups only with itself, its runs then train
    one by one), seed by seed and within a seed in plan order of their first run, each cut
    into pieces of at most ``max_group``. Seed by seed, so a grid stopped at a session's
    end leaves whole seeds to publish (FactorVAE's runs of seed 0 before any of seed 1)."""
    groups: dict[str, list] = {}
    for config in configs:
        alone = None if catalog.facts(config.objective).fusable else config.objective
        shared = {**config.to_dict(), "beta": None, "objective_args": None, "objective": alone}
        groups.setdefault(json.dumps(shared, sort_keys=True), []).append(config)
    size = max_group or max(len(g) for g in groups.values())
    ordered = sorted(groups.values(), key=lambda group: group[0].seed)  # stable: plan order
    return [group[i : i + size] for group in ordered for i in range(0, len(group), size)]


def max_group_for_jobs(configs: list, jobs: int) -> int | None:
    """The ``max_group`` that cuts the plan's fused groups into at least ``jobs`` groups
    (None: it has that many already). Each seed's βs are cut into equal pieces, as few as
    give every job a group, since a wider fused step is cheaper per run than two narrow ones.

    Example:
        >>> plan = SweepPlan.of(betas=(1.0, 2.0, 4.0, 8.0), seeds=(0,))
        >>> max_group_for_jobs(plan.configs(), jobs=2)
        2
    """
    groups = run_groups(configs)
    if jobs <= len(groups):
        return None
    pieces = math.ceil(jobs / len(groups))  # per seed's group
    return max(1, math.ceil(max(len(g) for g in groups) / pieces))


def group_label(configs: list) -> str:
    """``fused beta=1,4,10_seed=0`` (one β-VAE group) or ``fused beta=1,btcvae_beta=4_seed=0``:
    the runs a fused group trains at once."""
    names = [rundir.setting_name(c) for c in configs]
    if all(c.objective == "beta" for c in configs):
        names = ["beta=" + ",".join(f"{c.beta:g}" for c in configs)]
    return f"fused {','.join(names)}_seed={configs[0].seed}"
