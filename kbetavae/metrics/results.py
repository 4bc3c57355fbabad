"""What every metric returns: a frozen dataclass with the score, its matrix and details.

``to_dict()`` turns numpy arrays and scalars into plain lists and numbers so that a result
can go straight into ``metrics.json``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """``value`` with numpy arrays, numpy scalars and tuples turned into JSON types."""
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return value.to_dict() if hasattr(value, "to_dict") else jsonable(vars(value))
    return value


@dataclasses.dataclass(frozen=True)
class MetricResult:
    """Base of the metric results: ``score`` plus the fields each metric adds."""

    score: float

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON types (arrays become nested lists; a non-finite float, None)."""
        return {f.name: jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}
