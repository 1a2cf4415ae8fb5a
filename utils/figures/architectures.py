"""Figures of lecture 4 (CNN architectures, segmentation and detection).

Each function takes what it draws as arrays (shapes in the docstrings), draws with matplotlib and
returns the figure. None of them computes a metric: the numbers come from the notebook.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

INSTANCE_COLOURS = ["tab:orange", "tab:blue", "tab:green", "tab:purple"]


def _centre_boxes(ax, boxes, color, linestyle="-", lw=1.5, labels=None):
    """Draw boxes ``(k, 4)`` given as ``(cx, cy, w, h)`` in continuous image coordinates."""
    for i, (cx, cy, w, h) in enumerate(np.asarray(boxes, dtype=float).reshape(-1, 4)):
        ax.add_patch(Rectangle((cx - w / 2, cy - h / 2), w, h, fill=False, color=color, lw=lw, ls=linestyle))
        if labels is not None:
            ax.text(cx - w / 2, cy - h / 2, f" {labels[i]}", color=color, fontsize=7, va="bottom")


def plot_yolo_decoding(size, S, cells, anchors, boxes, labels=None, ax=None):
    """A ``size x size`` image cut into an ``S x S`` grid and, for each kept prediction in its own
    colour, the cell that predicted it (shaded), its anchor (dashed, centred on the cell) and the
    decoded box (solid).

    cells: ``(k, 2)`` ints ``(row, col)``; anchors and boxes: ``(k, 4)`` as ``(cx, cy, w, h)`` in
    pixels; labels: ``k`` strings written on the decoded boxes. Returns the figure.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 4.2))
    stride = size / S
    for v in np.arange(S + 1) * stride:
        ax.axhline(v, color="0.88", lw=0.5)
        ax.axvline(v, color="0.88", lw=0.5)
    cells = np.asarray(cells, dtype=int).reshape(-1, 2)
    for i, (row, col) in enumerate(cells):
        colour = INSTANCE_COLOURS[i % len(INSTANCE_COLOURS)]
        ax.add_patch(Rectangle((col * stride, row * stride), stride, stride, color=colour, alpha=0.5))
        _centre_boxes(ax, np.asarray(anchors)[i], colour, linestyle="--", lw=1.0)
        _centre_boxes(ax, np.asarray(boxes)[i], colour, lw=1.8, labels=None if labels is None else [labels[i]])
    ax.set_xlim(0, size)
    ax.set_ylim(size, 0)
    ax.set_aspect("equal")
    ax.set_title(f"{S}x{S} grid: cell (shaded), anchor (dashed), decoded box", fontsize=8)
    ax.figure.tight_layout()
    return ax.figure


def plot_precision_recall(recall, precision, envelope, area, ax=None):
    """The precision-recall points of a ranked list of detections (``recall``, ``precision``:
    ``(n,)``, in rank order), joined as measured, with the interpolated precision ``envelope``
    ``(n,)`` drawn as a step and the area under it shaded and labelled ``area``."""
    recall, precision, envelope = (np.asarray(a, dtype=float) for a in (recall, precision, envelope))
    if ax is None:
        _, ax = plt.subplots(figsize=(4.6, 3.4))
    r_steps = np.concatenate([[0.0], recall])
    p_steps = np.concatenate([envelope[:1], envelope])
    ax.fill_between(r_steps, p_steps, step="pre", color="tab:red", alpha=0.15, label=f"area = AP = {area:.4f}")
    ax.step(r_steps, p_steps, where="pre", color="tab:red", label="interpolated precision")
    ax.plot(recall, precision, "o:", color="tab:blue", label="measured after each detection")
    for rank, (r, p) in enumerate(zip(recall, precision), start=1):
        ax.annotate(str(rank), (r, p), textcoords="offset points", xytext=(4, 4), fontsize=7, color="tab:blue")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.08)
    ax.set_xlabel("recall (of all ground-truth objects)")
    ax.set_ylabel("precision")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    ax.figure.tight_layout()
    return ax.figure


def plot_instance_segmentation(image, semantic, boxes, roi_masks, pasted):
    """Mask R-CNN's idea in one row: the image with its boxes, the semantic mask (one class for
    all the objects), each RoI's fixed-size mask, and the instances pasted back, one colour each.

    image: ``(H, W)``; semantic: ``(H, W)`` ints; boxes: ``(k, 4)`` as ``(x1, y1, x2, y2)`` in
    continuous coordinates; roi_masks: ``(k, m, m)`` in ``[0, 1]``; pasted: ``(k, H, W)`` booleans.
    """
    k = len(roi_masks)
    fig, axes = plt.subplots(1, 3 + k, figsize=(1.9 * (3 + k), 2.2))
    axes[0].imshow(image, cmap="gray", extent=(0, image.shape[1], image.shape[0], 0))
    for i, (x1, y1, x2, y2) in enumerate(np.asarray(boxes, dtype=float)):
        colour = INSTANCE_COLOURS[i % len(INSTANCE_COLOURS)]
        axes[0].add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, color=colour, lw=1.5))
    axes[0].set_title("image and boxes", fontsize=8)
    axes[1].imshow(semantic, cmap="viridis", vmin=0, vmax=max(1, int(np.max(semantic))))
    axes[1].set_title("semantic: one class", fontsize=8)
    for i in range(k):
        axes[2 + i].imshow(roi_masks[i], cmap="gray", vmin=0, vmax=1)
        m = roi_masks[i].shape[-1]
        axes[2 + i].set_title(f"RoI {i + 1}: {m}x{m} mask", fontsize=8, color=INSTANCE_COLOURS[i % 4])
    canvas = np.ones((*np.shape(image), 3))
    for i, mask in enumerate(np.asarray(pasted, dtype=bool)):
        canvas[mask] = plt.matplotlib.colors.to_rgb(INSTANCE_COLOURS[i % len(INSTANCE_COLOURS)])
    axes[-1].imshow(canvas)
    axes[-1].set_title("instances", fontsize=8)
    for ax in axes:
        ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    return fig
