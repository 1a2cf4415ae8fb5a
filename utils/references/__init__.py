"""Torch references that the assignments' locked test cells import, one module per topic.

Test cells must not repeat helpers: a torch reference (a layer built in float64 with given
weights, its autograd gradients, a stand-in for an upstream student function) lives here once,
is tested in ``tests/test_utils_references.py`` or the topic's test module, and is imported by
every test cell that needs it. Students may read these modules: they hold torch code only, never
a numpy answer.
"""

from __future__ import annotations

import contextlib
import linecache
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_MISSING = object()


@contextlib.contextmanager
def standins(namespace: dict, **replacements: Callable[..., Any]) -> Iterator[None]:
    """Swap torch-backed stand-ins in for upstream functions while a test cell runs, then put the
    student's own functions back.

    A test cell grades one function. If that function calls another graded function (the
    convolution calls ``conv_output_size``), the test runs it with a faithful stand-in for the
    other one, so a mistake costs only the points of the function that has it::

        with standins(globals(), conv_output_size=conv_ref.conv_output_size):
            ...  # the checks of conv_forward_naive

    Args:
        namespace: the notebook's globals (where the student's functions look names up).
        replacements: ``name=function`` pairs.
    """
    saved = {name: namespace.get(name, _MISSING) for name in replacements}
    namespace.update(replacements)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is _MISSING:
                namespace.pop(name, None)
            else:
                namespace[name] = value


# -- a student's call that raised ----------------------------------------------------------------
# Frames in these folders are numpy's, torch's, Python's or the course's; the others are the student's cells.
_NOT_STUDENT = tuple(
    {str(Path(p).resolve()) + os.sep for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    | {str(Path(__file__).resolve().parents[1]) + os.sep}
)


def _student_line(error: BaseException) -> str:
    """Where in the student's own code ``error`` was raised: ``in f (line N of its cell): `text```, the deepest frame
    of the traceback outside numpy, torch, Python and utils ("" if there is none)."""
    found = None
    tb = error.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if not code.co_filename.startswith(_NOT_STUDENT):
            found = (code.co_filename, tb.tb_lineno, code.co_name)
        tb = tb.tb_next
    if found is None:
        return ""
    filename, lineno, name = found
    text = linecache.getline(filename, lineno).strip()
    return f"in {name} (line {lineno} of its cell)" + (f": `{text}`" if text else "")


def checked_call(fn, *args, what: str, causes=(), names=None):
    """``fn(*args)``; an exception other than NotImplementedError or AssertionError raised inside the
    student's function becomes a message: which call, with which inputs, raised what; the student's
    line that raised; and the likely cause. Every topic's checks wrap a student's call with it.

    Args:
        fn: the student's function.
        what: the call in the student's terms, e.g. ``"box_iou(boxes1 of shape (2, 4), boxes2 of shape (4, 4))"``.
        causes: ``(applies, text)`` pairs: ``applies(error)`` says whether ``text`` explains this error; the
            first that applies is given as the likely cause (``text`` may be a function of the error). When none
            applies, :func:`likely_cause` reads the error itself (a broadcast's two shapes and which argument
            each comes from, an index's axis...).
        names: the arguments' names, for :func:`likely_cause` (default ``argument 1``, ``argument 2``...).

    An error the grader brought back from a clean room (``raised_in`` set, ``autograder.cleanroom``) is named
    without its words (:func:`call_error_message`), which could carry a hidden test's inputs.
    """
    try:
        return fn(*args)
    except (NotImplementedError, AssertionError):
        raise
    except Exception as error:  # noqa: BLE001 - the student's error, reported with the call and the line
        raise AssertionError(call_error_message(error, what, args, causes, names)) from None


def describe_call(fn, *args, **kwargs) -> str:
    """The call ``fn(*args, **kwargs)`` in words, for :func:`checked_call`'s ``what``: each argument by its
    parameter's name in ``fn``'s signature, an array by its shape, a number, string or None by its value, a dict
    by its items (arrays by their shapes), anything else by its name alone: ``linear_forward(x of shape (2, 3),
    W of shape (3, 2), b of shape (2,))``, ``dropout_forward(x of shape (400, 250), p=0.3, mode='train',
    seed=0)``. Never more than what the caller passed."""
    import inspect

    def value(name, arg):
        if hasattr(arg, "shape") and hasattr(arg, "dtype"):
            return f"{name} of shape {tuple(int(n) for n in arg.shape)}"
        if arg is None or isinstance(arg, (bool, int, float, str)):
            return f"{name}={arg!r}"
        if isinstance(arg, dict):
            items = ", ".join(
                f"{k!r}: " + (f"array of shape {tuple(v.shape)}" if hasattr(v, "shape") else repr(v))
                for k, v in arg.items()
            )
            return f"{name}={{{items}}}"
        return name

    try:
        names = [p for p in inspect.signature(fn).parameters if p not in ("self", "cls")]
    except (TypeError, ValueError):
        names = []
    names += [f"argument {i + 1}" for i in range(len(names), len(args))]
    title = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", "the function")
    parts = [value(name, arg) for name, arg in zip(names, args)] + [value(k, v) for k, v in kwargs.items()]
    return f"{title}({', '.join(parts)})"


def call(fn, *args, causes=(), **kwargs):
    """``fn(*args, **kwargs)`` through :func:`checked_call`, described by :func:`describe_call` and with the
    arguments' names from ``fn``'s signature: a test cell's direct call of a student's function, so that an
    exception inside it names the call, its inputs and the student's line, never a bare traceback. ``causes`` as
    for :func:`checked_call` (no graded function has an argument of that name)."""
    import inspect

    try:
        names = [p for p in inspect.signature(fn).parameters if p not in ("self", "cls")]
    except (TypeError, ValueError):
        names = None
    what = describe_call(fn, *args, **kwargs)
    return checked_call(lambda *a: fn(*a, **kwargs), *args, what=what, causes=causes, names=names)


def call_error_message(error: BaseException, what: str, args=(), causes=(), names=None) -> str:
    """The message :func:`checked_call` gives for ``error`` raised by the call ``what`` on ``args``.

    An error the grader re-raised from the student's code run outside the kernel (``raised_in``: the repeat of a
    test in the clean room, which passes that code the hidden inputs) is named, not quoted: its words could carry
    those inputs into the feedback. The same failure in the kernel gave the student the whole message already."""
    if getattr(error, "raised_in", None) is not None:
        return (
            f"{what} raised {type(error).__name__} where the grader repeated this test (its message is not "
            "shown here: run the test cell in your notebook to see it)"
        )
    lines = [f"{what} raised {type(error).__name__}: {error}"]
    where = _student_line(error)
    if where:
        lines.append(f"It was raised in your code, {where}.")
    cause = next((text for applies, text in causes if applies(error)), None)
    cause = (cause(error) if callable(cause) else cause) or likely_cause(error, args, names)
    if cause:
        lines.append(f"Likely cause: {cause}")
    return "\n".join(lines)


def _shape_of(value):
    shape = getattr(value, "shape", None)
    return tuple(int(n) for n in shape) if shape is not None else None


def _arguments_with(shape, args, names):
    names = list(names or []) + [f"argument {i + 1}" for i in range(len(names or []), len(args))]
    return [name for name, arg in zip(names, args) if _shape_of(arg) == shape]


def _shapes_in(text: str) -> list[tuple[int, ...]]:
    import re

    return [tuple(int(n) for n in re.findall(r"\d+", group)) for group in re.findall(r"\(([\d, ]*)\)", text)]


def likely_cause(error: BaseException, args=(), names=None) -> str | None:
    """What usually causes ``error`` (numpy's messages), with the arguments' names where its shapes are theirs:

    - a broadcast failure: the two shapes, and which argument has each (or that it was made inside the function);
    - an index out of range: the axis and its size (one past the end: a loop one step too long, ``i + 1`` at the
      last position);
    - a matrix product's inner sizes that differ, a reshape to another number of elements, an empty list
      concatenated, a ``None`` used as a number, a missing dict key, an int unpacked as a pair.
    """
    import re

    text = str(error)

    def origin(shape):
        owners = _arguments_with(shape, args, names)
        return f"{shape} ({'the shape of ' + ' and '.join(owners) if owners else 'made inside your function'})"

    if isinstance(error, ValueError) and "broadcast" in text:
        shapes = _shapes_in(text.split("shapes", 1)[-1] if "shapes" in text else text)
        if "into shape" in text and len(shapes) >= 2:
            return (
                f"an array of shape {origin(shapes[0])} is assigned into a slice of shape {shapes[-1]}: the slice's "
                "bounds (or the array's) are off; print both shapes at that line."
            )
        if len(shapes) >= 2:
            listed = " and ".join(origin(s) for s in shapes[:3])
            return (
                f"numpy cannot combine arrays of shapes {listed} element by element: an axis is missing or extra "
                "(keepdims=True, a [:, None]), or an axis has the wrong length (a slice off by one, the wrong "
                "argument)."
            )
    if isinstance(error, IndexError):
        match = re.search(r"index (-?\d+) is out of bounds for axis (\d+) with size (\d+)", text)
        if match:
            index, axis, size = (int(g) for g in match.groups())
            past = (
                "one past the end: a loop one step too long, or a neighbour i + 1 read at the last position"
                if index == size
                else "outside the axis: check how that index is computed"
            )
            return f"index {index} on axis {axis}, which has size {size}: {past}."
        if "too many indices" in text:
            return "an array is indexed with more axes than it has: check its shape at that line."
    if isinstance(error, ValueError):
        if "need at least one array to concatenate" in text:
            return (
                "np.concatenate or np.stack was given an empty list: the loop that fills it ran zero times; "
                "check its range."
            )
        match = re.search(r"size (\d+) is different from (\d+)", text)
        if "matmul" in text and match:
            return (
                f"a matrix product's inner sizes differ ({match.group(1)} and {match.group(2)}): an operand needs "
                "a transpose, or it is the wrong array."
            )
        if "not aligned" in text:
            return "a matrix product's inner sizes differ: an operand needs a transpose, or it is the wrong array."
        if "cannot reshape" in text:
            return "a reshape to a shape with another number of elements: check the sizes the shape is computed from."
    if isinstance(error, KeyError):
        return (
            f"the dict has no key {text}: a key the docstring marks as optional needs a default, "
            f"dict.get({text}, default)."
        )
    if isinstance(error, TypeError) and "cannot unpack non-iterable" in text:
        return (
            "a single number is unpacked into several names: an argument that may be an int or a pair (a size, a "
            "stride) must accept both forms."
        )
    if isinstance(error, TypeError) and "NoneType" in text:
        return "a value is None where a number or an array is needed: a helper that forgot to `return` its result?"
    if isinstance(error, FloatingPointError):
        return (
            f"a floating-point {text.split(' encountered')[0]} for these inputs (an exp of a large number, a "
            "division by 0): use a numerically stable formula."
        )
    if isinstance(error, ZeroDivisionError):
        return "a division by zero: a count or a size that is 0 for these inputs."
    return None


def broadcast_error(error: BaseException, *shapes) -> bool:
    """Whether ``error`` is numpy's failure to broadcast (or assign) arrays, mentioning every shape in
    ``shapes`` (as numpy writes them, ``(2,3)``)."""
    text = str(error)
    if not isinstance(error, ValueError) or "broadcast" not in text:
        return False
    return all("(" + ",".join(str(int(n)) for n in shape) + ("," if len(shape) == 1 else "") + ")" in
               text.replace(" ", "") for shape in shapes)  # fmt: skip
