"""Figures of lecture 2 (BatchNorm and Dropout)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def quadratic_problem(X, y):
    """What the gradient-descent figure needs for L(w) = ||Xw - y||^2 / (2N), X (N, 2), y (N,):
    the Hessian H (2, 2), the minimiser w* (2,) and the loss function."""
    H = X.T @ X / len(X)
    w_star = np.linalg.solve(H, X.T @ y / len(X))
    return H, w_star, lambda w: 0.5 * np.mean((X @ w - y) ** 2)


def gd_path(H, w_star, w0, lr, steps):
    """Gradient descent on a quadratic (the gradient is H (w - w*)): the iterates, (steps + 1, 2)."""
    path = [w0]
    for _ in range(steps):
        path.append(path[-1] - lr * H @ (path[-1] - w_star))
    return np.array(path)


def plot_gradient_descent(quad, lr_fraction=0.5, steps=40):
    """Gradient descent paths on each problem of ``quad`` ({name: quadratic_problem(...)}) with the
    step lr_fraction * 2 / lambda_max, over the loss contours, and the excess loss per step."""
    fig, axes = plt.subplots(1, len(quad) + 1, figsize=(14, 4.2))
    for ax, (name, (H, w_star, loss)) in zip(axes, quad.items()):
        lam, vec = np.linalg.eigh(H)
        w0 = w_star + 1.5 * vec @ (np.array([1.0, 1.0]) / np.sqrt(lam))  # same loss level, off both axes
        path = gd_path(H, w_star, w0, lr_fraction * 2 / lam[-1], steps)
        start = np.abs(w0 - w_star).max()
        R = 1.1 * min(max(np.abs(path - w_star).max(), start), 3 * start)  # square window around w*
        g1, g2 = np.meshgrid(np.linspace(-R, R, 200), np.linspace(-R, R, 200))
        G = np.stack([g1, g2], -1)
        excess_grid = 0.5 * np.einsum("...i,ij,...j->...", G, H, G)
        L0 = loss(w0) - loss(w_star)
        ax.contour(
            g1 + w_star[0],
            g2 + w_star[1],
            excess_grid,
            levels=np.geomspace(L0 / 2e3, 2 * L0, 12),
            cmap="viridis",
            linewidths=0.8,
        )
        ax.plot(*path.T, "o-", color="crimson", ms=2.5, lw=1)
        ax.plot(*w_star, "k*", ms=10)
        ax.set_aspect("equal")
        ax.set_xlim(w_star[0] - R, w_star[0] + R)
        ax.set_ylim(w_star[1] - R, w_star[1] + R)
        ax.set(title=f"{name}: $\\kappa$ = {lam[-1] / lam[0]:.0f}", xlabel="$w_1$", ylabel="$w_2$")
        excess = [loss(w) - loss(w_star) for w in path]
        axes[-1].semilogy(np.maximum(excess, 1e-12), label=name)  # floor: rounding error
    axes[-1].set(title="excess loss $L(w_t) - L^*$", xlabel="step $t$")
    axes[-1].legend()
    axes[-1].grid(alpha=0.3)
    fig.tight_layout()
    return fig


def draw_batchnorm_graph():
    """The computational graph of BatchNorm for one feature, with the local derivative on each edge."""
    nodes = {
        "x": (0, 0),
        "mu": (2.6, 1.6),
        "xc": (5.2, 0),
        "var": (7.8, 1.6),
        "s": (10.4, 1.6),
        "xhat": (13, 0),
        "y": (15.6, 0),
        "gamma": (13, -1.6),
        "beta": (15.6, -1.6),
    }
    labels = {
        "x": "$x_i$",
        "mu": r"$\mu$",
        "xc": r"$x_i-\mu$",
        "var": r"$\sigma^2$",
        "s": "$s$",
        "xhat": r"$\hat{x}_i$",
        "y": "$y_i$",
        "gamma": r"$\gamma$",
        "beta": r"$\beta$",
    }
    edges = [
        ("x", "mu", r"$\frac{1}{m}$"),
        ("x", "xc", "$1$"),
        ("mu", "xc", "$-1$"),
        ("xc", "var", r"$\frac{2(x_i-\mu)}{m}$"),
        ("var", "s", r"$\frac{1}{2s}$"),
        ("xc", "xhat", r"$\frac{1}{s}$"),
        ("s", "xhat", r"$-\frac{x_i-\mu}{s^2}$"),
        ("xhat", "y", r"$\gamma$"),
        ("gamma", "y", r"$\hat{x}_i$"),
        ("beta", "y", "$1$"),
    ]
    fig, ax = plt.subplots(figsize=(13, 4.2))
    for a, b, lab in edges:
        (x0, y0), (x1, y1) = nodes[a], nodes[b]
        ax.annotate(
            "",
            xy=(x1, y1),
            xytext=(x0, y0),
            arrowprops=dict(arrowstyle="-|>", color="0.35", lw=1.3, shrinkA=17, shrinkB=17),
        )
        ax.text(
            0.5 * (x0 + x1),
            0.5 * (y0 + y1),
            lab,
            ha="center",
            va="center",
            fontsize=16,
            color="darkred",
            bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none"),
        )
    for key, (px, py) in nodes.items():
        color = "#d9ead3" if key in ("gamma", "beta") else "#dbe8f6"
        ax.text(
            px,
            py,
            labels[key],
            ha="center",
            va="center",
            fontsize=15,
            bbox=dict(boxstyle="round,pad=0.45", fc=color, ec="0.4"),
        )
    ax.text(
        5.6,
        -1.6,
        r"$\mu=\frac{1}{m}\sum_j x_j,\quad \sigma^2=\frac{1}{m}\sum_j (x_j-\mu)^2,\quad"
        r" s=\sqrt{\sigma^2+\varepsilon},\quad \hat{x}_i=\frac{x_i-\mu}{s},\quad y_i=\gamma\hat{x}_i+\beta$",
        ha="center",
        va="center",
        fontsize=12,
    )
    ax.set_xlim(-0.7, 16.3)
    ax.set_ylim(-2.2, 2.2)
    ax.axis("off")
    ax.set_title(
        "BatchNorm for one feature: forward along the arrows, local derivatives in red, learned parameters in green",
        fontsize=11,
    )
    return fig
