"""utils.vectorisation: counting user-code lines tells loops over the data from vectorised code."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

from utils.vectorisation import CPUTimeExceeded, assert_vectorised, count_python_lines, cpu_seconds, same_result


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


def test_a_function_that_answers_otherwise_when_counted_fails():
    def hides_from_the_tracer(x):
        if sys.gettrace() is not None:  # a loop it does not want counted, skipped when watched
            return np.zeros(x.shape[0])
        return looped(x)

    with pytest.raises(AssertionError, match="answers differently when its lines are counted"):
        assert_vectorised(hides_from_the_tracer, (np.ones((2, 3)),), (np.ones((50, 3)),), "hides")


def test_a_loop_along_a_long_axis_runs_over_the_cpu_budget():
    long = [("the rows", (np.ones((1_000_000, 2)),))]
    assert_vectorised(vectorised, (np.ones((2, 3)),), (np.ones((50, 3)),), "vectorised", long_args=long)
    with pytest.raises(AssertionError, match="long along the rows"):
        # Its line count is that of a vectorised function: only the CPU time gives it away.
        assert_vectorised(looped_in_comprehension, (np.ones((2, 3)),), (np.ones((2, 3)),), "looped", long_args=long)


def test_cpu_seconds_measures_this_process_or_asks_the_grader():
    result, seconds = cpu_seconds(looped, np.ones((20_000, 2)))
    np.testing.assert_array_equal(result, np.full(20_000, 2.0))
    assert seconds > 0

    def proxy(x):
        raise AssertionError("the proxy's own clock is used, not a call here")

    proxy.__module__ = "autograder.replay"
    proxy.__dl_cpu_seconds__ = lambda x, limit=None: ("answer", 1.5)
    assert cpu_seconds(proxy, 1) == ("answer", 1.5)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (np.array([1.0, np.nan]), np.array([1.0, np.nan]), True),
        (np.array([1.0, 2.0]), np.array([1.0, 2.5]), False),
        (np.zeros((2, 3)), np.zeros((3, 2)), False),
        ((np.ones(2), {"cols": np.ones(3)}), (np.ones(2), {"cols": np.ones(3)}), True),
        ((np.ones(2), {"cols": np.ones(3)}), (np.ones(2), {"cols": np.zeros(3)}), False),
        ((np.ones(2), object()), (np.ones(2), object()), True),  # what is not data is not compared
        ([1, 2.0], [1, 2.0], True),
        (None, np.zeros(1), False),
    ],
)
def test_same_result(a, b, same):
    assert same_result(a, b) is same


def test_a_timed_call_is_stopped_once_its_verdict_is_known():
    """A loop over a million elements with numpy work inside runs for many seconds: the timed call
    stops at its CPU limit, and the message says the time was more than that."""

    def slow(x):
        return np.array([np.sum(row * row) + np.max(row) for row in x])

    start = time.process_time()
    with pytest.raises(CPUTimeExceeded):
        cpu_seconds(slow, np.ones((1_000_000, 2)), limit=0.5)
    assert time.process_time() - start < 3
    with pytest.raises(AssertionError, match="took more than 2.00 s of CPU"):
        assert_vectorised(
            slow, (np.ones((2, 2)),), (np.ones((2, 2)),), "slow", long_args=[("rows", (np.ones((2_000_000, 2)),))]
        )


def test_a_quick_wrong_answer_on_a_long_input_fails():
    """Answering a long input without computing it is quick: the answer is compared with a reference."""

    def lazy(x):
        return np.zeros(1) if x.size >= 100_000 else vectorised(x)

    long = [("the rows", (np.ones((1_000_000, 2)),))]
    reference = lambda x: np.pad(x, 1).sum(axis=1)  # noqa: E731
    assert_vectorised(vectorised, (np.ones((2, 3)),), (np.ones((50, 3)),), "v", long_args=long, reference=reference)
    with pytest.raises(AssertionError, match="wrong answer on the input that is long along the rows"):
        assert_vectorised(lazy, (np.ones((2, 3)),), (np.ones((50, 3)),), "lazy", long_args=long, reference=reference)
