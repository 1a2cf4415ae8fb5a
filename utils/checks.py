"""Comparing a student's numpy result with a PyTorch reference, with messages a student can act on."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from .diagnose import Context, explain


def to_numpy(value: Any) -> np.ndarray:
    """A numpy array from a torch tensor (detached, on the CPU) or anything array-like."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def torch_reference(
    fn: Callable[..., torch.Tensor], *inputs: Any, dout: np.ndarray | None = None
) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """Run ``fn`` on float64 torch copies of ``inputs`` and backpropagate ``dout`` with autograd.

    Args:
        fn: takes torch tensors (one per input, in order) and returns a tensor.
        inputs: numpy arrays; float arrays become float64 leaf tensors that need a gradient,
            integer arrays become int64 tensors, anything else is passed through unchanged.
        dout: upstream gradient, the shape of ``fn``'s output; ``None`` for a scalar output.

    Returns:
        ``(out, grads)``: the output as a numpy array, and for each input its gradient as a
        numpy array of that input's shape (``None`` for inputs that are not float arrays).
    """
    tensors = []
    for x in inputs:
        if isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating):
            tensors.append(torch.tensor(x, dtype=torch.float64, requires_grad=True))
        elif isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.integer):
            tensors.append(torch.tensor(x, dtype=torch.int64))
        else:
            tensors.append(x)
    out = fn(*tensors)
    if out.requires_grad:
        grad = None if dout is None else torch.tensor(np.asarray(dout), dtype=out.dtype)
        out.backward(grad)
    grads = [t.grad.numpy() if isinstance(t, torch.Tensor) and t.grad is not None else None for t in tensors]
    return to_numpy(out), grads


def _worst(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float):
    excess = np.abs(actual - expected) - (atol + rtol * np.abs(expected))
    excess = np.where(np.isnan(excess), np.inf, excess)
    idx = np.unravel_index(int(np.argmax(excess)), actual.shape) if actual.ndim else ()
    return idx, int(np.sum(excess > 0))


def _allclose(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def _named_mistake(actual: np.ndarray, mistakes: Mapping[str, Any] | None, rtol: float, atol: float) -> str | None:
    """The description of the first known mistake whose result ``actual`` reproduces."""
    for description, wrong in (mistakes or {}).items():
        if _allclose(actual, to_numpy(wrong).astype(np.float64), rtol, atol):
            return f"Likely mistake: {description}"
    return None


def _guess_mistake(
    actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float, context: Context | str | None = None
) -> str | None:
    """Name a generic slip if the student's array is a simple transform of the reference
    (:func:`utils.diagnose.explain`: transposed, sign, a factor, a missing sum, a shift, a flip, blocks in
    another order, right on a part only): one line starting with "Likely mistake: ", or ``None``."""
    return explain(actual, expected, context, rtol=rtol, atol=atol)


def _fmt(value: Any) -> str:
    return np.array2string(np.asarray(value), precision=6, threshold=20, edgeitems=3)


def assert_close(
    actual: Any,
    expected: Any,
    name: str = "output",
    *,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    mistakes: Mapping[str, Any] | None = None,
    hint: str | None = None,
    context: Context | None = None,
) -> None:
    """Raise ``AssertionError`` with an actionable message unless ``actual`` matches ``expected``.

    Args:
        actual: the student's value (numpy array, scalar, or torch tensor).
        expected: the reference value, of the shape ``actual`` must have.
        name: what is compared, as the student knows it, e.g. ``"dx from relu_backward"``.
        rtol, atol: tolerances as in ``numpy.allclose``.
        mistakes: ``{description: value}``: what known mistakes would produce; if ``actual``
            matches one, the message names that mistake.
        hint: one more sentence added to any failure message.
        context: what :mod:`utils.diagnose` needs to word a relation in the student's terms (axis names, the
            call's constants, masks); by default it is read from ``name`` (``"dW from linear_backward with
            (N, D, M) = (4, 5, 3)"`` gives the output, the function and N, D, M).

    The message says which of these went wrong: ``None`` returned, a shape mismatch, NaN or
    infinity, or values that differ (with the worst element, its index, the maximum absolute
    and relative error, and how many elements are off). When no known mistake matches, a simple relation between
    ``actual`` and ``expected`` (:func:`utils.diagnose.diagnose`) is named on a line starting "Likely mistake: ".
    """
    ctx = context or name
    suffix = f"\nHint: {hint}" if hint else ""
    if actual is None:
        raise AssertionError(f"{name} is None: did the function forget to `return` its result?{suffix}")
    if isinstance(actual, tuple) and not isinstance(expected, tuple):
        raise AssertionError(
            f"{name} is a tuple of {len(actual)} items, expected one array: "
            f"check what the function returns and how it is unpacked.{suffix}"
        )
    try:
        a = to_numpy(actual).astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{name} is not numeric ({type(actual).__name__}): {exc}{suffix}") from None
    e = to_numpy(expected).astype(np.float64)
    if a.shape != e.shape:
        lines = [f"{name} has shape {a.shape}, expected {e.shape}."]
        named = _named_mistake(a, mistakes, rtol, atol) or _guess_mistake(a, e, rtol, atol, ctx)
        if named:
            lines.append(named)
        raise AssertionError("\n".join(lines) + suffix)
    bad = ~np.isfinite(a) & np.isfinite(e)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(
            f"{name} contains {a[idx]} at index {idx} where {e[idx]:.6g} was expected "
            f"({int(bad.sum())} non-finite element(s)). An overflow in exp or a division by "
            f"zero is the usual cause: use a numerically stable formula.{suffix}"
        )
    if np.allclose(a, e, rtol=rtol, atol=atol, equal_nan=True):
        return
    idx, n_off = _worst(a, e, rtol, atol)
    abs_err = float(np.nanmax(np.abs(a - e)))
    rel_err = float(np.nanmax(np.abs(a - e) / np.maximum(np.abs(a) + np.abs(e), 1e-12)))
    where = f" at index {tuple(int(i) for i in idx)}" if a.ndim else ""
    lines = [
        f"{name} is wrong{where}: got {a[idx]:.8g}, expected {e[idx]:.8g}.",
        f"{n_off} of {a.size} element(s) are off; max abs error {abs_err:.3g}, relative error {rel_err:.3g}.",
    ]
    guess = _named_mistake(a, mistakes, rtol, atol) or _guess_mistake(a, e, rtol, atol, ctx)
    if guess:
        lines.append(guess)
    if a.size <= 24:
        lines.append(f"got:\n{_fmt(a)}\nexpected:\n{_fmt(e)}")
    raise AssertionError("\n".join(lines) + suffix)


def assert_shapes(arrays: Sequence[Any], shapes: Sequence[tuple[int, ...]], names: Sequence[str]) -> None:
    """Check each array's shape, naming the first that is wrong."""
    for arr, shape, name in zip(arrays, shapes, names):
        if arr is None:
            raise AssertionError(f"{name} is None: did the function forget to `return` it?")
        got = np.shape(arr)
        if tuple(got) != tuple(shape):
            raise AssertionError(f"{name} has shape {tuple(got)}, expected {tuple(shape)}.")


def expect_failure(check: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """Run ``check(*args, **kwargs)`` on a known-wrong formula and print how it fails.

    A check that cannot fail proves nothing, so the lectures show each torch check rejecting the
    wrong version (a slide's typo, ``m-1`` for ``m``). Returns the failure message; raises
    ``RuntimeError`` if the check passes, so a notebook cannot silently show a wrong formula agreeing.
    """
    try:
        check(*args, **kwargs)
    except AssertionError as err:
        message = str(err)
        print("The check fails, as it should:\n  " + message.replace("\n", "\n  "))
        return message
    raise RuntimeError("the check passed on a formula that should have failed it")


def answered(name: str, *answers: Any) -> bool:
    """Whether a seminar exercise has been answered; while any answer is still ``None`` it prints
    "not attempted yet" and returns False, so that the notebook still runs top to bottom."""
    if any(answer is None for answer in answers):
        print(f"{name}: not attempted yet")
        return False
    return True


def check_answer(name: str, answer: Any, expected: Any, **kwargs: Any) -> None:
    """Check a seminar exercise's answer against ``expected`` with :func:`assert_close` (``kwargs``,
    e.g. ``mistakes=``, go to it); an answer still ``None`` is reported, not failed."""
    if answered(name, answer):
        assert_close(answer, expected, name, **kwargs)
        print(f"{name}: correct")
