"""Number and axis formatting: β ticks that do not collide, cells that show their values."""

import numpy as np

from kbetavae.viz.axes import beta_axis, beta_ticks, cell_format, significant
from kbetavae.viz.figures import plt


def test_close_betas_get_their_labels_on_alternate_lines():
    labels = beta_ticks([0.5, 1, 2.5, 5, 7.5, 10, 50])
    assert labels == ["0.5", "1", "2.5", "5", "\n7.5", "10", "50"]


def test_beta_tick_labels_do_not_overlap_when_drawn():
    fig, ax = plt.subplots(figsize=(4.6, 4))  # one panel of metrics_vs_beta
    betas = [0.5, 1, 2.5, 5, 7.5, 10, 50]
    ax.plot(betas, np.arange(len(betas)), "o")
    beta_axis(ax, betas)
    fig.canvas.draw()
    boxes = [label.get_window_extent() for label in ax.get_xticklabels()]
    for left, right in zip(boxes[:-1], boxes[1:], strict=True):
        assert not left.overlaps(right), (left, right)
    plt.close(fig)


def test_cell_format_keeps_two_significant_digits_of_the_largest_value():
    assert format(0.0036, cell_format(np.array([[0.0036, 0.0001]]))) == "0.0036"
    assert format(0.043, cell_format(np.array([[0.043]]))) == "0.043"
    assert format(0.5, cell_format(np.array([[0.5]]))) == "0.50"
    assert format(3.2, cell_format(np.array([[3.2]]))) == "3.20"
    assert "e" in cell_format(np.array([[2e-5]]))


def test_significant_shows_small_kl_values_instead_of_zero():
    assert significant(0.00091) == "0.00091"
    assert significant(12.34) == "12"
    assert significant(float("nan")) == "—"
