"""Results rows for the statistics tests: one ``mig`` value per (β, seed)."""

from __future__ import annotations


def rows(values_by_beta: dict[float, list[float]]) -> list[dict]:
    """Finished rows, seeds numbered 0, 1, … in the order of each β's values."""
    return [
        {"beta": beta, "seed": seed, "status": "done", "mig": value}
        for beta, values in values_by_beta.items()
        for seed, value in enumerate(values)
    ]
