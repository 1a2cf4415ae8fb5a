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


def checked_call(fn, *args, what: str, causes=()):
    """``fn(*args)``; an exception other than NotImplementedError or AssertionError raised inside the
    student's function becomes a message: which call, with which inputs, raised what; the student's
    line that raised; and the likely cause. Every topic's checks wrap a student's call with it.

    Args:
        fn: the student's function.
        what: the call in the student's terms, e.g. ``"box_iou(boxes1 of shape (2, 4), boxes2 of shape (4, 4))"``.
        causes: ``(applies, text)`` pairs: ``applies(error)`` says whether ``text`` explains this error; the
            first that applies is given as the likely cause.
    """
    try:
        return fn(*args)
    except (NotImplementedError, AssertionError):
        raise
    except Exception as error:  # noqa: BLE001 - the student's error, reported with the call and the line
        lines = [f"{what} raised {type(error).__name__}: {error}"]
        where = _student_line(error)
        if where:
            lines.append(f"It was raised in your code, {where}.")
        cause = next((text for applies, text in causes if applies(error)), None)
        if cause:
            lines.append(f"Likely cause: {cause}")
        raise AssertionError("\n".join(lines)) from None


def broadcast_error(error: BaseException, *shapes) -> bool:
    """Whether ``error`` is numpy's failure to broadcast (or assign) arrays, mentioning every shape in
    ``shapes`` (as numpy writes them, ``(2,3)``)."""
    text = str(error)
    if not isinstance(error, ValueError) or "broadcast" not in text:
        return False
    return all("(" + ",".join(str(int(n)) for n in shape) + ("," if len(shape) == 1 else "") + ")" in
               text.replace(" ", "") for shape in shapes)  # fmt: skip
