"""A tiny assignment built at test time, to exercise the grading pipeline quickly and in isolation."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.course import KERNELSPEC

ASSIGNMENT, NOTEBOOK = "00_fixture", "fixture.ipynb"
SETUP = "import numpy as np\nimport utils\nutils.setup_notebook(seed=0)"
ADD = "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION"
SQUARE = "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION"
TEST_ADD = (
    "# Test: add (2 points)\nassert add(1, 2) == 3, 'add(1, 2) should be 3'\n"
    "### BEGIN HIDDEN TESTS\nassert add(-5, 5) == 0, 'hidden: add(-5, 5) should be 0'\n### END HIDDEN TESTS"
)
TEST_SQUARE = "# Test: square (3 points)\nassert square(3) == 9, 'square(3) should be 9'"
MAX_SCORE = 5.0


def build(source: Path, setup: str = SETUP) -> Path:
    """Write ``source/00_fixture/fixture.ipynb`` and return ``source``."""
    nb = new_notebook(
        cells=[
            new_markdown_cell("# A fixture assignment"),
            new_code_cell(setup),
            new_code_cell(ADD),
            new_code_cell(TEST_ADD),
            new_code_cell(SQUARE),
            new_code_cell(TEST_SQUARE),
        ]
    )
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    path = source / ASSIGNMENT / NOTEBOOK
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return source


def answer(released: nbformat.NotebookNode, add: str | None = None, square: str | None = None) -> nbformat.NotebookNode:
    """A student's copy of the released notebook with the given bodies for the two functions."""
    nb = nbformat.from_dict(released)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "solution-add" and add is not None:
            cell.source = add
        if gid == "solution-square" and square is not None:
            cell.source = square
    return nb
