"""Traversal figures: rows labelled with the KL they are given, and what that KL is."""

import numpy as np

from kbetavae.viz.figures import plt
from kbetavae.viz.traversals import traversal_figure


def test_row_labels_show_small_kl_values_and_the_title_says_what_they_are():
    images = np.zeros((3, 4, 64, 64))
    values = np.linspace(-3, 3, 4)
    kl = [12.3, 0.11, 0.00091]
    fig = traversal_figure(images, values, kl, "T", kl_caption="mean KL over 200 grid images")
    labels = [fig.axes[r * 4].get_ylabel() for r in range(3)]
    assert labels == ["z0\nKL 12", "z1\nKL 0.11", "z2\nKL 0.00091"]
    assert fig._suptitle.get_text() == "T\nrow labels: mean KL over 200 grid images"
    plt.close(fig)
