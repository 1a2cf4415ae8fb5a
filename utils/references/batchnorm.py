"""Torch references for assignment 2 (BatchNorm and Dropout), imported by its locked test cells.

Arrays are float64 numpy: ``x`` (N, D) or (N, C, H, W), ``gamma`` and ``beta`` (D,) or (C,).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def torch_batchnorm_layer(gamma, beta, momentum=0.1, running_mean=None, running_var=None, eps=1e-5, spatial=False):
    """A float64 ``torch.nn.BatchNorm1d`` (``BatchNorm2d`` if ``spatial``) with weight ``gamma``,
    bias ``beta`` and, optionally, the given running statistics."""
    cls = torch.nn.BatchNorm2d if spatial else torch.nn.BatchNorm1d
    layer = cls(len(gamma), eps=eps, momentum=momentum, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(gamma))
        layer.bias.copy_(torch.tensor(beta))
        if running_mean is not None:
            layer.running_mean.copy_(torch.tensor(running_mean))
            layer.running_var.copy_(torch.tensor(running_var))
    return layer


def torch_batchnorm_forward(x, gamma, beta, bn_param):
    """Stand-in for batchnorm_forward built on torch (same arguments, shapes and bn_param rules):
    x (N, D) -> (out (N, D), cache). The running statistics in bn_param are updated in place."""
    D = x.shape[1]
    bn_param.setdefault("running_mean", np.zeros(D))
    bn_param.setdefault("running_var", np.ones(D))
    xt, g, b = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, gamma, beta))
    # torch.from_numpy shares memory, so torch updates bn_param's arrays in place.
    out = F.batch_norm(
        xt,
        torch.from_numpy(bn_param["running_mean"]),
        torch.from_numpy(bn_param["running_var"]),
        g,
        b,
        training=bn_param["mode"] == "train",
        momentum=bn_param.get("momentum", 0.1),
        eps=bn_param.get("eps", 1e-5),
    )
    return out.detach().numpy(), (xt, g, b, out)


def torch_batchnorm_backward(dout, cache):
    """Stand-in for batchnorm_backward built on torch autograd: returns (dx, dgamma, dbeta)."""
    xt, g, b, out = cache
    grads = torch.autograd.grad((out * torch.tensor(dout, dtype=torch.float64)).sum(), (xt, g, b))
    return tuple(grad.numpy() for grad in grads)


def batchnorm_cache(x, gamma, eps=1e-5):
    """The cache batchnorm_forward stores in train mode, built by torch: ``(x_hat, gamma, inv_std)``.

    x: (N, D); gamma: (D,). x_hat (N, D) is the normalised batch, inv_std (D,) is 1 / sqrt(var + eps)
    with the biased batch variance. A backward test built on it does not depend on the student's forward.
    """
    xt = torch.tensor(x, dtype=torch.float64)
    var = xt.var(dim=0, unbiased=False)
    x_hat = F.batch_norm(xt, None, None, training=True, eps=eps)
    return x_hat.numpy(), np.asarray(gamma, dtype=np.float64), (1 / torch.sqrt(var + eps)).numpy()


def dropout_cache(shape, p, rng):
    """A train-mode dropout cache ``("train", mask)``: mask has x's shape, 0 for a dropped unit and
    1 / (1 - p) for a kept one (all zeros for p = 1)."""
    keep = rng.random(shape) >= p
    mask = keep / (1 - p) if p < 1 else np.zeros(shape)
    return "train", mask
