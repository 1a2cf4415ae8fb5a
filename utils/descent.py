"""Running torch's optimisers on small problems and recording what they do (lecture 1, optimisers).

Nothing here implements an optimiser: every update is ``torch.optim``'s own ``step()``. The helpers
only record the parameters after each step, so that the lecture can test properties of the update
rules (the length of a step, the limit of a sequence of steps) and draw the paths.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


def optimiser_path(
    make_optimizer: Callable[[list[torch.Tensor]], torch.optim.Optimizer],
    loss: Callable[[torch.Tensor], torch.Tensor],
    theta0,
    steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Run ``steps`` steps of ``make_optimizer([theta])`` on ``loss(theta)`` from ``theta0``.

    Args:
        make_optimizer: builds the optimiser from a list of one parameter tensor, e.g.
            ``lambda ps: torch.optim.Adam(ps, lr=0.1)``.
        loss: scalar function of the parameter vector ``theta`` ``(P,)``.
        theta0: the starting point, anything ``torch.tensor`` takes, of shape ``(P,)``.
        steps: how many calls of ``step()``.

    Returns:
        ``(path, losses)``: ``path`` ``(steps + 1, P)``, the parameters before the first step and
        after each step; ``losses`` ``(steps + 1,)``, the loss at each of those points. The dtype is
        torch's default float dtype.
    """
    theta = torch.as_tensor(theta0, dtype=torch.get_default_dtype()).detach().clone().requires_grad_()
    optimizer = make_optimizer([theta])
    path, losses = [theta.detach().clone()], []
    for _ in range(steps):
        optimizer.zero_grad()
        value = loss(theta)
        value.backward()
        losses.append(value.item())
        optimizer.step()
        path.append(theta.detach().clone())
    with torch.no_grad():
        losses.append(loss(theta).item())
    return torch.stack(path).numpy(), np.array(losses)


def step_lengths(path: np.ndarray) -> np.ndarray:
    """The steps taken along a path: ``path`` ``(T + 1, P)`` -> ``(T, P)``, ``path[t + 1] - path[t]``."""
    path = np.asarray(path)
    return path[1:] - path[:-1]
