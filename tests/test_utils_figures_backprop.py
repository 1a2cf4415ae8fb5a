"""The figure helpers of lecture 1 draw what they should, on the Agg backend."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import utils  # noqa: E402
from utils.figures import backprop as figures  # noqa: E402


def test_plot_jacobians_one_panel_and_colour_bar_each():
    J = np.arange(12.0).reshape(3, 4) - 6
    fig = figures.plot_jacobians([(J, "a"), (np.zeros((2, 2)), "all zero")])
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 2 and len(fig.axes) == 4  # two heat maps and two colour bars
    assert images[0].images[0].get_clim() == (-6.0, 6.0)  # symmetric around 0
    assert [ax.get_title() for ax in images] == ["a", "all zero"]
    plt.close(fig)


def test_plot_activations_draws_value_and_slope_per_panel():
    grid = np.linspace(-2, 2, 5)
    values = {"ReLU": np.maximum(grid, 0), "tanh": np.tanh(grid)}
    slopes = {"ReLU": (grid > 0) * 1.0, "tanh": 1 - np.tanh(grid) ** 2}
    fig = figures.plot_activations(grid, values, slopes)
    assert [ax.get_title() for ax in fig.axes] == ["ReLU", "tanh"]
    for ax, name in zip(fig.axes, values):
        value_line, slope_line = ax.get_lines()[:2]
        np.testing.assert_array_equal(value_line.get_ydata(), values[name])
        np.testing.assert_array_equal(slope_line.get_ydata(), slopes[name])
    plt.close(fig)


def test_plot_gradient_norms_log_scale_one_line_per_network():
    fig = figures.plot_gradient_norms({"sigmoid": 10.0 ** -np.arange(5), "ReLU": np.ones(5)}, "t")
    (ax,) = fig.axes
    assert ax.get_yscale() == "log" and len(ax.get_lines()) == 2 and ax.get_title() == "t"
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), np.arange(1, 6))
    plt.close(fig)


def test_plot_step_size_errors_lines_and_marks():
    eps = np.logspace(-8, 0, 9)
    errors = {"central, float64": eps**2, "central, float32": eps, "forward, float64": eps}
    fig = figures.plot_step_size_errors(eps, errors, marks=[(1e-5, "tab:blue"), (1e-3, "tab:orange")])
    (ax,) = fig.axes
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert len(ax.get_lines()) == 3 + 2
    assert ax.get_lines()[2].get_linestyle() == "--"  # the forward difference is dashed
    plt.close(fig)


def test_plot_fits_data_curves_line_and_history():
    x = np.linspace(-1, 1, 10)
    history = utils.History()
    for loss in (1.0, 0.5, 0.25):
        history.log(train_loss=loss)
    fig = figures.plot_fits(x, 2 * x, {"net": (x, 2 * x)}, (2.0, 0.0), {"net": history}, utils.plot_history)
    assert len(fig.axes) == 2
    assert len(fig.axes[0].get_lines()) == 2 and len(fig.axes[0].collections) == 1
    assert fig.axes[1].get_yscale() == "log"
    plt.close(fig)


def test_plot_hidden_unit_data_and_loss_panels():
    g0, g1 = np.meshgrid(np.linspace(-1, 1, 5), np.linspace(-1, 1, 4))
    X = np.array([[0.0, 0.0], [0.5, 0.5]])
    s0, s1 = np.meshgrid(np.linspace(-1, 1, 3), np.linspace(-1, 1, 3))
    args = ((g0, g1), (g0 + 1) / 2, X, np.array([0, 1]))
    fig = figures.plot_hidden_unit(*args, (1.0, 1.0, 0.0), (s0, s1, s0**2 + s1**2), np.array([1.0, 0.0]), 3, "d", "l")
    ax_data, ax_loss = fig.axes[:2]
    assert len(fig.axes) == 3  # data, loss and the loss's colour bar
    assert ax_data.get_title() == "d" and len(ax_data.get_lines()) == 1  # the unit's line
    assert len(ax_loss.texts) == 1  # the descent arrow
    plt.close(fig)
    flat = (s0, s1, np.zeros_like(s0))  # W2[k] = 0: a flat surface, no line when w1 = 0, no arrow
    fig = figures.plot_hidden_unit(*args, (1.0, 0.0, 0.0), flat, np.zeros(2), 3, "d", "l")
    assert len(fig.axes[0].get_lines()) == 0 and len(fig.axes[1].texts) == 0
    plt.close(fig)
