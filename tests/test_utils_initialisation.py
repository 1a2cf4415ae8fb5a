"""utils.initialisation measures what the derivations predict, seeded, without touching the global RNG."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from utils.initialisation import depth_scales, per_layer_factor

LINEAR = lambda h: h  # noqa: E731


def test_shapes_and_seeding():
    h1, g1 = depth_scales(torch.nn.init.xavier_uniform_, torch.tanh, depth=4, width=16, batch=8, seed=3)
    h2, g2 = depth_scales(torch.nn.init.xavier_uniform_, torch.tanh, depth=4, width=16, batch=8, seed=3)
    assert h1.shape == g1.shape == (4,)
    np.testing.assert_array_equal(h1, h2)
    np.testing.assert_array_equal(g1, g2)
    h3, _ = depth_scales(torch.nn.init.xavier_uniform_, torch.tanh, depth=4, width=16, batch=8, seed=4)
    assert not np.array_equal(h1, h3)


def test_global_rng_is_left_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    depth_scales(torch.nn.init.xavier_uniform_, torch.relu, depth=2, width=8, batch=4)
    torch.testing.assert_close(torch.rand(3), expected)


def test_gradients_are_autograds():
    """With a linear activation and identity weights every layer passes the signal unchanged."""
    h_std, grad_std = depth_scales(lambda W: W.copy_(torch.eye(len(W))), LINEAR, depth=3, width=64, batch=32)
    assert np.allclose(h_std, h_std[0]) and np.allclose(grad_std, grad_std[0])
    assert 0.8 < h_std[0] < 1.2 and 0.8 < grad_std[0] < 1.2  # standard normal input and dout


@pytest.mark.parametrize("std, expected", [(0.5 / 16, 0.5), (2 / 16, 2.0)])
def test_linear_network_scales_by_sqrt_fan_in_times_std(std, expected):
    """Var(h_l) = fan_in Var(w) Var(a_{l-1}) for a linear layer: the derivation's first step."""
    h_std, grad_std = depth_scales(lambda W: torch.nn.init.normal_(W, std=std), LINEAR, depth=6, width=256, batch=128)
    assert per_layer_factor(h_std) == pytest.approx(expected, rel=0.1)
    assert per_layer_factor(grad_std[::-1]) == pytest.approx(expected, rel=0.1)


def test_per_layer_factor():
    assert per_layer_factor(np.array([5.0, 1.0, 0.5, 0.25])) == pytest.approx(0.5)
    assert per_layer_factor(np.array([1.0, 2.0, 4.0]), first=0) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="positive"):
        per_layer_factor(np.array([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="at least"):
        per_layer_factor(np.array([1.0, 2.0]))
