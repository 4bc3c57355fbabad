"""The dSprites family: named datasets over a base source, one table of them.

``dsprites`` is the base source's binary images as they are. Each variant is a module with
a ``Transform`` class (called on binary masks and a random generator, it returns float32
observations in [0, 1]) and one entry here; the transformations, and the order in which
they draw random numbers, are disentanglement_lib 1.5's (Locatello et al. 2019):

* ``color-dsprites``: the sprite in a random colour, each channel uniform in [0.5, 1];
* ``noisy-dsprites``: the white sprite over uniform [0, 1] RGB noise;
* ``scream-dsprites``: the background a random 64×64 crop of a painting, colour-shifted,
  the sprite inverted over it (the painting: see :mod:`kbetavae.data.variants.scream`).

Facts a run needs before it opens any data (the image shape, whether pixels are binary)
are in the entries, so configs and the CLI never import the transformations.
Adding a variant: a module with ``Transform`` and one entry in ``VARIANTS``.
"""

from __future__ import annotations

import dataclasses
import importlib

from kbetavae.data import factors as grid
from kbetavae.errors import InputError

PLAIN = "dsprites"


@dataclasses.dataclass(frozen=True)
class VariantEntry:
    """One variant: the module holding its ``Transform``, its channels, and the keyword
    options its ``Transform`` takes (each also a ``TrainConfig`` field and a CLI flag)."""

    module: str
    channels: int = 3
    options: tuple[str, ...] = ()


VARIANTS: dict[str, VariantEntry] = {
    "color-dsprites": VariantEntry("kbetavae.data.variants.color"),
    "noisy-dsprites": VariantEntry("kbetavae.data.variants.noisy"),
    "scream-dsprites": VariantEntry("kbetavae.data.variants.scream", options=("painting",)),
}
DATA_NAMES: tuple[str, ...] = (PLAIN, *VARIANTS)


def check_data(name: str, **options) -> str:
    """``name`` if it names a dataset of the family and ``options`` (None = unset) are ones
    it takes, else InputError naming the choices."""
    names = (PLAIN, *VARIANTS)  # read now: an entry added at run time counts
    if not isinstance(name, str) or name not in names:
        raise InputError(f"data must be one of {', '.join(names)}, got {name!r}")
    accepted = VARIANTS[name].options if name in VARIANTS else ()
    for option, value in options.items():
        if value is not None and option not in accepted:
            takers = [n for n, e in VARIANTS.items() if option in e.options]
            raise InputError(f"{option} applies to {' and '.join(takers)} only, not {name}")
    return name


def image_shape(name: str) -> tuple[int, int, int]:
    """The observation shape of dataset ``name`` over a dSprites base source."""
    check_data(name)
    if name == PLAIN:
        return grid.IMAGE_SHAPE
    return (*grid.IMAGE_SHAPE[:2], VARIANTS[name].channels)


def is_binary(name: str) -> bool:
    """Whether dataset ``name`` has binary pixels (only the plain images do)."""
    return check_data(name) == PLAIN


def make_variant(name: str, base, **options):
    """The variant ``name`` over the ground truth ``base`` (options: see its entry)."""
    from kbetavae.data.variants.variant import Variant

    check_data(name, **options)
    if name == PLAIN:
        return base
    entry = VARIANTS[name]
    module = importlib.import_module(entry.module)
    kwargs = {k: v for k, v in options.items() if k in entry.options}
    return Variant(base, module.Transform(**kwargs), name)
