"""The grid's figures: each metric against each method's weight, UDR against the metrics."""

from __future__ import annotations

from kbetavae.viz.figures import plt
from kbetavae.viz.method_plots import metrics_vs_weight


def row(objective: str, weight: float, seed: int, mig: float) -> dict:
    setting = f"beta={weight:g}" if objective == "beta" else f"{objective}_beta={weight:g}"
    return {"setting": setting, "objective": objective, "weight": weight, "beta": weight,
            "seed": seed, "status": "done", "mig": mig}  # fmt: skip


def test_a_panel_per_method_and_the_title_says_which_points_have_no_bar():
    rows = [row("beta", 1.0, s, 0.1 + s / 10) for s in range(3)]
    rows += [row("btcvae", 6.0, 0, 0.3)]  # one seed so far
    fig = metrics_vs_weight(rows, ["mig"])
    try:
        assert [ax.get_title() for ax in fig.axes] == ["β-VAE", "β-TCVAE"]
        title = fig._suptitle.get_text()
        assert "95 % t interval over 3 seeds where n > 1" in title
        assert "a setting with one seed: its value, no bar" in title
        # the β-VAE point has its interval's bar, the one-seed β-TCVAE point none
        bars = [len(ax.collections) for ax in fig.axes]
        assert bars[0] > bars[1]
    finally:
        plt.close(fig)
