"""The loss in words, per objective, for reports: pure Python (a report never starts
TensorFlow). Each sentence is the regulariser of its class in
:mod:`kbetavae.model.objectives`, named as its paper names it.

Example:
    >>> loss_sentence("beta", {}, "sum", 4096)
    'Bernoulli reconstruction summed over 4096 pixels plus β · KL(q(z|x) ‖ N(0, I)) summed over latents (β-VAE, Higgins et al. 2017)'
"""  # noqa: E501 - a doctest line

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KL = "KL(q(z|x) ‖ N(0, I))"
DIP_PENALTY = "λ_od · Σ_{{i≠j}} {cov}_ij² + λ_d · Σ_i ({cov}_ii − 1)²"

# objective name -> its regulariser; btcvae has one per ``form``.
REGULARISERS: dict[str, str] = {
    "beta": f"β · {KL} summed over latents (β-VAE, Higgins et al. 2017)",
    "capacity": (
        f"γ · |{KL} − C|, the capacity C raised linearly from C_min to C_max (Burgess et al. 2018)"
    ),
    "btcvae": (
        "α · MI + β · TC + γ · dimension-wise KL, each a minibatch estimate "
        "(β-TCVAE, Chen et al. 2018, eq. 4)"
    ),
    "dipvae_i": f"{KL} + {DIP_PENALTY.format(cov='Cov[μ]')} (DIP-VAE-I, Kumar et al. 2018)",
    "dipvae_ii": (
        f"{KL} + {DIP_PENALTY.format(cov='Cov[z]')}, Cov[z] = E[Σ] + Cov[μ] "
        "(DIP-VAE-II, Kumar et al. 2018)"
    ),
    "factorvae": f"{KL} + γ · TC, TC from a discriminator (FactorVAE, Kim & Mnih 2018)",
}
BTCVAE_DISENTANGLEMENT_LIB = (
    f"{KL} + (β − 1) · TC, TC a minibatch estimate (β-TCVAE as disentanglement_lib has it)"
)


def regulariser_text(objective: str, objective_args: Mapping[str, Any]) -> str:
    """What ``objective`` adds to the reconstruction term, with its settings."""
    if objective == "btcvae" and objective_args.get("form") == "disentanglement_lib":
        text = BTCVAE_DISENTANGLEMENT_LIB
    else:
        text = REGULARISERS.get(objective, f"the {objective} objective's regulariser")
    settings = ", ".join(f"{k} = {v}" for k, v in sorted(objective_args.items()))
    return f"{text}; {settings}" if settings else text


def loss_sentence(
    objective: str, objective_args: Mapping[str, Any], reconstruction: str, pixels: int
) -> str:
    """The loss per image: the reconstruction term and the objective's regulariser."""
    reduction = "summed over" if reconstruction == "sum" else "averaged over"
    return (
        f"Bernoulli reconstruction {reduction} {pixels} pixels plus "
        f"{regulariser_text(objective, objective_args)}"
    )
