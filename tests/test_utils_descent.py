"""utils.descent records torch.optim's own steps."""

from __future__ import annotations

import numpy as np
import torch

from utils.descent import optimiser_path, step_lengths


def test_plain_gradient_descent_on_a_quadratic():
    path, losses = optimiser_path(lambda ps: torch.optim.SGD(ps, lr=0.25), lambda t: (t**2).sum(), [2.0, -4.0], 3)
    # the gradient is 2 theta, so each step multiplies theta by 1 - 2 * 0.25 = 0.5
    np.testing.assert_allclose(path, [[2, -4], [1, -2], [0.5, -1], [0.25, -0.5]])
    np.testing.assert_allclose(losses, (path**2).sum(axis=1))
    np.testing.assert_allclose(step_lengths(path), path[1:] - path[:-1])
    assert path.shape == (4, 2) and losses.shape == (4,)


def test_starting_point_is_not_modified():
    theta0 = np.array([1.0, 1.0])
    optimiser_path(lambda ps: torch.optim.Adam(ps, lr=0.1), lambda t: (t**2).sum(), theta0, 5)
    np.testing.assert_array_equal(theta0, [1.0, 1.0])
