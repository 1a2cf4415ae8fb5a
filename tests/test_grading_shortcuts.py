"""autograder.shortcuts: the ruled-out shortcuts a function's source reaches, read outside any
process that runs the student's code (which could change a watch that runs there)."""

from __future__ import annotations

import pytest

from autograder.shortcuts import reached_shortcuts

FORBIDDEN = {"conv_forward_naive": ["numpy.lib.stride_tricks.sliding_window_view", "scipy.signal.correlate"]}
HEAD = "import numpy as np\n"

REACHES = {
    "a direct call": "def conv_forward_naive(x):\n    return np.lib.stride_tricks.sliding_window_view(x, 2)",
    "an imported alias in a helper": (
        "from numpy.lib.stride_tricks import sliding_window_view as windows\n"
        "def helper(x):\n    return windows(x, 2)\ndef conv_forward_naive(x):\n    return helper(x)"
    ),
    "a top-level name": "S = np.lib.stride_tricks.sliding_window_view\ndef conv_forward_naive(x):\n    return S(x, 2)",
    "a method": (
        "class Windows:\n    def of(self, x):\n        return np.lib.stride_tricks.sliding_window_view(x, 2)\n"
        "def conv_forward_naive(x):\n    return Windows().of(x)"
    ),
    "a module's attribute although a function of that name exists": (
        "import scipy.signal\ndef correlate(a, b):\n    return a\n"
        "def conv_forward_naive(x):\n    return scipy.signal.correlate(x, x)"
    ),
    "a star import": "from scipy.signal import *\ndef conv_forward_naive(x):\n    return correlate(x, x)",
}
HIDDEN = {
    "a copy made by another function through a global (red team)": (
        "def _prepare():\n    global _windows\n    real = np.lib.stride_tricks.as_strided\n"
        "    _windows = type(real)(real.__code__.replace(co_name='w'), real.__globals__)\n"
        "_ready = _prepare()\ndef conv_forward_naive(x):\n    return _windows(x, (2,), (8,))"
    ),
    "inspect.getattr_static (red team)": (
        "import inspect\ndef conv_forward_naive(x):\n"
        "    return inspect.getattr_static(np.lib.stride_tricks, 'as_' + 'strided')(x, (2,), (8,))"
    ),
    "a name in a string": (
        "def conv_forward_naive(x):\n    return np.lib.stride_tricks.__dict__['sliding_window_view'](x, 2)"
    ),
    "getattr": "def conv_forward_naive(x):\n    return getattr(np.lib.stride_tricks, 'sliding_' + 'window_view')(x, 2)",
    "sys.modules": (
        "import sys\ndef conv_forward_naive(x):\n"
        "    return vars(sys.modules['numpy.lib.stride_tricks'])[''.join(['sliding', '_window_view'])](x, 2)"
    ),
    "eval": "def conv_forward_naive(x):\n    return eval('np.lib.stride_tricks.sliding_' + 'window_view')(x, 2)",
}
HONEST = {
    "loops": (
        "def conv_forward_naive(x):\n    out = np.zeros(len(x) - 1)\n    for i in range(len(x) - 1):\n"
        "        out[i] = x[i] + x[i + 1]\n    return out"
    ),
    "its own correlate": (
        "def correlate(a, b):\n    return (a * b).sum()\ndef conv_forward_naive(x):\n    return correlate(x, x)"
    ),
    "a shortcut in another function": (
        "def im2col(x):\n    return np.lib.stride_tricks.sliding_window_view(x, 2)\n"
        "def conv_forward_naive(x):\n    return x[1:] + x[:-1]"
    ),
    "a docstring naming a ruled-out callable (red team)": (
        'def conv_forward_naive(x):\n    """Correlate each window with each filter, no sliding_window_view."""\n'
        "    return x[1:] * x[:-1]"
    ),
    "numpy's star import (red team)": "from numpy import *\ndef conv_forward_naive(x):\n    return x[1:] * x[:-1]",
    "a method named like a builtin (red team)": "def conv_forward_naive(model):\n    model.eval()\n    return model",
    "top-level names that share a name with the function's locals (red team)": (
        "import re\nx = 1\nF = re.compile('a')\ndef conv_forward_naive(x):\n    F = x[1:]\n    return F * x[:-1]"
    ),
    "a local variable named like a ruled-out callable": (
        "def conv_forward_naive(x):\n    correlate = x[1:] * x[:-1]\n    return correlate"
    ),
    "a variable whose name contains a ruled-out one": (
        "def conv_forward_naive(x):\n    correlated = x[1:] * x[:-1]\n    return correlated"
    ),
}


@pytest.mark.parametrize("source", REACHES.values(), ids=REACHES.keys())
def test_a_ruled_out_callable_the_function_reaches_is_named(source):
    [(function, said)] = reached_shortcuts([["cell 3", HEAD + source]], FORBIDDEN).items()
    assert function == "conv_forward_naive" and said.startswith("mentions ") and "(cell 3, line " in said, said


@pytest.mark.parametrize("source", HIDDEN.values(), ids=HIDDEN.keys())
def test_a_callable_reached_by_a_name_built_at_run_time_counts_as_a_shortcut(source):
    said = reached_shortcuts([["cell 3", HEAD + source]], FORBIDDEN)["conv_forward_naive"]
    assert "names built as it runs" in said or said.startswith("mentions ")


@pytest.mark.parametrize("source", HONEST.values(), ids=HONEST.keys())
def test_honest_code_reaches_nothing(source):
    assert reached_shortcuts([["cell 3", HEAD + source]], FORBIDDEN) == {}


def test_code_spread_over_cells_and_a_cell_that_does_not_parse():
    blocks = [
        ["cell 1", HEAD],
        ["cell 2", "def conv_forward_naive(x):\n    return helper(x)"],
        ["cell 3", "def broken(:\n"],
        ["cell 4", "def helper(x):\n    return np.lib.stride_tricks.sliding_window_view(x, 2)"],
    ]
    assert "(cell 4, line 2)" in reached_shortcuts(blocks, FORBIDDEN)["conv_forward_naive"]


def test_a_method_is_named_in_its_own_cell():
    blocks = [
        [
            "cell 2",
            "import numpy as np\nclass Windows:\n    def of(self, x):\n"
            "        return np.lib.stride_tricks.sliding_window_view(x, 2)",
        ],
        ["cell 5", "def conv_forward_naive(x):\n    return Windows().of(x)"],
    ]
    assert "(cell 2, line 4)" in reached_shortcuts(blocks, FORBIDDEN)["conv_forward_naive"]
