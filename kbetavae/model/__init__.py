"""The BetaVAE model, its objectives and its networks."""

from kbetavae.model.networks import build_decoder, build_encoder
from kbetavae.model.objectives import OBJECTIVES, Objective, capacity_schedule, make_objective
from kbetavae.model.vae import BetaVAE, kl_divergence, normalised_beta

__all__ = [
    "OBJECTIVES",
    "BetaVAE",
    "Objective",
    "build_decoder",
    "build_encoder",
    "capacity_schedule",
    "kl_divergence",
    "make_objective",
    "normalised_beta",
]
