"""Per-latent KL across a sweep: for each β, the mean KL of every latent over its seeds.

The per-run numbers come from ``metrics.json``: ``kl_per_latent`` (evaluate's, over the
10,000 grid points of MIG; a lower bound from Var(mu) when ``active_latents_method`` is
``mu_variance``) or ``heldout.kl_per_latent`` (the held-out ELBO's). A latent's number is
arbitrary across seeds (seed 0's z3 is not seed 1's z3), so by default each run's latents
are ranked by KL, largest first, before averaging: entry j is "the j-th most used latent".
``order="index"`` keeps the numbering, which is meaningful for one seed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from kbetavae.errors import InputError

SOURCES = ("points", "heldout")
ORDERS = ("rank", "index")


def run_kl_per_latent(record: Mapping[str, Any], source: str = "points") -> np.ndarray | None:
    """A ``metrics.json`` record's per-latent KL (z,), or None if it has none."""
    if source not in SOURCES:
        raise InputError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    values = (
        record.get("kl_per_latent")
        if source == "points"
        else (record.get("heldout") or {}).get("kl_per_latent")
    )
    return None if values is None else np.asarray(values, dtype=np.float64)


def kl_per_latent_by_beta(
    runs: Iterable[tuple[float, Mapping[str, Any]]],
    source: str = "points",
    order: str = "rank",
) -> list[dict[str, Any]]:
    """Per β (ascending): ``{"beta", "n", "kl_per_latent", "sd_per_latent", "order",
    "source"}`` from ``(β, metrics.json record)`` pairs.

    ``kl_per_latent`` is the mean over the β's runs (z,), ``sd_per_latent`` their sample
    sd (None with one run). Runs without the numbers are skipped.

    Example:
        >>> rows = kl_per_latent_by_beta([(4.0, {"kl_per_latent": [0.1, 2.0]}),
        ...                               (4.0, {"kl_per_latent": [3.0, 0.0]})])
        >>> rows[0]["kl_per_latent"]
        [2.5, 0.05]
    """
    if order not in ORDERS:
        raise InputError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
    by_beta: dict[float, list[np.ndarray]] = {}
    for beta, record in runs:
        kl = run_kl_per_latent(record, source)
        if kl is None:
            continue
        by_beta.setdefault(float(beta), []).append(np.sort(kl)[::-1] if order == "rank" else kl)
    rows = []
    for beta in sorted(by_beta):
        widths = {kl.shape for kl in by_beta[beta]}
        if len(widths) != 1:
            raise InputError(f"the runs of β = {beta:g} have different numbers of latents")
        stacked = np.stack(by_beta[beta])
        rows.append(
            {
                "beta": beta,
                "n": len(stacked),
                "kl_per_latent": stacked.mean(axis=0).tolist(),
                "sd_per_latent": stacked.std(axis=0, ddof=1).tolist() if len(stacked) > 1 else None,
                "order": order,
                "source": source,
            }
        )
    return rows
