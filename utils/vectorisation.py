"""Checking that a function is vectorised: its Python work must not grow with the data.

A vectorised numpy function runs the same Python lines whatever the size of its arrays; a
function with a Python loop over the batch or over output positions runs more lines on larger
inputs. Counting the lines executed (with ``sys.settrace``) makes that a deterministic check,
unlike timing, which is noisy on a shared machine.

The line count runs inside the process that runs the function, so a function that tampers with
the tracer can hide from it. The CPU time of a call on an input about a million elements long along
one axis is measured by the operating system, from outside that process when the grader runs it:
numpy operations take milliseconds there, any Python loop along that axis takes a second or more,
so a budget of half a second tells them apart with room to spare on a slow or busy machine.
"""

from __future__ import annotations

import signal
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# What a call on an input a million elements long along one axis may take, in CPU seconds: numpy
# takes a few milliseconds there, a Python loop along that axis a second or more.
CPU_BUDGET = 0.5
CPU_LIMIT_FACTOR = 4  # a timed call is stopped at this many budgets: the verdict is known by then

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


class CPUTimeExceeded(Exception):
    """A call stopped after ``seconds`` of CPU time, its limit."""

    def __init__(self, seconds: float):
        super().__init__(f"stopped after {seconds:.2f} s of CPU time")
        self.seconds = seconds


def cpu_seconds(fn: Callable[..., Any], *args: Any, limit: float | None = None) -> tuple[Any, float]:
    """Call ``fn(*args)`` and measure the CPU time it took in this thread (numpy's own worker
    threads, which spin while they wait on a busy machine, are not counted).

    Args:
        limit: stop the call with ``CPUTimeExceeded`` once the process has used this many CPU
            seconds on it (checked by a ``SIGPROF`` timer, in the main thread only), so that a
            loop over a million elements fails in seconds instead of running for minutes.

    Returns:
        ``(result, seconds)``. A function the grader runs in another process carries its own clock
        there, as ``fn.__dl_cpu_seconds__``: the grader reads that process's CPU time from outside.
    """
    elsewhere = getattr(fn, "__dl_cpu_seconds__", None)
    if elsewhere is not None and getattr(fn, "__module__", None) == "autograder.replay":
        return elsewhere(*args, limit=limit)
    guard = limit is not None and threading.current_thread() is threading.main_thread()
    if guard:

        def stop(signum, frame):
            raise CPUTimeExceeded(limit)

        previous = signal.signal(signal.SIGPROF, stop)
        signal.setitimer(signal.ITIMER_PROF, limit)
    start = time.thread_time()
    try:
        result = fn(*args)
    finally:
        if guard:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, previous)
    return result, time.thread_time() - start


def same_result(a: Any, b: Any) -> bool:
    """Whether two results of the same call are the same: arrays equal (NaN equal to NaN), numbers
    equal, containers item by item; anything else (a cache's objects) is not compared."""
    if isinstance(a, np.ndarray | np.generic) or isinstance(b, np.ndarray | np.generic):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype.kind not in "biufc?" or b.dtype.kind not in "biufc?":
            return a.shape == b.shape and a.dtype == b.dtype
        return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc" and b.dtype.kind in "fc"))
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(same_result(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_result(a[k], b[k]) for k in a)
    if isinstance(a, int | float | complex | bool) and isinstance(b, int | float | complex | bool):
        return a == b or (a != a and b != b)
    return True


def _close(result: Any, expected: Any) -> bool:
    """Whether ``result`` (or its first item, for an ``(out, cache)`` pair) is close to the array
    ``expected``, as float64 arithmetic in another order would be."""
    if isinstance(result, tuple | list) and not isinstance(expected, tuple | list) and result:
        result = result[0]
    try:
        result, expected = np.asarray(result, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return result.shape == expected.shape and bool(np.allclose(result, expected, rtol=1e-9, atol=1e-9))


def assert_vectorised(
    fn: Callable[..., Any],
    small_args: Sequence[Any],
    large_args: Sequence[Any],
    name: str,
    *,
    slack: int = 20,
    what: str = "the batch or the output positions",
    long_args: Sequence[tuple[str, Sequence[Any]]] = (),
    cpu_budget: float = CPU_BUDGET,
    reference: Callable[..., Any] | None = None,
) -> None:
    """Raise ``AssertionError`` if ``fn`` runs more Python lines on a larger input, answers
    differently when its lines are counted, or takes more than ``cpu_budget`` seconds of CPU on an
    input that is very long along one axis.

    Args:
        fn: the function under test.
        small_args, large_args: positional arguments for a small call and a larger one that
            differ only in the sizes that must not be looped over (e.g. batch, height, width).
        name: the function's name as the student knows it.
        slack: how many extra lines the larger call may run (data-dependent branches).
        what: the sizes that grew, named in the message.
        long_args: ``(axis, args)`` pairs: arguments about a million elements long along one axis
            (``axis`` names it). A vectorised function takes milliseconds there; a Python loop
            along that axis takes seconds. Unlike the line count, which runs inside the process
            that runs ``fn``, the CPU time can be measured from outside it (the grader does).
        cpu_budget: the CPU seconds each long call may take.
        reference: what the answer on each long input must be close to (``reference(*args)``, an
            array; for a function that returns ``(out, cache)``, ``out``): a function cannot answer
            a long input quickly by not computing it.
    """
    small_result, small = count_python_lines(fn, *small_args)
    large_result, large = count_python_lines(fn, *large_args)
    if not (same_result(small_result, fn(*small_args)) and same_result(large_result, fn(*large_args))):
        raise AssertionError(
            f"{name} answers differently when its lines are counted (sys.settrace is set) than when they "
            "are not: it must compute the same thing whatever watches it."
        )
    if large > small + slack:
        raise AssertionError(
            f"{name} is not vectorised: it ran {small} Python lines on a small input and {large} on a "
            f"larger one. A Python loop over {what} does that; replace it by numpy operations on "
            f"whole arrays (a loop over the kernel's offsets is fine: it does not grow with the data)."
        )
    # Then the CPU time, which the grader reads from outside the process that runs fn.
    for axis, args in long_args:
        try:
            timed, seconds = cpu_seconds(fn, *args, limit=CPU_LIMIT_FACTOR * cpu_budget)
        except CPUTimeExceeded as stopped:
            timed, seconds = None, stopped.seconds
        if seconds > cpu_budget:
            raise AssertionError(
                f"{name} is not vectorised: on an input that is long along {axis} it took "
                f"{'more than ' if timed is None else ''}{seconds:.2f} s of CPU, where numpy operations on whole "
                f"arrays take a few milliseconds (the limit is {cpu_budget:g} s). A Python loop over {axis} does "
                "that; replace it by operations on whole arrays."
            )
        if reference is not None and not _close(timed, reference(*args)):
            raise AssertionError(
                f"{name} gives a wrong answer on the input that is long along {axis}, although it answers small "
                "inputs right: it must compute the same thing whatever the size of its input."
            )
