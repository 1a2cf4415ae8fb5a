"""The figure helpers of lecture 1's initialisation and optimiser sections, on the Agg backend."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from utils.figures import init_optim as figures  # noqa: E402


def test_plot_depth_scales_two_rows_one_column_per_activation():
    layers = 5
    scales = {
        act: {"small": (0.1 ** np.arange(1, 6), 0.2 ** np.arange(5, 0, -1)), "He": (np.ones(layers), np.ones(layers))}
        for act in ("tanh", "ReLU")
    }
    fig = figures.plot_depth_scales(scales, "t")
    axes = fig.axes
    assert len(axes) == 4 and [ax.get_title() for ax in axes[:2]] == ["tanh", "ReLU"]
    assert all(ax.get_yscale() == "log" and len(ax.get_lines()) == 2 for ax in axes)
    np.testing.assert_array_equal(axes[0].get_lines()[0].get_ydata(), scales["tanh"]["small"][0])
    np.testing.assert_array_equal(axes[2].get_lines()[0].get_ydata(), scales["tanh"]["small"][1])
    # the same init has the same colour in every panel
    assert axes[0].get_lines()[1].get_color() == axes[3].get_lines()[1].get_color()
    plt.close(fig)


def test_plot_quadratic_paths_paths_and_losses():
    paths = {
        "a": np.array([[-2.0, 1.0], [-1.0, 0.5], [0.0, 0.0]]),
        "b": np.array([[-2.0, 1.0], [0.0, 0.0], [0.0, 0.0]]),
    }
    losses = {"a": np.array([3.0, 1.0, 1e-3]), "b": np.array([3.0, 1e-2, 1e-4])}
    fig = figures.plot_quadratic_paths(paths, losses, np.array([1.0, 10.0]), "q")
    ax_path, ax_loss = fig.axes[:2]
    assert ax_path.get_title() == "q" and ax_loss.get_yscale() == "log"
    np.testing.assert_array_equal(ax_path.get_lines()[0].get_xdata(), paths["a"][:, 0])
    np.testing.assert_array_equal(ax_loss.get_lines()[1].get_ydata(), losses["b"])
    plt.close(fig)
