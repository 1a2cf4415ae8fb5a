"""Numeric gradients by central differences, and the relative error used to compare gradients."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def numeric_gradient(
    f: Callable[[np.ndarray], np.ndarray | float], x: np.ndarray, dout: np.ndarray | None = None, eps: float = 1e-6
) -> np.ndarray:
    """Gradient of ``sum(f(x) * dout)`` with respect to ``x`` by central differences.

    Args:
        f: function of one array; returns a scalar or an array of any shape.
        x: float array of any shape, the point to differentiate at. It is perturbed
           in place one element at a time and restored before returning.
        dout: upstream gradient, same shape as ``f(x)``; ``None`` means ``f`` is scalar
           (or means all ones).
        eps: step size. 1e-6 suits float64; float32 needs about 1e-3.

    Returns:
        Array of ``x.shape``: d sum(f(x) * dout) / dx.
    """
    if not np.issubdtype(np.asarray(x).dtype, np.floating):
        raise TypeError(f"numeric_gradient needs a float array, got dtype {np.asarray(x).dtype}")
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    for _ in it:
        idx = it.multi_index
        original = x[idx]
        x[idx] = original + eps
        plus = np.asarray(f(x), dtype=np.float64)
        x[idx] = original - eps
        minus = np.asarray(f(x), dtype=np.float64)
        x[idx] = original
        weights = 1.0 if dout is None else dout
        grad[idx] = np.sum((plus - minus) * weights) / (2 * eps)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray, floor: float = 1e-12) -> float:
    """Largest elementwise ``|a - b| / max(|a| + |b|, floor)``.

    Symmetric in its arguments and scale free: around 1e-7 or less is what a correct
    float64 gradient scores against a numeric one; 1e-2 or more means a bug.
    Shapes must match exactly; broadcasting would hide a bug.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)))
