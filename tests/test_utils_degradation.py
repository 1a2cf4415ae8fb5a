"""utils.degradation: the plain and residual MLPs of the degradation experiment."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from utils import degradation as dg


def count(model):
    return sum(p.numel() for p in model.parameters())


def linears(model):
    return [m for m in model.modules() if isinstance(m, torch.nn.Linear)]


@pytest.mark.parametrize("depth", [2, 8, 20])
def test_depth_counts_weight_layers_and_parameters_match(depth):
    plain, residual = dg.plain_mlp(depth, width=6), dg.residual_mlp(depth, width=6)
    assert len(linears(plain)) == len(linears(residual)) == depth
    assert count(plain) == count(residual)
    x = torch.randn(4, 64)
    assert plain(x).shape == residual(x).shape == (4, 10)


def test_invalid_depths():
    with pytest.raises(ValueError):
        dg.plain_mlp(1)
    with pytest.raises(ValueError):
        dg.residual_mlp(7)


def test_preactivation_block_with_a_zero_branch_is_the_identity():
    block = dg.PreActBlock(5).train()
    last = block.branch[-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)
    x = torch.randn(8, 5, requires_grad=True)
    y = block(x)
    torch.testing.assert_close(y, x)
    (g,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(g, torch.ones_like(x))  # nothing after the addition: the shortcut passes it whole


def test_gradient_norms_one_per_layer_and_grads_left_clean():
    torch.manual_seed(0)
    model = dg.plain_mlp(6, width=8)
    norms = dg.weight_gradient_norms(model, torch.randn(16, 64), torch.randint(10, (16,)))
    assert norms.shape == (6,) and (norms > 0).all()
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())


def test_experiment_is_seeded_and_measures_the_training_set():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 64)).astype(np.float32), np.arange(40) % 10

    def run():
        return dg.degradation_experiment(X, y, depths=(4,), width=8, steps=3, batch=8, seeds=(0, 1), progress=False)

    a, b = run(), run()
    assert set(a) == {("plain", 4), ("residual", 4)}
    for key, record in a.items():
        assert len(record["loss"]) == len(record["error"]) == len(record["curve"]) == 2
        assert record["curve"][0].shape == (3,)
        assert all(0 <= e <= 1 for e in record["error"])
        assert record["loss"] == b[key]["loss"]
    model = dg.plain_mlp(4, width=8)
    loss, error = dg.loss_and_error(model, torch.as_tensor(X), torch.as_tensor(y))
    assert loss > 0 and 0 <= error <= 1 and not model.training
