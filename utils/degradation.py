"""The degradation problem of He et al. (2015, section 4.1) in miniature: multilayer perceptrons
with BatchNorm on the flattened 8x8 digits, plain or residual, shallow or deep, trained for the same
number of steps; what is compared is the *training* loss and error.

The residual networks are stacks of fully connected *pre-activation* blocks (He et al. 2016,
Fig. 4e), ``x + Linear(ReLU(BN(Linear(ReLU(BN(x))))))``, with identity shortcuts only.

Arrays: ``X`` float32 ``(N, features)``, ``y`` int64 ``(N,)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from .transfer import train_steps


class PreActBlock(nn.Module):
    """``y = x + W2 ReLU(BN(W1 ReLU(BN(x))))`` on ``(N, width)`` vectors: two weight layers."""

    def __init__(self, width: int):
        super().__init__()
        self.branch = nn.Sequential(
            nn.BatchNorm1d(width), nn.ReLU(), nn.Linear(width, width),
            nn.BatchNorm1d(width), nn.ReLU(), nn.Linear(width, width),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.branch(x)


def plain_mlp(depth: int, width: int = 32, in_features: int = 64, num_classes: int = 10) -> nn.Sequential:
    """``depth`` weight layers: ``Linear -> BN -> ReLU`` ``depth - 1`` times, then a linear head.
    ``(N, in_features) -> (N, num_classes)``."""
    if depth < 2:
        raise ValueError("depth counts the weight layers, head included: at least 2")
    sizes = [in_features] + [width] * (depth - 1)
    layers = [m for a, b in zip(sizes, sizes[1:]) for m in (nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU())]
    return nn.Sequential(*layers, nn.Linear(width, num_classes))


def residual_mlp(depth: int, width: int = 32, in_features: int = 64, num_classes: int = 10) -> nn.Sequential:
    """``depth`` weight layers: a linear stem, ``(depth - 2) / 2`` :class:`PreActBlock`\\ s, then
    ``BN -> ReLU`` and a linear head. The same numbers of Linear and BatchNorm layers, and of
    parameters, as :func:`plain_mlp` of the same depth. ``(N, in_features) -> (N, num_classes)``."""
    if depth < 2 or depth % 2:
        raise ValueError("a residual net of two-layer blocks has an even depth (stem and head included)")
    return nn.Sequential(
        nn.Linear(in_features, width),
        *[PreActBlock(width) for _ in range((depth - 2) // 2)],
        nn.BatchNorm1d(width), nn.ReLU(), nn.Linear(width, num_classes),
    )  # fmt: skip


def weight_gradient_norms(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """The norm of the cross-entropy's gradient with respect to each Linear layer's weight, input
    side first, on one batch in training mode (the model's gradients are left at zero).
    Returns ``(number of Linear layers,)``."""
    model.train()
    model.zero_grad()
    F.cross_entropy(model(X), y).backward()
    norms = np.array([m.weight.grad.norm().item() for m in model.modules() if isinstance(m, nn.Linear)])
    model.zero_grad()
    return norms


def loss_and_error(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy and error rate of ``model`` in eval mode on all of ``X``, ``y``."""
    model.eval()
    with torch.no_grad():
        scores = model(X)
        return F.cross_entropy(scores, y).item(), (scores.argmax(1) != y).float().mean().item()


def degradation_experiment(
    X: np.ndarray,
    y: np.ndarray,
    depths: Sequence[int] = (8, 20),
    width: int = 32,
    steps: int = 150,
    lr: float = 0.05,
    batch: int = 64,
    seeds: Sequence[int] = (0, 1, 2),
    progress: bool = True,
) -> dict[tuple[str, int], dict[str, list]]:
    """Train plain and residual MLPs of each depth on ``(X, y)`` with SGD (momentum 0.9) for ``steps``
    minibatches; seed ``s`` fixes both the initial weights and the batches, the same for every net.

    Args:
        X: ``(N, features)`` inputs, y: ``(N,)`` labels: the *training* set.

    Returns:
        ``{(kind, depth): {"loss": [...], "error": [...], "curve": [...]}}`` with ``kind`` in
        ``("plain", "residual")``, one entry per seed: the final training loss and error on all of
        ``X`` (eval mode) and the ``(steps,)`` minibatch losses.
    """
    X, y = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y)
    builders = {"plain": plain_mlp, "residual": residual_mlp}
    results = {(kind, d): {"loss": [], "error": [], "curve": []} for kind in builders for d in depths}
    bar = tqdm(total=len(results) * len(seeds), desc="training runs", disable=not progress, leave=False)
    for seed in seeds:
        for (kind, depth), record in results.items():
            torch.manual_seed(seed)
            model = builders[kind](depth, width, X.shape[1], int(y.max()) + 1)
            optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
            record["curve"].append(train_steps(model, X, y, steps, optimizer, batch=batch, seed=seed))
            loss, error = loss_and_error(model, X, y)
            record["loss"].append(loss)
            record["error"].append(error)
            bar.update()
    bar.close()
    return results
