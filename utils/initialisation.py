"""Measuring how weight initialisation scales signals through a deep MLP (lecture 1, initialisation).

The lecture derives Glorot's and He's variances; these helpers run the experiment that tests them:
push a batch through a deep stack of square bias-free layers, send a random gradient back, and
record the standard deviation of every layer's pre-activations and of their gradients.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


def depth_scales(
    init: Callable[[torch.Tensor], object],
    activation: Callable[[torch.Tensor], torch.Tensor],
    *,
    depth: int = 30,
    width: int = 256,
    batch: int = 256,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """Standard deviations of the pre-activations and of their gradients, layer by layer.

    The network is ``h_l = a_{l-1} W_l^T``, ``a_l = activation(h_l)`` for ``l = 1..depth``, with
    ``a_0`` a standard normal batch ``(batch, width)`` and every ``W_l`` of shape ``(width, width)``
    (torch's ``(out, in)`` layout) filled in place by ``init(W_l)``, e.g.
    ``torch.nn.init.xavier_uniform_``. The backward pass starts from a standard normal upstream
    gradient at ``a_depth`` (the loss ``sum(a_depth * dout)``), so no loss function's scale enters.

    Everything is drawn from one torch generator seeded with ``seed`` (inputs first, then the
    weights in layer order, then ``dout``); the global RNG is restored afterwards.

    Returns:
        ``(h_std, grad_std)``, each of shape ``(depth,)``: ``h_std[l-1]`` is the standard deviation
        of ``h_l`` over the batch and the units, ``grad_std[l-1]`` that of ``dL/dh_l``.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        a = torch.randn(batch, width, dtype=dtype)
        weights = []
        for _ in range(depth):
            W = torch.empty(width, width, dtype=dtype)
            with torch.no_grad():
                init(W)
            weights.append(W.requires_grad_())
        dout = torch.randn(batch, width, dtype=dtype)
    hs = []
    for W in weights:
        h = a @ W.T
        h.retain_grad()
        hs.append(h)
        a = activation(h)
    (a * dout).sum().backward()
    h_std = np.array([h.detach().std().item() for h in hs])
    grad_std = np.array([h.grad.std().item() for h in hs])
    return h_std, grad_std


def per_layer_factor(stds: np.ndarray, first: int = 1) -> float:
    """Geometric mean of the layer-to-layer ratio ``stds[l] / stds[l-1]`` from layer ``first`` on.

    ``stds`` ``(depth,)``, positive, ordered from the input side (for gradients pass them
    reversed, output side first, to get the factor per layer of the backward pass). ``first=1``
    leaves out layer 0, whose input is the data rather than the previous layer's activation.
    Returns ``(stds[-1] / stds[first]) ** (1 / (len(stds) - 1 - first))``.
    """
    stds = np.asarray(stds, dtype=np.float64)
    if stds.ndim != 1 or len(stds) < first + 2:
        raise ValueError(f"need a 1-d array of at least {first + 2} values, got shape {stds.shape}")
    if not np.all(stds > 0):
        raise ValueError("standard deviations must be positive (did a signal underflow to 0?)")
    return float((stds[-1] / stds[first]) ** (1.0 / (len(stds) - 1 - first)))
