"""Plots the notebooks share: learning curves and image grids."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np


def plot_history(
    histories: Mapping[str, Mapping[str, Sequence[float]]] | Mapping[str, Sequence[float]],
    keys: Sequence[str] = ("train_loss", "val_acc"),
    axes=None,
):
    """Learning curves, one panel per metric in ``keys``.

    ``histories`` is one history (``{"train_loss": [...], ...}``) or several by label
    (``{"with BN": h1, "without": h2}``), drawn in the same panels for comparison.
    Returns the array of axes.
    """
    if histories and all(not isinstance(v, Mapping) for v in histories.values()):
        histories = {"": histories}
    if axes is None:
        _, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.2), squeeze=False)
        axes = axes[0]
    for ax, key in zip(np.atleast_1d(axes), keys):
        for label, history in histories.items():
            if key in history:
                values = history[key]
                ax.plot(np.arange(1, len(values) + 1), values, label=label or None)
        ax.set_xlabel("epoch")
        ax.set_title(key.replace("_", " "))
        ax.grid(alpha=0.3)
        if any(histories):
            ax.legend(fontsize="small")
    plt.tight_layout()
    return axes


def show_images(
    images: np.ndarray,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    cmap: str = "gray",
    size: float = 1.4,
    symmetric: bool = False,
):
    """A grid of images.

    ``images``: ``(N, H, W)``, ``(N, 1, H, W)`` or ``(N, H, W, 3)``. With ``symmetric`` each
    image gets a colour scale centred on zero (for filters and signed feature maps).
    Returns the figure.
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    n = len(images)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        if symmetric:
            v = float(np.abs(images[i]).max()) or 1.0
            ax.imshow(images[i], cmap="RdBu_r", vmin=-v, vmax=v)
        else:
            ax.imshow(images[i], cmap=cmap)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=8)
    plt.tight_layout()
    return fig
