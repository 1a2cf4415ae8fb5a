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
    "a star import from the implementation's own module (red team 2)": (
        "from scipy.signal._signaltools import *\ndef conv_forward_naive(x):\n    return correlate(x, x)"
    ),
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
    "pkgutil.resolve_name with a colon (red team, torch room)": (
        "import pkgutil\ndef conv_forward_naive(x):\n    return pkgutil.resolve_name('scipy.signal:correlate')(x, x)"
    ),
    "string.Formatter().get_field, a getattr under another name (red team 2)": (
        "import string\ndef conv_forward_naive(x):\n    get = string.Formatter().get_field\n"
        "    return get('0.sliding_' + 'window_view', (np.lib.stride_tricks,), {})[0](x, 2)"
    ),
    "timeit running a string (red team 2)": (
        "import timeit\nHOLD = {}\ndef conv_forward_naive(x):\n"
        "    timeit.timeit('import numpy as np; HOLD[0] = np.lib.stride_tricks', number=1, globals={'HOLD': HOLD})\n"
        "    return x"
    ),
    "pydoc.locate (red team)": (
        "import pydoc\ndef conv_forward_naive(x):\n    return pydoc.locate('scipy.' + 'signal.corr' + 'elate')(x, x)"
    ),
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


LOAD_TIME = {
    "a class swapped in place by an added cell (red team)": (
        "from torchvision.models.resnet import BasicBlock\n"
        "_borrowed = type.__setattr__(ResidualBlock, 'forward', BasicBlock.forward)"
    ),
    "the room's resolver switched off by an assignment (red team)": (
        "import types\nimport dl_grading_agent\n"
        "_off = types.ModuleType.__setattr__(dl_grading_agent, 'forbidden_callables', lambda names: {})"
    ),
    "a class body that patches the room's server": (
        "import sys\nclass Patch:\n    server = getattr(sys.modules['__main__'], 'Server', None)"
    ),
    "a decorator": "def deco(f):\n    return f\n@deco(getattr)\ndef helper(x):\n    return x",
}


@pytest.mark.parametrize("source", LOAD_TIME.values(), ids=LOAD_TIME.keys())
def test_code_that_runs_as_the_room_loads_and_reaches_names_built_at_run_time_is_not_run(source):
    from autograder.cleanroom import loadable
    from autograder.shortcuts import unsafe_at_load

    assert unsafe_at_load(source, {"ResidualBlock": ["torchvision.models.resnet.BasicBlock"]})
    [(label, kept)], dropped = loadable([["cell 7", source]], {})
    assert dropped and dropped[0][0] == "cell 7"
    assert "getattr" not in kept and "__setattr__" not in kept and kept.count("\n") == source.count("\n")


def test_definitions_constants_and_imports_load():
    from autograder.shortcuts import unsafe_at_load

    honest = (
        "import sys\nimport numpy as np\nLOOKUP = np.arange(9)\n"
        "class Block:\n    scale = 2.0\n    def forward(self, x):\n        return getattr(x, 'sum')()\n"
        "def helper(x, axis=0):\n    return x.sum(axis)\n"
    )
    assert unsafe_at_load(honest, {"conv_forward_naive": ["scipy.signal.correlate"]}) == []


def test_a_forbidden_class_is_watched_through_its_methods():
    """Calling a class, or its method on the student's own object, fires no profile event for the
    class itself (red team): its methods' code is in the watched set."""
    from torchvision.models.resnet import BasicBlock

    from autograder.agent import forbidden_callables

    ids = forbidden_callables(["torchvision.models.resnet.BasicBlock"])
    assert id(BasicBlock.forward.__code__) in ids and id(BasicBlock.__init__.__code__) in ids
