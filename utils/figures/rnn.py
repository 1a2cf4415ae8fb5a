"""Figures of lecture 5 (recurrent networks): the unrolled RNN, the model shapes, clipping geometry."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, Rectangle

INPUT, CELL, OUTPUT = "#cfe2f3", "#f9cb9c", "#d9ead3"


def _box(ax, x, y, text, color, w=0.8, h=0.55, fontsize=10):
    ax.add_patch(Rectangle((x - w / 2, y - h / 2), w, h, facecolor=color, edgecolor="k", lw=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end, color="k", style="-|>", lw=1.2, rad=0.0):
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle=style,
            mutation_scale=12,
            color=color,
            lw=lw,
            connectionstyle=f"arc3,rad={rad}",
            shrinkA=0,
            shrinkB=0,
        )
    )


def draw_unrolled(T: int = 4, ax=None):
    """The recurrence h_t = f(x_t, h_{t-1}) folded (left) and unrolled over T steps (right): the same
    cell, the same weights W_ih, W_hh, b at every step."""
    if ax is None:
        _, ax = plt.subplots(figsize=(2.2 + 1.6 * T, 3.2))
    # folded
    _box(ax, 0, 1, "cell", CELL)
    _box(ax, 0, 0, r"$x_t$", INPUT)
    _box(ax, 0, 2, r"$h_t$", OUTPUT)
    _arrow(ax, (0, 0.28), (0, 0.72))
    _arrow(ax, (0, 1.28), (0, 1.72))
    _arrow(ax, (0.4, 1.1), (0.4, 0.9), rad=-2.2, color="tab:red")
    ax.text(0.62, 1.42, r"$W_{hh}$", color="tab:red", va="center", fontsize=9)
    ax.text(1.45, 1.0, "=", fontsize=18, va="center")
    for t in range(T):
        x = 2.4 + 1.6 * t
        _box(ax, x, 1, "cell", CELL)
        _box(ax, x, 0, rf"$x_{t + 1}$", INPUT)
        _box(ax, x, 2, rf"$h_{t + 1}$", OUTPUT)
        _arrow(ax, (x, 0.28), (x, 0.72))
        _arrow(ax, (x, 1.28), (x, 1.72))
        src = (x - 1.2, 1) if t else (x - 1.25, 1)
        _arrow(ax, src, (x - 0.4, 1), color="tab:red")
    ax.text(2.4 - 1.3, 1.12, r"$h_0$", fontsize=9, color="tab:red")
    ax.text(
        2.4 + 0.8 * (T - 1),
        -0.55,
        r"one set of weights $W_{ih}, W_{hh}, b$, shared by every step",
        ha="center",
        fontsize=9,
    )
    ax.set_xlim(-0.6, 3.0 + 1.6 * (T - 1))
    ax.set_ylim(-0.8, 2.5)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


SHAPES = {
    "one to many\n(caption an image)": ([1, 0, 0, 0], [1, 1, 1, 1]),
    "many to one\n(classify a sentence)": ([1, 1, 1, 1], [0, 0, 0, 1]),
    "many to many, aligned\n(tag every word)": ([1, 1, 1, 1], [1, 1, 1, 1]),
    "many to many, encoder-decoder\n(translate)": ([1, 1, 1, 0, 0], [0, 0, 0, 1, 1]),
}


def draw_model_shapes():
    """Input and output patterns of recurrent models, plus a deep and a bidirectional stack."""
    fig, axes = plt.subplots(2, 3, figsize=(13, 6))
    for ax, (title, (ins, outs)) in zip(axes.flat, SHAPES.items()):
        for t, (has_in, has_out) in enumerate(zip(ins, outs)):
            _box(ax, t, 1, "", CELL, w=0.6, h=0.45)
            if has_in:
                _box(ax, t, 0, "x", INPUT, w=0.5, h=0.4)
                _arrow(ax, (t, 0.2), (t, 0.78))
            if has_out:
                _box(ax, t, 2, "y", OUTPUT, w=0.5, h=0.4)
                _arrow(ax, (t, 1.22), (t, 1.8))
            if t:
                _arrow(ax, (t - 0.7, 1), (t - 0.3, 1), color="tab:red")
        ax.set_title(title, fontsize=10)
        ax.set_xlim(-0.6, len(ins) - 0.4)
        ax.set_ylim(-0.4, 2.4)
        ax.set_aspect("equal")
        ax.axis("off")
    # deep: two layers
    ax = axes.flat[4]
    for t in range(4):
        _box(ax, t, 0, "x", INPUT, w=0.5, h=0.4)
        for layer, y in enumerate((1, 2)):
            _box(ax, t, y, "", CELL, w=0.6, h=0.45)
            _arrow(ax, (t, y - 0.8 + (0.02 if layer == 0 else 0)), (t, y - 0.22))
            if t:
                _arrow(ax, (t - 0.7, y), (t - 0.3, y), color="tab:red")
        _box(ax, t, 3, "y", OUTPUT, w=0.5, h=0.4)
        _arrow(ax, (t, 2.22), (t, 2.8))
    ax.set_title("deep (num_layers=2): layer 2 reads\nthe hidden states of layer 1", fontsize=10)
    ax.set_xlim(-0.6, 3.6)
    ax.set_ylim(-0.4, 3.4)
    ax.set_aspect("equal")
    ax.axis("off")
    # bidirectional
    ax = axes.flat[5]
    for t in range(4):
        _box(ax, t, 0, "x", INPUT, w=0.5, h=0.4)
        _box(ax, t, 1, "", CELL, w=0.6, h=0.4)
        _box(ax, t, 2, "", "#d5a6bd", w=0.6, h=0.4)
        _box(ax, t, 3, "y", OUTPUT, w=0.5, h=0.4)
        _arrow(ax, (t, 0.2), (t, 0.8))
        _arrow(ax, (t + 0.36, 0.2), (t + 0.36, 1.8))
        _arrow(ax, (t - 0.36, 1.2), (t - 0.36, 2.8))
        _arrow(ax, (t, 2.2), (t, 2.8))
        if t:
            _arrow(ax, (t - 0.7, 1), (t - 0.3, 1), color="tab:red")
            _arrow(ax, (t - 0.3, 2), (t - 0.7, 2), color="tab:purple")
    ax.set_title("bidirectional: a forward and a backward\npass, their states concatenated", fontsize=10)
    ax.set_xlim(-0.6, 3.6)
    ax.set_ylim(-0.4, 3.4)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.tight_layout()
    return fig


def draw_clipping(g: np.ndarray, max_norm: float, by_norm: np.ndarray, by_value: np.ndarray, ax=None):
    """A 2-D gradient ``g``, clipped by its norm (inside the circle of radius max_norm, same direction)
    and by value (inside the square [-max_norm, max_norm]^2, another direction)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    circle = plt.Circle((0, 0), max_norm, fill=False, ls="--", color="tab:blue")
    ax.add_patch(circle)
    ax.add_patch(Rectangle((-max_norm, -max_norm), 2 * max_norm, 2 * max_norm, fill=False, ls=":", color="tab:orange"))
    for vec, color, label in (
        (g, "k", "gradient g"),
        (by_norm, "tab:blue", "clipped by norm"),
        (by_value, "tab:orange", "clipped by value"),
    ):
        ax.annotate("", xy=vec, xytext=(0, 0), arrowprops=dict(arrowstyle="-|>", color=color, lw=2))
        ax.plot([], [], color=color, lw=2, label=f"{label} {np.round(vec, 2).tolist()}")
    lim = 1.15 * max(np.abs(g).max(), max_norm)
    ax.set_xlim(-0.3 * lim, lim)
    ax.set_ylim(-0.3 * lim, lim)
    ax.set_aspect("equal")
    ax.axhline(0, color="gray", lw=0.5)
    ax.axvline(0, color="gray", lw=0.5)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"max_norm = {max_norm}: the circle (norm) and the square (value)", fontsize=10)
    return ax
