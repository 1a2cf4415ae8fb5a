"""Torch references that the assignments' locked test cells import, one module per topic.

Test cells must not repeat helpers: a torch reference (a layer built in float64 with given
weights, its autograd gradients, a stand-in for an upstream student function) lives here once,
is tested in ``tests/test_utils_references.py`` or the topic's test module, and is imported by
every test cell that needs it. Students may read these modules: they hold torch code only, never
a numpy answer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
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
