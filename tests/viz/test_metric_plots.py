"""Metrics against β say what their points are, and draw bars only over several seeds
(issue 11: no figure may claim "mean ± sd" or draw bars for one seed)."""

import matplotlib.text
import numpy as np
import pytest
from matplotlib.container import ErrorbarContainer

from kbetavae.viz.curves import loss_curves
from kbetavae.viz.figures import plt
from kbetavae.viz.kl_heatmap import kl_heatmap
from kbetavae.viz.matrices import metric_matrices
from kbetavae.viz.metric_plots import metrics_vs_beta
from kbetavae.viz.summary import summary_rows

BETAS = (0.5, 1.0, 7.5, 10.0)
METRICS = ("mig", "zdiff", "modularity")


def _rows(seeds: int) -> list[dict]:
    rng = np.random.default_rng(0)
    return [
        {"beta": b, "seed": s, "status": "done", **{m: float(rng.random()) for m in METRICS}}
        for b in BETAS
        for s in range(seeds)
    ]


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]


def _bars(ax) -> list[ErrorbarContainer]:
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def test_one_seed_says_one_seed_and_draws_no_error_bars():
    fig = metrics_vs_beta(_rows(1), METRICS)
    assert "one seed" in fig._suptitle.get_text()
    for ax in fig.axes:
        assert _bars(ax) == []
        assert len(ax.collections) == 0  # errorbar's LineCollections
    plt.close(fig)


@pytest.mark.parametrize("seeds", [2, 3])
def test_several_seeds_draw_the_t_interval_and_say_so(seeds):
    rows = _rows(seeds)
    fig = metrics_vs_beta(rows, METRICS)
    title = fig._suptitle.get_text()
    assert f"mean and 95 % t interval over {seeds} seeds" in title
    summaries = {s["beta"]: s["stats"] for s in summary_rows(rows, METRICS)}
    for ax, key in zip(fig.axes, METRICS, strict=True):
        bars = _bars(ax)
        assert len(bars) == len(BETAS)
        for beta, bar in zip(BETAS, bars, strict=True):
            (segments,) = [c.get_segments() for c in bar.lines[2]]
            (_, low), (_, high) = segments[0]
            assert np.isclose(low, summaries[beta][key].low)
            assert np.isclose(high, summaries[beta][key].high)
    plt.close(fig)


def test_a_beta_with_one_seed_among_several_gets_no_bar_and_the_title_says_so():
    rows = [r for r in _rows(2) if not (r["beta"] == 10.0 and r["seed"] == 1)]
    fig = metrics_vs_beta(rows, METRICS)
    assert "a β with one seed: its value, no bar" in fig._suptitle.get_text()
    for ax in fig.axes:
        assert len(_bars(ax)) == len(BETAS) - 1
    plt.close(fig)


def test_every_beta_colour_has_a_legend_entry():
    fig = metrics_vs_beta(_rows(1), METRICS)
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == ["β = 0.5", "β = 1 (baseline)", "β = 7.5", "β = 10", "baseline VAE (β = 1)"]
    plt.close(fig)


@pytest.mark.parametrize("seeds", [1, 3])
def test_no_figure_claims_mean_plus_minus_sd(seeds):
    histories = {b: [{"kl": [3.0, 2.0], "loss": [9.0, 8.0]}] * seeds for b in BETAS}
    record = {
        "mig": {"matrix": np.full((3, 5), 0.2).tolist()},
        "zdiff": {"matrix": np.full((3, 5), 0.003).tolist()},
    }
    figures = [
        metrics_vs_beta(_rows(seeds), METRICS),
        loss_curves(histories, "kl"),
        loss_curves(histories, "loss"),
        kl_heatmap({b: np.linspace(0.001, 3, 4) for b in BETAS}, "mean KL over 200 grid images"),
        metric_matrices(record, "β = 1"),
    ]
    for fig in figures:
        for text in _texts(fig):
            assert "±" not in text and "sd" not in text.split(), text
        plt.close(fig)


def test_loss_curves_say_one_seed_or_the_mean_and_band_over_seeds():
    one = loss_curves({1.0: [{"kl": [3.0, 2.0]}]}, "kl")
    many = loss_curves({1.0: [{"kl": [3.0, 2.0]}, {"kl": [4.0, 1.0]}]}, "kl")
    assert "one seed per β" in one.axes[0].get_title()
    assert "mean over 2 seeds per β, band: min–max" in many.axes[0].get_title()
    plt.close(one)
    plt.close(many)


def test_a_one_epoch_curve_is_a_visible_marker_at_epoch_one():
    fig = loss_curves({1.0: [{"kl": [3.0]}], 4.0: [{"kl": [2.0]}]}, "kl")
    ax = fig.axes[0]
    assert list(ax.get_xticks()) == [1]
    assert ax.get_xlim() == (0.5, 1.5)
    for line in ax.get_lines():
        assert line.get_marker() == "o" and line.get_markersize() >= 6
    assert ax.get_yscale() == "linear"  # a log axis over 2..3 nats shows no ticks
    plt.close(fig)


def test_kl_curves_spanning_decades_use_a_log_axis():
    fig = loss_curves({0.5: [{"kl": [40.0, 30.0]}], 50.0: [{"kl": [0.5, 0.3]}]}, "kl")
    assert fig.axes[0].get_yscale() == "symlog"
    plt.close(fig)


def test_zdiff_matrix_cells_show_their_values_not_zeros():
    matrix = np.array([[0.0031, 0.0012], [0.0004, 0.0027]])
    fig = metric_matrices({"zdiff": {"matrix": matrix.tolist()}}, "β = 4", ("a", "b"))
    cells = [t.get_text() for t in fig.axes[0].texts]
    assert cells == ["0.0031", "0.0012", "0.0004", "0.0027"]
    plt.close(fig)


def test_float_noise_around_a_floor_is_not_magnified_into_a_trend():
    """A collapsed sweep: MIG 0, 0 and 4e-5. Matplotlib alone would span about 4e-5; the
    axis spans at least 0.1 score units and starts near 0, so the points lie flat."""
    rows = [
        {"beta": b, "seed": 0, "status": "done", "mig": m} for b, m in ((1, 0), (10, 0), (50, 4e-5))
    ]
    fig = metrics_vs_beta(rows, ("mig",))
    low, high = fig.axes[0].get_ylim()
    assert high - low == pytest.approx(0.1) and -0.01 < low <= 0
    plt.close(fig)
    spread = metrics_vs_beta(_rows(1), METRICS)  # scores over [0, 1): left as matplotlib sets them
    assert all(ax.get_ylim()[1] - ax.get_ylim()[0] > 0.1 for ax in spread.axes[:3])
    plt.close(spread)


def test_many_metrics_wrap_into_rows_of_four_panels():
    # All six metrics give nine score columns: three rows, the last with one panel.
    nine = ("mig", "zdiff", "modularity", "modularity_active", "sap", "factorvae")
    nine += ("dci_disentanglement", "dci_completeness", "dci_informativeness")
    rng = np.random.default_rng(1)
    rows = [
        {"beta": b, "seed": s, "status": "done", **{m: float(rng.random()) for m in nine}}
        for b in BETAS
        for s in range(3)
    ]
    fig = metrics_vs_beta(rows, nine)
    assert len(fig.axes) == 9
    columns = sorted({round(ax.get_position().x0, 3) for ax in fig.axes})
    rows_of_panels = sorted({round(ax.get_position().y0, 3) for ax in fig.axes})
    assert (len(columns), len(rows_of_panels)) == (4, 3)
    assert fig.get_size_inches()[0] == pytest.approx(4 * 4.6)
    plt.close(fig)
