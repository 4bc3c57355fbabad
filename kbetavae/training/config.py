"""What determines one training run: ``TrainConfig``.

``TrainConfig`` is the one list of training settings: ``kbetavae train`` builds one from
its flags, a sweep plan holds one as the base of all its runs (``SweepPlan.configs()`` is
``replace(base, beta=b, seed=s)``), and ``config.json`` stores it. The objective's own
parameters (γ, capacities, α, λ …) live in ``objective_args``: adding an objective adds a
class in :mod:`kbetavae.model.objectives`, never a field here.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from kbetavae.data.variants import check_data, image_shape, is_binary
from kbetavae.errors import InputError
from kbetavae.model import catalog
from kbetavae.model.scale import RECONSTRUCTIONS, normalised_beta
from kbetavae.training.precision import resolve_precision
from kbetavae.validation import (
    check_int,
    check_latent_dim,
    check_positive_number,
    check_weight,
)

PRECISIONS: tuple[str, ...] = ("float32", "mixed_bfloat16")
# Resolves to one of PRECISIONS from the hardware (kbetavae.training.precision).
AUTO = "auto"
# Fields of configs written before objectives became objects (kept readable).
_LEGACY_OBJECTIVE_FIELDS = ("gamma", "capacity_min", "capacity_max", "capacity_steps")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that determines one training run; validated at construction.

    Defaults are the study's (10 epochs, batch 32, Adam 1e-3, a 50,000-image subset,
    z = 10, reconstruction summed over pixels). ``objective_args`` holds the objective's
    parameters other than β (e.g. ``{"gamma": 1000, "capacity_max": 25}`` for
    ``objective="capacity"``); missing ones take the objective's defaults.
    ``steps_per_execution`` runs that many steps per call into TensorFlow: per-batch
    callbacks (TerminateOnNaN among them) otherwise force a host sync every step, which
    cost up to 20 % of a bf16 step on the 2-core CPU (benchmarks/bench_model.py).

    Example:
        >>> TrainConfig(beta=4.0, seed=1).replace(epochs=2).epochs
        2
    """

    beta: float = 1.0
    seed: int = 0
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    latent_dim: int = 10
    objective: str = "beta"
    objective_args: dict = dataclasses.field(default_factory=dict)
    reconstruction: str = "sum"
    subset: int = 50_000
    validation: int = 0
    source: str = "replica"
    data: str = "dsprites"
    painting: str | None = None
    steps_per_epoch: int | None = None
    steps_per_execution: int = 8
    jit_compile: bool = False
    precision: str = "float32"
    tensorboard: bool = False

    def __post_init__(self):
        check_weight("beta", self.beta)
        check_int("seed", self.seed, minimum=0)
        check_int("epochs", self.epochs, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        check_positive_number("lr", self.lr)
        check_latent_dim(self.latent_dim)
        check_int("subset", self.subset, minimum=1)
        check_int("validation", self.validation, minimum=0)
        check_int("steps_per_execution", self.steps_per_execution, minimum=1)
        if self.steps_per_epoch is not None:
            check_int("steps_per_epoch", self.steps_per_epoch, minimum=1)
        if self.reconstruction not in RECONSTRUCTIONS:
            raise InputError(
                f"reconstruction must be one of {RECONSTRUCTIONS}, got {self.reconstruction!r}"
            )
        if self.precision not in (*PRECISIONS, AUTO):
            raise InputError(
                f"precision must be one of {(*PRECISIONS, AUTO)}, got {self.precision!r}"
            )
        # Resolved once, here, so config.json, run names and claims carry what ran.
        object.__setattr__(self, "precision", resolve_precision(self.precision))
        if not isinstance(self.source, str) or not self.source:
            raise InputError(f"source must be a source name or path, got {self.source!r}")
        catalog.facts(self.objective)  # a known objective, named in the error otherwise
        if self.painting is not None and (not isinstance(self.painting, str) or not self.painting):
            raise InputError(f"painting must be an image path, got {self.painting!r}")
        check_data(self.data, painting=self.painting)
        if not isinstance(self.objective_args, dict):
            raise InputError(f"objective_args must be a dict, got {self.objective_args!r}")
        # The objective validates its own parameters (names the bad one).
        object.__setattr__(self, "objective_args", _objective_args(self))

    def replace(self, **changes) -> TrainConfig:
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """The config of a ``config.json`` record, including records written before
        ``objective_args`` existed (their γ/capacity fields move there)."""
        values = dict(values)
        legacy = {k: values.pop(k) for k in _LEGACY_OBJECTIVE_FIELDS if k in values}
        if legacy and values.get("objective", "beta") != "beta":
            values["objective_args"] = {**legacy, **values.get("objective_args", {})}
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise InputError(f"unknown TrainConfig fields: {', '.join(unknown)}")
        return cls(**values)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """The shape of the data's images: (64, 64, 1) for dSprites, 3 channels for its
        colour variants."""
        return image_shape(self.data)

    @property
    def pixels(self) -> int:
        """Values the reconstruction sums over per image: 64 × 64 for dSprites,
        64 × 64 × 3 for its colour variants."""
        return math.prod(self.image_shape)

    def open_data(self):
        """The ``GroundTruthData`` this run trains on: ``data`` over ``source``."""
        from kbetavae.data import open_source

        opened = open_source(self.source, data=self.data, painting=self.painting)
        if opened.image_shape != self.image_shape:
            # A variant's export (fixed observations) is a file source of 3-channel images.
            raise InputError(
                f"source {self.source} holds {opened.image_shape} images where data "
                f"{self.data} has {self.image_shape}: runs train on binary dSprites sources (a "
                "variant's export is for looking at; train with `data` set to the variant instead)"
            )
        return opened

    @property
    def normalised_beta(self) -> float | None:
        """β on Higgins et al.'s (2017) scale, β·z/pixels for a summed reconstruction (see
        :func:`kbetavae.model.scale.normalised_beta`); None for objectives without β."""
        if not catalog.facts(self.objective).has_beta:
            return None
        return normalised_beta(self.beta, self.latent_dim, self.pixels, self.reconstruction)

    def model_kwargs(self) -> dict[str, Any]:
        """The BetaVAE constructor arguments of this run."""
        return {
            "beta": self.beta,
            "latent_dim": self.latent_dim,
            "objective": self.objective,
            "objective_args": {**self.objective_args, **_dataset_args(self)},
            "reconstruction": self.reconstruction,
            "image_shape": self.image_shape,
            "binary": is_binary(self.data),
            "seed": self.seed,
        }


def _objective_args(config: TrainConfig) -> dict:
    """The objective's parameters other than β, validated by the objective itself and
    completed with its defaults (so equal runs have equal configs)."""
    if config.objective == "beta" and not config.objective_args:
        # The default needs no check that imports Keras: β itself is checked above, and
        # `kbetavae --help` (whose defaults are a TrainConfig) stays instant.
        return {}
    from kbetavae.model.objectives import make_objective, parameters

    given = {k: v for k, v in config.objective_args.items() if k not in _MODEL_PROVIDED}
    if "beta" in given:
        raise InputError("give β as `beta` (`betas` in a sweep), not in `objective_args`")
    names = parameters(catalog.facts(config.objective).objective_class())
    args = catalog.resolve_beta(config.objective, config.beta, given)
    objective = make_objective(config.objective, **args, **_dataset_args(config))
    stored = objective.get_config()
    return {k: stored[k] for k in names if k not in ("beta", *_MODEL_PROVIDED) and k in stored}


# Parameters the model or the data provide, never the user.
_MODEL_PROVIDED = ("dataset_size", "seed")


def _dataset_args(config: TrainConfig) -> dict:
    """What an objective learns from the data rather than the user (β-TCVAE's N)."""
    from kbetavae.model.objectives import parameters

    names = parameters(catalog.facts(config.objective).objective_class())
    return {"dataset_size": config.subset} if "dataset_size" in names else {}
