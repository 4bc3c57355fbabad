"""The training options ``kbetavae train`` and ``kbetavae sweep`` share, defined once.

Each option's default is ``TrainConfig``'s (the one list of training settings), so the CLI
never restates a default; :func:`train_config` turns the parsed values into a config. The
commands' other options read theirs from the library too (``SweepPlan``'s, the sweep's,
the traversal's; tests/cli/test_defaults_cli.py).
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import whole_number
from kbetavae.data.variants import DATA_NAMES
from kbetavae.errors import InputError
from kbetavae.metrics.protocol import FULL_POINTS, MIN_EVAL_POINTS
from kbetavae.model import catalog
from kbetavae.training.config import TrainConfig
from kbetavae.training.precision import precision_warning

DEFAULTS = TrainConfig()

Epochs = Annotated[
    int, typer.Option("--epochs", parser=whole_number, help="passes over the training subset")
]
BatchSize = Annotated[
    int, typer.Option("--batch-size", parser=whole_number, help="global batch size")
]
LearningRate = Annotated[float, typer.Option("--lr", help="Adam learning rate")]
LatentDim = Annotated[
    int, typer.Option("--latent-dim", parser=whole_number, help="number of latents z")
]
_OBJECTIVE_NAMES = ", ".join(catalog.names())
Objective = Annotated[
    str,
    typer.Option(
        "--objective",
        help=f"one of {_OBJECTIVE_NAMES} (beta: β·KL); its other parameters go in --objective-args",
    ),
]
ObjectiveGrid = Annotated[
    list[str] | None,
    typer.Option(
        "--objective",
        metavar="NAME:W1,W2",
        help=f"repeatable NAME:W1,W2 (e.g. btcvae:1,4,10): that objective at each value of its "
        f"main weight, for every seed; NAME alone (one of {_OBJECTIVE_NAMES}) sweeps --betas "
        "with it as before",
    ),
]
TraverseBeta = Annotated[
    float | None,
    typer.Option(
        "--traverse-beta",
        help="β whose traversal figure is drawn (default: the finished β nearest 5)",
    ),
]
ObjectiveArgs = Annotated[
    str,
    typer.Option(
        "--objective-args",
        help="the objective's other parameters as name=value pairs, e.g. "
        "gamma=1000,capacity_max=25 (defaults: the objective's)",
    ),
]
Reconstruction = Annotated[
    str,
    typer.Option(
        "--reconstruction",
        help="Bernoulli log-likelihood summed (the study's) or averaged over pixels",
    ),
]
Subset = Annotated[
    int,
    typer.Option("--subset", parser=whole_number, help="training images (seeded random subset)"),
]
Source = Annotated[str, typer.Option("--source", help="replica, dsprites, or a .npz/.hdf5 path")]
EvalPoints = Annotated[
    int,
    typer.Option(
        "--eval-points",
        parser=whole_number,
        help="metric sample size: points of MIG/Modularity and Z-diff/FactorVAE training votes; "
        "test points, evaluation votes and held-out ELBO images are half (at most 5,000) "
        f"(protocol: {FULL_POINTS:,}; at least {MIN_EVAL_POINTS}); less is faster",
    ),
]
Data = Annotated[
    str,
    typer.Option(
        "--data",
        help="dsprites (binary) or a variant drawn over --source: "
        + ", ".join(DATA_NAMES[1:])
        + " (3-channel, random per observation as in disentanglement_lib)",
    ),
]
Painting = Annotated[
    str | None,
    typer.Option(
        "--painting",
        help="scream-dsprites' background image (disentanglement_lib: Munch's The Scream; "
        "default: matplotlib's sample photo of Grace Hopper, offline)",
    ),
]
# A trained model's data, for evaluate and traverse: none given means the run's own.
RunSource = Annotated[
    str | None,
    typer.Option(
        "--source", help="replica, dsprites or a .npz/.hdf5 file (default: the run's, else replica)"
    ),
]
RunData = Annotated[
    str | None,
    typer.Option("--data", help="dsprites or a variant (default: the run's, else dsprites)"),
]
RunPainting = Annotated[
    str | None,
    typer.Option("--painting", help="scream-dsprites' image (default: the run's, else offline)"),
]
CodeCache = Annotated[
    str | None,
    typer.Option(
        "--code-cache",
        help="directory where each encoder archive's codes are kept as they are encoded "
        "(59 MB an archive): run again, or scored by another command, it encodes nothing "
        "kept there",
    ),
]
ZdiffClassifier = Annotated[
    str,
    typer.Option(
        "--zdiff-classifier",
        help="Z-diff's classifier: lbfgs (multinomial; today's scikit-learn default) or "
        "liblinear_ovr (one-vs-rest liblinear, disentanglement_lib's era)",
    ),
]
Precision = Annotated[
    str,
    typer.Option(
        "--precision",
        help="float32, mixed_bfloat16, or auto (bf16 where the CPU or a GPU has it natively)",
    ),
]


def comma_list(text: str | None) -> list[str] | None:
    """The stripped, non-empty items of a comma-separated option (None if not given)."""
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


def parse_objective_args(text: str, option: str = "--objective-args") -> dict[str, float]:
    """``"gamma=1000,capacity_max=25"`` as ``{"gamma": 1000.0, "capacity_max": 25.0}``
    (integers stay integers); InputError naming the bad pair."""
    values: dict[str, float] = {}
    for item in comma_list(text):
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or not key or number is None:
            raise InputError(
                f"{option}: expected name=number pairs such as gamma=1000, got {item!r}"
            )
        values[key] = int(number) if number.is_integer() and "." not in value else number
    return values


def train_config(**values) -> TrainConfig:
    """A ``TrainConfig`` of parsed option values; ``objective_args`` may be a string."""
    if isinstance(values.get("objective_args"), str):
        values["objective_args"] = parse_objective_args(values["objective_args"])
    config = TrainConfig(**values)
    warn_about_precision(config.precision)
    return config


def warn_about_precision(precision: str) -> None:
    """Print the one-line warning that ``precision`` is slow on this machine, if it is."""
    warning = precision_warning(precision)
    if warning:
        typer.echo(warning, err=True)
