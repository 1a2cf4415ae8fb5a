"""Checking that a function is vectorised: its Python work must not grow with the data.

A vectorised numpy function runs the same Python lines whatever the size of its arrays; a
function with a Python loop over the batch or over output positions runs more lines on larger
inputs. Counting the lines executed (with ``sys.settrace``) makes that a deterministic check,
unlike timing, which is noisy on a shared machine.
"""

from __future__ import annotations

import sys
import sysconfig
from collections.abc import Callable, Sequence
from typing import Any

# Library code (numpy's Python wrappers, the standard library) is not counted: only the
# caller's own code, such as a notebook cell, is.
_LIBRARY_PREFIXES = tuple(
    sorted({sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")})
)


def line_tracer() -> tuple[Callable, Callable[[], int]]:
    """``(tracer, lines)``: a ``sys.settrace`` function that counts the line events in code outside
    the Python installation, and a function that says how many it has counted. The grader's clean
    room (``autograder.cleanroom_server``) loads this file on its own and counts with it too."""
    count = 0

    def local(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return local

    def on_call(frame, event, arg):
        if frame.f_code.co_filename.startswith(_LIBRARY_PREFIXES):
            return None
        return local

    return on_call, lambda: count


def count_python_lines(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, int]:
    """Call ``fn(*args, **kwargs)`` and count the Python lines it executes in user code.

    Lines run inside installed packages and the standard library are not counted, so calling
    ``np.pad`` or ``np.einsum`` costs nothing however large the arrays are.

    Returns:
        ``(result, n_lines)``: what ``fn`` returned, and the number of line events in code
        outside the Python installation (functions defined in a notebook, a script, a test).
        A function the grader runs in another process (``autograder.cleanroom``) carries its
        own count there, as ``fn.__dl_count_lines__``.
    """
    elsewhere = getattr(fn, "__dl_count_lines__", None)
    if elsewhere is not None and getattr(fn, "__module__", None) == "autograder.replay":
        return elsewhere(*args, **kwargs)
    tracer, lines = line_tracer()
    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        result = fn(*args, **kwargs)
    finally:
        sys.settrace(previous)
    return result, lines()


def assert_vectorised(
    fn: Callable[..., Any],
    small_args: Sequence[Any],
    large_args: Sequence[Any],
    name: str,
    *,
    slack: int = 20,
    what: str = "the batch or the output positions",
) -> None:
    """Raise ``AssertionError`` if ``fn`` runs more Python lines on a larger input.

    Args:
        fn: the function under test.
        small_args, large_args: positional arguments for a small call and a larger one that
            differ only in the sizes that must not be looped over (e.g. batch, height, width).
        name: the function's name as the student knows it.
        slack: how many extra lines the larger call may run (data-dependent branches).
        what: the sizes that grew, named in the message.
    """
    _, small = count_python_lines(fn, *small_args)
    _, large = count_python_lines(fn, *large_args)
    if large > small + slack:
        raise AssertionError(
            f"{name} is not vectorised: it ran {small} Python lines on a small input and {large} on a "
            f"larger one. A Python loop over {what} does that; replace it by numpy operations on "
            f"whole arrays (a loop over the kernel's offsets is fine: it does not grow with the data)."
        )
