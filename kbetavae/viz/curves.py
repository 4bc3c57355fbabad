"""Loss curves per epoch for every β: KL, reconstruction and total loss."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from kbetavae.viz.axes import epoch_axis
from kbetavae.viz.figures import plt
from kbetavae.viz.palette import beta_colors, beta_label

CURVE_TITLES = {
    "kl": "KL divergence per epoch",
    "reconstruction": "Reconstruction loss (Bernoulli, summed over pixels) per epoch",
    "loss": "Total loss per epoch",
}
CURVE_UNITS = {"kl": "KL (nats / image)", "reconstruction": "nats / image", "loss": "nats / image"}


def loss_curves(
    histories: Mapping[float, Sequence[Mapping[str, Sequence[float]]]],
    key: str,
    colors: Mapping[float, tuple] | None = None,
) -> plt.Figure:
    """One line per β of ``key`` per epoch; with several seeds, the mean and a min–max band.

    ``histories`` maps β to one history per seed, each a mapping of column -> values per
    epoch (as ``history.csv`` holds them).
    """
    colors = colors or beta_colors(histories)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    longest, seeds = 0, set()
    for beta in sorted(histories):
        runs = [np.asarray(h[key], dtype=float) for h in histories[beta] if len(h.get(key, []))]
        if not runs:
            continue
        epochs = min(len(r) for r in runs)
        values = np.stack([r[:epochs] for r in runs])
        longest = max(longest, epochs)
        seeds.add(len(runs))
        x = np.arange(1, epochs + 1)
        ax.plot(
            x,
            values.mean(axis=0),
            marker="o",
            ms=3 if epochs > 1 else 7,  # one epoch is one point: make it visible
            color=colors[beta],
            label=beta_label(beta),
        )
        if len(runs) > 1:
            ax.fill_between(
                x,
                values.min(axis=0),
                values.max(axis=0),
                color=colors[beta],
                alpha=0.2,
                linewidth=0,
            )
    epoch_axis(ax, longest)
    ax.set_ylabel(CURVE_UNITS.get(key, key))
    ax.set_title(f"{CURVE_TITLES.get(key, key)}\n({_seeds_caption(seeds)})", fontsize=10)
    # Large β drives KL towards 0 while small β keeps it in the tens: a linear axis would
    # flatten the small curves. Within one decade a log axis would show no ticks at all.
    if key == "kl" and _spans_decades(ax):
        ax.set_yscale("symlog", linthresh=1.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncols=2)
    fig.tight_layout()
    return fig


def _seeds_caption(counts: set[int]) -> str:
    if counts <= {1}:
        return "one seed per β"
    low, high = min(counts), max(counts)
    n = f"{low}" if low == high else f"{low}–{high}"
    return f"mean over {n} seeds per β, band: min–max"


def _spans_decades(ax) -> bool:
    """Whether the plotted values reach more than ten times max(smallest, 1 nat)."""
    lines = [np.asarray(line.get_ydata(), float) for line in ax.get_lines()]
    values = np.abs(np.concatenate(lines)) if lines else np.array([])
    values = values[np.isfinite(values)]
    return values.size > 0 and values.max() > 10 * max(values.min(), 1.0)
