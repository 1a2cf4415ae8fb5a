"""The integrity scan flags code that could defeat the tests, and leaves ordinary answers alone."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.integrity import flag_notebook, flags_in_source


@pytest.mark.parametrize(
    "source, reason",
    [
        ("import utils\nutils.assert_close = lambda *a, **k: None", "changes utils.assert_close"),
        ("import numpy as onp\nonp.allclose = lambda *a, **k: True", "changes onp.allclose"),
        ("np.testing.assert_allclose = print", "changes np.testing.assert_allclose"),
        ("setattr(utils, 'assert_close', print)", "calls setattr()"),
        ("import sys\nsys.modules['utils'] = None", "uses sys.modules"),
        ("import os\nos._exit(0)", "uses os._exit"),
        ("open('backprop.ipynb').read()", "refers to a notebook file"),
        ("__builtins__.AssertionError = Exception", "uses __builtins__"),
    ],
)
def test_flags_tampering(source, reason):
    assert any(reason in flag for flag in flags_in_source(source)), flags_in_source(source)


@pytest.mark.parametrize(
    "source",
    [
        "def relu_forward(x):\n    out = np.maximum(0, x)\n    return out, x",
        "class MLP:\n    def __init__(self):\n        self.params = {}\n        self.params['W1'] = np.zeros(3)",
        "cache = {}\ncache['x'] = 1\nout = x @ W + b",
        "def f(x):\n    %timeit x\n    return x",
        "this is not python (",
    ],
)
def test_ordinary_answers_are_not_flagged(source):
    assert flags_in_source(source) == []


def test_locked_cells_are_skipped_but_fake_metadata_is_not():
    nb = new_notebook(
        cells=[
            new_code_cell("utils.assert_close = None", metadata={"nbgrader": {"grade_id": "cell-abc", "locked": True}}),
            new_code_cell("utils.assert_close = None", metadata={"nbgrader": {"grade_id": "made-up", "locked": True}}),
            new_code_cell("np.allclose = None"),
        ]
    )
    flags = flag_notebook(nbformat.from_dict(nb), locked_ids={"cell-abc"})
    assert len(flags) == 2
    assert flags[0].startswith("made-up") and flags[1].startswith("added cell 3")


def test_a_torch_models_modules_are_not_sys_modules():
    from autograder.integrity import flags_in_source

    assert flags_in_source("def count(model):\n    return sum(1 for m in model.modules())") == []
    assert flags_in_source("import sys\nsys.modules['numpy'] = None") != []
    assert any("sys.modules" in f for f in flags_in_source("import sys\nx = sys.modules"))


@pytest.mark.parametrize(
    "source, reason",
    [
        ("x = " + "-" * 100_000 + "1", "could not be scanned (MemoryError)"),
        ("y = np" + ".a" * 3000, "could not be scanned (RecursionError)"),
        ("z = 1\n" * 30_000, "could not be scanned (180000 characters"),
    ],
)
def test_code_the_scan_cannot_read_is_a_flag_not_a_failure(source, reason):
    assert [f for f in flags_in_source(source) if f.startswith(reason)], flags_in_source(source)


def test_made_up_nbgrader_metadata_is_scanned_not_trusted():
    nb = new_notebook(
        cells=[
            new_code_cell("np.allclose = None", metadata={"nbgrader": "not a dict"}),
            new_code_cell("np.allclose = None", metadata={"nbgrader": {"grade_id": ["not", "hashable"]}}),
        ]
    )
    flags = flag_notebook(nbformat.from_dict(nb), locked_ids={"cell-abc"})
    assert flags == ["added cell 1 changes np.allclose", "added cell 2 changes np.allclose"]


def test_a_notebook_too_long_to_scan_says_where_the_scan_stopped():
    cells = [new_code_cell("a = 1\n" * 20_000) for _ in range(10)]  # 120 KB each, 1.2 MB in all
    flags = flag_notebook(nbformat.from_dict(new_notebook(cells=cells)), locked_ids=set())
    assert flags == ["added cell 9 and the cells after it could not be scanned (over 1048576 characters)"]
