"""Figures of lecture 1 (backpropagation): the lecture cells compute and check, these draw."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def plot_jacobians(panels):
    """Heat maps of Jacobians, one panel each: panels is a list of (J (rows, cols), title).

    A symmetric colour scale around 0 (red positive, blue negative) and a colour bar per panel."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.6), squeeze=False)
    for ax, (J, title) in zip(axes[0], panels):
        J = np.asarray(J)
        v_max = float(np.abs(J).max()) or 1.0
        im = ax.imshow(J, cmap="RdBu_r", vmin=-v_max, vmax=v_max)
        ax.set_title(title)
        ax.set_xlabel("input element (flattened)")
        ax.set_ylabel("output element (flattened)")
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(plt.MaxNLocator(integer=True))
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig


def plot_activations(grid, values, slopes):
    """One panel per activation: f(x) solid and f'(x) dashed over grid (G,).

    values, slopes: {name: array (G,)}, in the same order."""
    fig, axes = plt.subplots(1, len(values), figsize=(3.75 * len(values), 3.3), squeeze=False)
    for ax, name in zip(axes[0], values):
        ax.plot(grid, values[name], lw=2, label="$f(x)$")
        ax.plot(grid, slopes[name], lw=2, ls="--", label="$f'(x)$")
        ax.axhline(0, color="0.7", lw=0.8)
        ax.axvline(0, color="0.7", lw=0.8)
        ax.set_title(name)
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
    axes[0][0].legend()
    fig.tight_layout()
    return fig


def plot_gradient_norms(grad_norms, title="Gradient norm per layer"):
    """||dL/dW|| per layer on a log scale, one line per network: grad_norms {name: array (layers,)}."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, norms in grad_norms.items():
        ax.semilogy(np.arange(1, len(norms) + 1), norms, "o-", label=name)
    ax.set_xlabel("layer (1 = next to the input)")
    ax.set_ylabel("||dL/dW||")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_step_size_errors(eps_grid, errors, marks=()):
    """Relative error of numeric gradients against the step size, log-log.

    eps_grid (E,); errors {label: array (E,)}; a label containing "float32" is drawn in orange,
    one containing "forward" dashed. marks: (position, colour) pairs drawn as dotted vertical lines."""
    fig, ax = plt.subplots(figsize=(9, 4.6))
    for key, err in errors.items():
        colour = "tab:orange" if "float32" in key else "tab:blue"
        ax.loglog(eps_grid, err, marker="o", ms=3, label=key, color=colour, ls="--" if "forward" in key else "-")
    for position, colour in marks:
        ax.axvline(position, color=colour, lw=0.8, ls=":")
    ax.text(1e-11, 1e-8, "round-off:\nerror ∝ 1/ε", ha="center")
    ax.text(2e-2, 1e-9, "truncation:\ncentral ∝ ε², forward ∝ ε", ha="center")
    ax.set_xlabel("step size ε")
    ax.set_ylabel("relative error vs autograd")
    ax.set_title("Numeric gradient error: truncation vs round-off (dotted lines: $u^{1/3}$)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
    return fig


def plot_fits(x, y, curves, line, histories, plot_history):
    """Left: the data (x (N,), y (N,)) and fitted curves {name: (x_plot (P,), y_plot (P,))} with the
    least-squares line (slope, intercept); right: the training losses via plot_history(histories, ...)."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 3.8), gridspec_kw=dict(width_ratios=[3, 2]))
    axes[0].scatter(x, y, s=10, color="0.5", label="data")
    for name, (x_plot, y_plot) in curves.items():
        axes[0].plot(x_plot, y_plot, lw=2, label=name)
    x_line = np.linspace(np.min(x), np.max(x), 2)
    axes[0].plot(x_line, line[0] * x_line + line[1], "k:", lw=1.5, label="least-squares line")
    axes[0].set_xlabel("x")
    axes[0].legend(fontsize="small")
    axes[0].set_title(r"fitting $\sin 2x$")
    plot_history(histories, keys=("train_loss",), axes=[axes[1]])
    axes[1].set_yscale("log")
    axes[1].set_xlabel("step (full batch)")
    return fig


def plot_hidden_unit(grid, prob, X, labels, unit, surface, grad, k, data_title, loss_title):
    """The seminar's hidden-unit explorer: the decision regions and the unit's line on the data, and
    the loss over the unit's two input weights with the descent direction.

    grid: (g0, g1), meshes (A, B) of the data plane; prob (A, B), P(class 1) there; X (N, 2) and
    labels (N,) in {0, 1}; unit: (w0, w1, bias), the unit's weights; surface: (s0, s1, loss), meshes
    (S, S) of the two weights and the loss there; grad (2,), dL/dW1[:, k] at (w0, w1)."""
    g0, g1 = grid
    w0, w1, bias = unit
    s0, s1, loss = surface
    fig, (ax_data, ax_loss) = plt.subplots(1, 2, figsize=(11.5, 4.2))
    ax_data.contourf(g0, g1, prob, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
    ax_data.contour(g0, g1, prob, levels=[0.5], colors="k", linewidths=2)
    for cls, colour in ((0, "tab:blue"), (1, "tab:red")):
        ax_data.scatter(*X[labels == cls].T, s=14, c=colour, edgecolors="k", linewidths=0.4, label=f"class {cls}")
    if abs(w1) > 1e-6:
        ax_data.plot(g0[0], -(w0 * g0[0] + bias) / w1, "g--", lw=2, label=f"unit {k}: w·x + b = 0")
    ax_data.set_xlim(g0.min(), g0.max())
    ax_data.set_ylim(g1.min(), g1.max())
    ax_data.set_title(data_title)
    ax_data.legend(loc="lower left", fontsize="small")

    levels = np.unique(np.quantile(loss, np.linspace(0, 1, 16)).round(6))
    if len(levels) < 2:  # a flat surface, e.g. when W2[k] = 0
        levels = loss.min() + np.array([-1e-3, 1e-3])
    contour = ax_loss.contourf(s0, s1, loss, levels=levels, cmap="viridis")
    fig.colorbar(contour, ax=ax_loss, label="loss", format="%.4f")
    ax_loss.plot(w0, w1, "o", color="red", ms=8)
    norm = np.linalg.norm(grad)
    if norm > 1e-12:
        ax_loss.annotate(
            "",
            xy=(w0 - 1.5 * grad[0] / norm, w1 - 1.5 * grad[1] / norm),
            xytext=(w0, w1),
            arrowprops=dict(arrowstyle="-|>", color="red", lw=2),
        )
    ax_loss.set_xlabel(f"W1[0, {k}]")
    ax_loss.set_ylabel(f"W1[1, {k}]")
    ax_loss.set_title(loss_title, fontsize=10)
    fig.subplots_adjust(left=0.05, right=0.98, bottom=0.12, top=0.87, wspace=0.2)  # cheaper than tight_layout
    return fig
