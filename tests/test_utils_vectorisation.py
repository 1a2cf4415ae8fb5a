"""utils.vectorisation: counting user-code lines tells loops over the data from vectorised code."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from utils.vectorisation import assert_vectorised, count_python_lines


def vectorised(x):
    y = np.pad(x, 1)
    return np.einsum("ij->i", y)


def looped(x):
    total = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        total[i] = x[i].sum()
    return total


def looped_in_comprehension(x):
    return np.array([row.sum() for row in x])


def test_count_returns_the_result_and_ignores_library_code():
    x = np.arange(12.0).reshape(3, 4)
    result, lines = count_python_lines(vectorised, x)
    np.testing.assert_allclose(result, np.pad(x, 1).sum(axis=1))
    _, lines_large = count_python_lines(vectorised, np.ones((300, 400)))
    assert lines == lines_large == 2  # np.pad and np.einsum are Python inside numpy: not counted


def test_count_grows_with_a_loop_and_restores_the_previous_tracer():
    before = sys.gettrace()
    _, small = count_python_lines(looped, np.ones((2, 3)))
    _, large = count_python_lines(looped, np.ones((20, 3)))
    assert large - small == 2 * 18
    assert sys.gettrace() is before


def test_tracer_is_restored_when_the_function_raises():
    before = sys.gettrace()

    def broken():
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        count_python_lines(broken)
    assert sys.gettrace() is before


def test_assert_vectorised():
    small, large = (np.ones((2, 3)),), (np.ones((50, 3)),)
    assert_vectorised(vectorised, small, large, "vectorised")
    for fn in (looped, looped_in_comprehension):
        with pytest.raises(AssertionError, match="not vectorised"):
            assert_vectorised(fn, small, large, fn.__name__)
