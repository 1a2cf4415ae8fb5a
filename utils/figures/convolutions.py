"""Figures of lecture 3 (convolutions and pooling)."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.collections import PatchCollection
from matplotlib.colors import to_rgb
from matplotlib.patches import Rectangle

WINDOW_COLOURS = ["tab:blue", "tab:orange", "tab:green", "tab:red"]


def output_length(L: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """The output length torch's conv1d gives along one axis; 0 where the kernel does not fit."""
    try:
        return int(F.conv1d(torch.zeros(1, 1, L), torch.zeros(1, 1, k), stride=s, padding=p, dilation=d).shape[-1])
    except RuntimeError:
        return 0


def draw_windows(ax, L, k, s=1, p=0, d=1, outputs=((0, 0), (0, 1), (1, 0))):
    """Draw an L x L input padded by p, where the k x k windows (stride s, dilation d) of the
    ``outputs`` pixels land, and the output grid. Cell (r, c) is the unit square at (c, r)."""
    offsets = [(0.3, 0.3), (0.7, 0.3), (0.3, 0.7)]  # each window's dot sits in its own corner
    P, L_out = L + 2 * p, output_length(L, k, s, p, d)
    patches = []  # drawn at once, as one collection (fast)
    for r, c in itertools.product(range(P), range(P)):
        pad = not (p <= r < p + L and p <= c < p + L)
        patches.append(
            Rectangle(
                (c, r),
                1,
                1,
                facecolor="0.88" if pad else "white",
                edgecolor="0.6" if pad else "black",
                lw=0.7,
                ls="--" if pad else "-",
            )
        )
    title = f"L={L}, k={k}, s={s}, p={p}, d={d}"
    if L_out < 1:
        ax.set_title(f"{title}\nno output: the kernel spans d(k-1)+1 = {d * (k - 1) + 1} > L+2p = {P}", fontsize=9)
        ax.set_xlim(-0.3, P + 0.3)
    else:
        ax.set_title(f"{title}  ->  output {L_out}x{L_out}", fontsize=10)
        x0, y0 = P + 1.5, (P - L_out) / 2  # where the output grid starts
        ax.annotate("", xy=(x0 - 0.2, P / 2), xytext=(P + 0.2, P / 2), arrowprops=dict(arrowstyle="->", color="0.3"))
        for r, c in itertools.product(range(L_out), range(L_out)):
            patches.append(Rectangle((x0 + c, y0 + r), 1, 1, facecolor="white", edgecolor="black", lw=0.7))
        for (i, j), color, (dx, dy) in zip(outputs, WINDOW_COLOURS, offsets):
            if i >= L_out or j >= L_out:
                continue
            rows, cols = s * i + d * np.arange(k), s * j + d * np.arange(k)
            patches.append(
                Rectangle(
                    (cols[0], rows[0]),
                    cols[-1] - cols[0] + 1,
                    rows[-1] - rows[0] + 1,
                    fill=False,
                    edgecolor=color,
                    lw=2,
                )
            )
            for r, c in itertools.product(rows, cols):
                patches.append(Rectangle((c + dx - 0.15, r + dy - 0.15), 0.3, 0.3, color=color))
            patches.append(Rectangle((x0 + j, y0 + i), 1, 1, facecolor=color, edgecolor="black", lw=0.7))
        ax.set_xlim(-0.3, x0 + L_out + 0.3)
    ax.add_collection(PatchCollection(patches, match_original=True))
    ax.set_ylim(P + 0.3, -0.3)
    ax.set_aspect("equal")
    ax.axis("off")


def _light(colour, amount=0.3):
    return 1 - amount * (1 - np.array(to_rgb(colour)))


def _grid(ax, rows, cols):
    ax.set_xticks(np.arange(-0.5, cols), minor=True)
    ax.set_yticks(np.arange(-0.5, rows), minor=True)
    ax.grid(which="minor", color="0.55", lw=0.8)
    ax.tick_params(which="both", length=0)


def draw_unfold(x_demo, cols_demo, highlight):
    """Two 3x3 input channels and the (8, 4) matrix ``F.unfold(x, 2)`` makes of them.

    Args:
        x_demo: (1, 2, 3, 3) tensor; cols_demo: (8, 4) tensor, its unfold.
        highlight: {column: (colour, (row, col) of the window's corner, inset)}.
    Returns the figure.
    """
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8), gridspec_kw=dict(width_ratios=[3, 3, 5]))
    for c, ax in enumerate(axes[:2]):
        ax.imshow(np.ones((3, 3, 3)))
        for (r, q), val in np.ndenumerate(x_demo[0, c].numpy()):
            ax.text(q, r, f"{val:.0f}", ha="center", va="center", fontsize=11)
        for colour, (r0, c0), inset in highlight.values():
            ax.add_patch(
                Rectangle(
                    (c0 - 0.5 + inset, r0 - 0.5 + inset),
                    2 - 2 * inset,
                    2 - 2 * inset,
                    fill=False,
                    edgecolor=colour,
                    lw=2.5,
                )
            )
        _grid(ax, 3, 3)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"input channel c = {c}", fontsize=9)
    background = np.ones((8, 4, 3))
    for column, (colour, _, _) in highlight.items():
        background[:, column] = _light(colour)
    ax = axes[2]
    ax.imshow(background, aspect="auto")
    for (r, q), val in np.ndenumerate(cols_demo.numpy()):
        ax.text(q, r, f"{val:.0f}", ha="center", va="center", fontsize=10)
    _grid(ax, 8, 4)
    ax.set_yticks(range(8), [f"c={c}, tap ({u},{v})" for c in range(2) for u in range(2) for v in range(2)], fontsize=8)
    ax.set_xticks(range(4), [f"out ({i},{j})" for i in range(2) for j in range(2)], fontsize=8)
    ax.set_title(
        "cols = F.unfold(x, 2): one column per output pixel\n"
        r"$y = W_{\mathrm{mat}}\,$cols, $W_{\mathrm{mat}}$ = w.reshape(C_out, 8)",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def draw_pool_gradients(cases, grads, upstream):
    """Inputs, upstream gradients and the max/average pooling gradients, one row per case.

    Args:
        cases: [(x (1, 1, 4, 4), k, s, name)]; grads: {name: [dx_max, dx_avg]} each (1, 1, 4, 4);
        upstream: (1, 1, 2, 2), dL/dy.
    Returns the figure.
    """
    fig, axes = plt.subplots(
        len(cases), 4, figsize=(12, 3.2 * len(cases)), gridspec_kw=dict(width_ratios=[4, 2.4, 4, 4]), squeeze=False
    )
    for row, (x_in, k, s, name) in enumerate(cases):
        panels = [
            (x_in, f"input x: {name}"),
            (upstream, r"upstream $\partial L/\partial y$"),
            (grads[name][0], "max pool: routed to the argmax"),
            (grads[name][1], f"average pool: spread as 1/{k * k}"),
        ]
        for index, (ax, (arr, title)) in enumerate(zip(axes[row], panels)):
            a = arr[0, 0]
            ax.imshow(a, cmap="Greys", vmin=-5, vmax=30) if index == 0 else ax.imshow(a, cmap="RdBu_r", vmin=-4, vmax=4)
            for (r, c), val in np.ndenumerate(a):
                ax.text(c, r, f"{val:.3g}", ha="center", va="center", fontsize=10)
            if index == 1 and s < k:  # colour each value like its window
                for q, (i, j) in enumerate(itertools.product(range(2), repeat=2)):
                    ax.add_patch(
                        Rectangle((j - 0.45, i - 0.45), 0.9, 0.9, fill=False, lw=2.5, edgecolor=WINDOW_COLOURS[q])
                    )
            if a.shape == (4, 4):
                for q, (r0, c0) in enumerate(itertools.product(range(0, 4 - k + 1, s), repeat=2)):
                    inset = 0.06 * q if s < k else 0.0
                    edge = WINDOW_COLOURS[q] if s < k else "black"
                    ax.add_patch(
                        Rectangle(
                            (c0 - 0.5 + inset, r0 - 0.5 + inset),
                            k - 2 * inset,
                            k - 2 * inset,
                            fill=False,
                            lw=2,
                            edgecolor=edge,
                        )
                    )
            ax.set_title(title, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return fig
