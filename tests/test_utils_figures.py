"""The figure helpers the lectures call draw what they should, on the Agg backend."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from utils.figures import convolutions as conv_figures  # noqa: E402


@pytest.mark.parametrize(
    "L, k, s, p, d", [(7, 3, 1, 0, 1), (7, 3, 2, 1, 1), (10, 4, 3, 2, 2), (2, 3, 1, 0, 1), (5, 3, 1, 0, 3)]
)
def test_output_length_is_torchs(L, k, s, p, d):
    fits = L + 2 * p >= d * (k - 1) + 1
    expected = (L + 2 * p - d * (k - 1) - 1) // s + 1 if fits else 0
    assert conv_figures.output_length(L, k, s, p, d) == expected


def test_draw_windows_draws_input_output_and_windows():
    fig, (ax, ax_none) = plt.subplots(1, 2)
    conv_figures.draw_windows(ax, 7, 3, s=2, p=1)
    conv_figures.draw_windows(ax_none, 2, 5)
    assert "output 4x4" in ax.get_title()
    assert "no output" in ax_none.get_title()
    (patches,) = ax.collections
    # the padded 9x9 input, the 4x4 output, and three windows of 9 taps, a frame and an output cell each
    assert len(patches.get_paths()) == 81 + 16 + 3 * (9 + 2)
    plt.close(fig)


def test_draw_unfold_and_pool_gradients():
    x = torch.arange(18.0).reshape(1, 2, 3, 3)
    fig = conv_figures.draw_unfold(x, F.unfold(x, (2, 2))[0], {1: ("tab:orange", (0, 1), 0.06)})
    assert len(fig.axes) == 3 and len(fig.axes[2].texts) == 32
    plt.close(fig)
    x4 = np.arange(16.0).reshape(1, 1, 4, 4)
    g = np.ones((1, 1, 2, 2))
    fig = conv_figures.draw_pool_gradients([(x4, 2, 2, "case")], {"case": [x4 * 0, x4 * 0]}, g)
    assert len(fig.axes) == 4 and all(len(ax.texts) in (4, 16) for ax in fig.axes)
    plt.close(fig)


def test_batchnorm_figures():
    from utils.figures import batchnorm as bn_figures

    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2)) * [1.0, 5.0]
    y = X @ [1.0, -2.0]
    H, w_star, loss = bn_figures.quadratic_problem(X, y)
    np.testing.assert_allclose(w_star, [1.0, -2.0], atol=1e-10)
    path = bn_figures.gd_path(H, w_star, w_star + 1.0, lr=1 / np.linalg.eigvalsh(H)[-1], steps=200)
    assert path.shape == (201, 2) and loss(path[-1]) < loss(path[0])
    fig = bn_figures.plot_gradient_descent({"a": (H, w_star, loss), "b": (H, w_star, loss)})
    assert len(fig.axes) == 3 and len(fig.axes[2].lines) == 2
    plt.close(fig)
    fig = bn_figures.draw_batchnorm_graph()
    assert len(fig.axes[0].texts) == 10 + 10 + 9 + 1  # arrows (annotations), edge labels, nodes, the formula
    plt.close(fig)
