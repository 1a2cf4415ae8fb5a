"""Lecture 4's figure helpers draw what they are given, on the Agg backend."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from utils.figures import architectures as figs  # noqa: E402


def _rectangles(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_yolo_decoding_draws_a_cell_an_anchor_and_a_box_per_prediction():
    cells = np.array([[4, 3], [8, 9]])
    anchors = np.array([[112.0, 144, 116, 90], [304, 272, 156, 198]])
    boxes = np.array([[115.0, 141, 142, 100], [300, 277, 128, 267]])
    fig = figs.plot_yolo_decoding(416, 13, cells, anchors, boxes, labels=["a", "b"])
    ax = fig.axes[0]
    rects = _rectangles(ax)
    assert len(rects) == 3 * len(cells)
    # the shaded cell of the first prediction is the 32 x 32 square at column 3, row 4
    assert rects[0].get_xy() == (96.0, 128.0) and rects[0].get_width() == 32.0
    # boxes are drawn from their centre and size: (cx - w / 2, cy - h / 2)
    x, y = rects[2].get_xy()
    assert np.isclose(x, 115 - 71) and np.isclose(y, 141 - 50)
    assert rects[1].get_linestyle() == "--" and rects[2].get_linestyle() == "-"
    assert [t.get_text().strip() for t in ax.texts] == ["a", "b"]
    assert ax.get_ylim() == (416.0, 0.0)
    plt.close(fig)


def test_precision_recall_shades_the_interpolated_curve():
    recall = [0.25, 0.25, 0.5, 0.75, 0.75]
    precision = [1.0, 0.5, 2 / 3, 0.75, 0.6]
    interpolated = [1.0, 0.75, 0.75, 0.75, 0.6]
    fig = figs.plot_precision_recall(recall, precision, interpolated, 0.625)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("0.6250" in label for label in labels)
    measured = [line for line in ax.lines if line.get_linestyle() == ":"]
    assert len(measured) == 1 and np.allclose(measured[0].get_ydata(), precision)
    assert [t.get_text() for t in ax.texts] == ["1", "2", "3", "4", "5"]
    plt.close(fig)


def test_instance_segmentation_has_one_panel_per_roi_and_colours_each_instance():
    instances = np.zeros((2, 10, 10), dtype=bool)
    instances[0, 1:5, 1:5] = True
    instances[1, 5:9, 4:9] = True
    boxes = np.array([[1.0, 1, 5, 5], [4, 5, 9, 9]])
    roi_masks = np.ones((2, 7, 7))
    fig = figs.plot_instance_segmentation(instances.any(0).astype(float), instances.any(0), boxes, roi_masks, instances)
    assert len(fig.axes) == 3 + 2
    assert len(_rectangles(fig.axes[0])) == 2
    assert "7x7" in fig.axes[2].get_title()
    canvas = fig.axes[-1].images[0].get_array()
    colours = {tuple(np.round(canvas[r, c], 3)) for r, c in ((2, 2), (6, 6), (0, 9))}
    assert len(colours) == 3  # two instances and the white background
    plt.close(fig)
