"""How the loss is scaled: the reconstruction's reduction and the normalised β.

Pure Python (no TensorFlow), so configs and tables can use it.
"""

from __future__ import annotations

from kbetavae.errors import InputError
from kbetavae.validation import check_int, check_latent_dim, check_weight

# The Bernoulli log-likelihood summed over pixels (the papers') or averaged over them.
RECONSTRUCTIONS: tuple[str, ...] = ("sum", "mean")


def normalised_beta(beta: float, latent_dim: int, pixels: int, reconstruction: str = "sum"):
    """β on the scale of Higgins et al. (2017): β_norm = β·M/N for M latents, N pixels.

    The paper normalises β by the input size because the reconstruction term of its loss
    is the log-likelihood summed over the N pixels. With ``reconstruction="sum"`` that is
    our loss, so β_norm = β·z/pixels. With ``"mean"`` the reconstruction is divided by N;
    multiplying the loss by N gives the summed form with weight N·β, so
    β_norm = N·β·z/N = β·z.

    Example:
        >>> normalised_beta(4.0, 10, 4096), normalised_beta(4.0, 10, 4096, "mean")
        (0.009765625, 40.0)
    """
    check_weight("beta", beta)
    check_latent_dim(latent_dim)
    check_int("pixels", pixels, minimum=1)
    if reconstruction not in RECONSTRUCTIONS:
        raise InputError(f"reconstruction must be one of {RECONSTRUCTIONS}, got {reconstruction!r}")
    scale = latent_dim / pixels if reconstruction == "sum" else latent_dim
    return float(beta) * scale
