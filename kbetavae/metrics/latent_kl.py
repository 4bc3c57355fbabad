"""Per-latent KL with one definition for every output that shows it, and per β.

The number is ``kl_per_latent`` of ``metrics.json``: the mean over the evaluation sample
(``protocol.num_points`` images drawn from the whole factor grid with the run's seed) of
KL(q(z_i|x) ‖ N(0, 1)) in nats (a lower bound from Var(mu) when ``active_latents_method``
is ``mu_variance``), or ``heldout.kl_per_latent`` (the held-out ELBO's). Traversal figures,
the per-latent KL figure, the HTML report and the published report's table all show it,
labelled with N. (The traversal figure used to show the last epoch's training mean of
``history.csv`` — a running mean over the training subset while the weights change — and
``kbetavae traverse`` the KL of its single input image; neither matched metrics.json.)

Across a sweep, a latent's number is arbitrary across seeds (seed 0's z3 is not seed 1's
z3), so by default each run's latents are ranked by KL, largest first, before averaging:
entry j is "the j-th most used latent". ``order="index"`` keeps the numbering, which is
meaningful for one seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

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


def kl_caption(num_points: int, seed: int | None = None) -> str:
    """How the KL numbers were made, for a title or a table caption."""
    drawn = f"{num_points:,} grid images" + ("" if seed is None else f" (seed {seed})")
    return f"mean KL over {drawn}, nats"


def recorded_kl(record: Mapping) -> tuple[np.ndarray, int, int | None] | None:
    """``(kl_per_latent, num_points, seed)`` of a ``metrics.json`` record; None if it has
    no per-latent KL (an encoder without log-variances records Var(μ)/2 instead)."""
    if record.get("active_latents_method", "kl") != "kl" or "kl_per_latent" not in record:
        return None
    kl = np.asarray(record["kl_per_latent"], dtype=float)
    return kl, int(record["protocol"]["num_points"]), record.get("seed")


def sample_kl(
    encode: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]],
    data,
    num_points: int,
    seed: int,
) -> np.ndarray | None:
    """The per-latent KL of an encoder as ``kbetavae evaluate`` records it: the same
    sample for the same ``seed`` and ``num_points``, so the numbers equal metrics.json's.
    None when the encoder returns no log-variances."""
    from kbetavae.metrics import evaluate
    from kbetavae.metrics.protocol import Protocol

    # evaluate() draws the KL sample before any metric; Modularity is the cheapest one that
    # accepts any sample (MIG refuses a sample where a factor is constant). The other
    # samples are as small as a protocol allows: Modularity draws none of them.
    smallest = Protocol(num_points=num_points, num_test_points=1, num_train=1, num_eval=1)
    record = evaluate(encode, data, metrics=("modularity",), seed=seed, protocol=smallest)
    found = recorded_kl(record)
    return None if found is None else found[0]


class KLTable(NamedTuple):
    """β -> per-latent KL (mean over seeds), its caption, and the column labels.

    With one seed per β a column is a latent (``z0`` ...). With more, a latent's index
    means nothing across seeds (seed 0's z3 is not seed 1's), so each run's latents are
    ranked by KL before averaging and column j is "the j-th most used latent" (``#1`` ...).
    """

    values: dict[float, np.ndarray]
    caption: str
    labels: list[str]


def kl_table(records: Mapping[float, Sequence[Mapping]]) -> KLTable:
    """The per-latent KL table of a sweep; ``records`` maps β to the ``metrics.json``
    records of its finished seeds."""
    found = {
        beta: [(r, f) for r in records[beta] if (f := recorded_kl(r)) is not None]
        for beta in records
    }
    seeds = max((len(f) for f in found.values()), default=0)
    if not seeds:
        return KLTable({}, "", [])
    order = "rank" if seeds > 1 else "index"
    rows = kl_per_latent_by_beta(
        ((beta, record) for beta in found for record, _ in found[beta]), order=order
    )
    values = {row["beta"]: np.asarray(row["kl_per_latent"]) for row in rows}
    points = {n for pairs in found.values() for _, (_, n, _) in pairs}
    caption = (
        kl_caption(points.pop())
        if len(points) == 1
        else "mean KL over each run's evaluation sample, nats"
    )
    latents = max(len(v) for v in values.values())
    if order == "rank":
        caption += f"; latents ranked by KL within each run, then mean over up to {seeds} seeds"
        return KLTable(values, caption, [f"#{i + 1}" for i in range(latents)])
    return KLTable(values, caption, [f"z{i}" for i in range(latents)])
