"""Disentanglement metrics, pure numpy + scikit-learn (never TensorFlow).

The protocol is disentanglement_lib's (Locatello et al. 2019): MIG, Z-diff (the beta-VAE
score), Modularity, SAP, the FactorVAE score and DCI, each a function of arrays or of a
ground truth and a representation plus a seeded RNG, each returning a frozen result with
the score, the matrix behind it and ``to_dict()``. UDR (Duan et al. 2020) scores several
models at once (the seeds of a setting) from their codes, without factors. :func:`evaluate`
runs the others on an encoder; :mod:`~kbetavae.metrics.registry` is the one table that
names them all.
"""

from kbetavae.metrics import registry
from kbetavae.metrics.dci import DCIResult, dci
from kbetavae.metrics.discretize import histogram_discretize
from kbetavae.metrics.evaluate import evaluate, evaluate_many, metric_row
from kbetavae.metrics.factorvae import FactorVAEResult, factorvae_score
from kbetavae.metrics.inputs import kl_per_latent
from kbetavae.metrics.mig import MIGResult, mig, mig_from_mutual_info
from kbetavae.metrics.modularity import ModularityResult, modularity, modularity_from_mutual_info
from kbetavae.metrics.mutual_info import (
    code_factor_mutual_info,
    factor_entropies,
    mutual_info_matrix,
)
from kbetavae.metrics.protocol import Protocol
from kbetavae.metrics.representation import CodeTable, factor_encoder, sample_codes
from kbetavae.metrics.sap import SAPResult, sap
from kbetavae.metrics.udr import UDRResult, udr
from kbetavae.metrics.zdiff import ZDiffResult, zdiff

__all__ = [
    "CodeTable",
    "DCIResult",
    "FactorVAEResult",
    "MIGResult",
    "ModularityResult",
    "Protocol",
    "SAPResult",
    "UDRResult",
    "ZDiffResult",
    "code_factor_mutual_info",
    "dci",
    "evaluate",
    "evaluate_many",
    "factor_encoder",
    "factor_entropies",
    "factorvae_score",
    "histogram_discretize",
    "kl_per_latent",
    "metric_row",
    "mig",
    "mig_from_mutual_info",
    "modularity",
    "modularity_from_mutual_info",
    "mutual_info_matrix",
    "registry",
    "sample_codes",
    "sap",
    "udr",
    "zdiff",
]
