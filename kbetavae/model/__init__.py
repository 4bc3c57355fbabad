"""The BetaVAE model, its objectives and its networks.

Loaded on first use: :mod:`kbetavae.model.scale` (the loss's scale, pure Python) is read by
configs that must not start TensorFlow.
"""

import importlib

_LAZY = {
    "build_decoder": "kbetavae.model.networks",
    "build_encoder": "kbetavae.model.networks",
    "OBJECTIVES": "kbetavae.model.objectives",
    "Objective": "kbetavae.model.objectives",
    "capacity_schedule": "kbetavae.model.objectives",
    "make_objective": "kbetavae.model.objectives",
    "BetaVAE": "kbetavae.model.vae",
    "kl_divergence": "kbetavae.model.vae",
    "normalised_beta": "kbetavae.model.scale",
    "RECONSTRUCTIONS": "kbetavae.model.scale",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kbetavae.model' has no attribute {name!r}")
