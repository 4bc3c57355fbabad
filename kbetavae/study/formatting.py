"""Numbers as the reports' tables print them: fixed decimals without "-0.00", intervals,
ranges and p-values."""

from __future__ import annotations

from collections.abc import Sequence


def format_fixed(value: float, digits: int) -> str:
    """``value`` with ``digits`` decimals as the tables print it, never "-0.00": float noise
    around zero (a collapsed run's KL of −2e-9 nats) would read as a negative number."""
    return f"{round(value, digits) + 0.0:.{digits}f}"


def format_interval(low: float, high: float, digits: int, signed: bool = False) -> str:
    """``[low, high]`` with ``digits`` decimals (each with its sign if ``signed``)."""
    show = (lambda v: format_signed(v, digits)) if signed else (lambda v: format_fixed(v, digits))
    return f"[{show(low)}, {show(high)}]"


def format_range(values: Sequence[float], digits: int = 3) -> str:
    """``min–max`` of ``values`` (one value alone; "—" for none), as the tables print it.

    Example:
        >>> format_range([0.3, 0.1, 0.2]), format_range([0.4]), format_range([])
        ('0.100–0.300', '0.400', '—')
    """
    if not len(values):
        return "—"
    low, high = format_fixed(min(values), digits), format_fixed(max(values), digits)
    return low if len(values) == 1 else f"{low}–{high}"


def format_signed(value: float, digits: int) -> str:
    """``value`` as :func:`format_fixed` prints it, with its sign ("+0.12")."""
    text = format_fixed(value, digits)
    return text if text.startswith("-") else f"+{text}"


def format_p(p: float) -> str:
    """A p-value as the reports print it: three decimals, "< 0.001" below that."""
    return "< 0.001" if p < 0.0005 else f"{p:.3f}"


def table_head(columns: Sequence[str]) -> list[str]:
    """The first two lines of a markdown table with ``columns``."""
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
