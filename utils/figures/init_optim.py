"""Figures of lecture 1's sections on initialisation and optimisers: the cells compute, these draw."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def plot_depth_scales(scales, title="Signal scales through depth"):
    """Per-layer standard deviations on a log scale: one column per activation, two rows.

    scales: {activation: {init: (h_std (L,), grad_std (L,))}}, as returned by
    ``utils.initialisation.depth_scales``. Top row: the pre-activations' std; bottom row: the std of
    their gradients. Every init keeps its colour across panels."""
    activations = list(scales)
    fig, axes = plt.subplots(2, len(activations), figsize=(4.4 * len(activations), 6.2), squeeze=False, sharex=True)
    colours = {}
    for col, activation in enumerate(activations):
        for init, (h_std, grad_std) in scales[activation].items():
            colour = colours.setdefault(init, f"C{len(colours)}")
            layers = np.arange(1, len(h_std) + 1)
            axes[0, col].semilogy(layers, h_std, "o-", ms=3, color=colour, label=init)
            axes[1, col].semilogy(layers, grad_std, "o-", ms=3, color=colour, label=init)
        axes[0, col].set_title(activation)
        axes[1, col].set_xlabel("layer (1 = next to the input)")
        for row in range(2):
            axes[row, col].grid(alpha=0.3, which="both")
    axes[0, 0].set_ylabel("std of pre-activations $h_l$")
    axes[1, 0].set_ylabel(r"std of $\partial L/\partial h_l$")
    axes[0, 0].legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_quadratic_paths(paths, losses, curvature, title="An ill-conditioned quadratic"):
    """Left: optimiser paths over the contours of ``0.5 * sum(curvature * theta**2)`` in 2-D;
    right: the loss against the step on a log scale.

    paths: {name: array (T + 1, 2)}; losses: {name: array (T + 1,)}; curvature: (2,)."""
    fig, (ax_path, ax_loss) = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw=dict(width_ratios=[3, 2]))
    everything = np.concatenate([np.asarray(p) for p in paths.values()])
    reach = np.abs(everything).max(axis=0) * 1.15
    g0, g1 = np.meshgrid(np.linspace(-reach[0], reach[0], 200), np.linspace(-reach[1], reach[1], 200))
    surface = 0.5 * (curvature[0] * g0**2 + curvature[1] * g1**2)
    ax_path.contour(g0, g1, surface, levels=np.geomspace(surface.max() * 1e-4, surface.max(), 12), colors="0.75")
    for i, (name, path) in enumerate(paths.items()):
        path = np.asarray(path)
        ax_path.plot(path[:, 0], path[:, 1], "o-", ms=2, lw=1.2, color=f"C{i}", label=name)
        ax_loss.semilogy(np.arange(len(losses[name])), losses[name], color=f"C{i}", label=name)
    ax_path.plot(0, 0, "k*", ms=10)
    ax_path.set_xlabel(r"$\theta_1$ (flat direction)")
    ax_path.set_ylabel(r"$\theta_2$ (steep direction)")
    ax_path.set_title(title)
    ax_path.legend(fontsize="small", loc="lower right")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss")
    ax_loss.grid(alpha=0.3, which="both")
    ax_loss.set_title("loss")
    fig.tight_layout()
    return fig
