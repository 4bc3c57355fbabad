"""The BetaVAE model, its objectives and its networks."""

from kbetavae.model.networks import build_decoder, build_encoder
from kbetavae.model.vae import BetaVAE, capacity_schedule, kl_divergence

__all__ = ["BetaVAE", "build_decoder", "build_encoder", "capacity_schedule", "kl_divergence"]
