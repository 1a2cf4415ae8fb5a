"""Committed notebooks are clean, and assignment notebooks are well-formed nbgrader sources."""

from __future__ import annotations

import ast

import nbformat
import pytest

from autograder.notebooks import cell_kind, grading_summary, read_notebook, strip_magics, tag_file
from conftest import ROOT, assignment_notebooks, course_notebooks


@pytest.mark.parametrize("path", course_notebooks(), ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i + 1 for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"cells {dirty} carry outputs; the course commits notebooks clean"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", assignment_notebooks(), ids=lambda p: str(p.relative_to(ROOT)))
def test_assignment_metadata_is_up_to_date(path):
    assert not tag_file(path, check=True), f"run `python -m autograder tag {path.relative_to(ROOT)}`"


@pytest.mark.parametrize("path", assignment_notebooks(), ids=lambda p: str(p.relative_to(ROOT)))
def test_assignment_has_graded_tests_for_its_solutions(path):
    nb = read_notebook(path)
    kinds = [cell_kind(c) for c in nb.cells]
    assert kinds.count("solution") >= 1 and kinds.count("test") >= 1
    points = grading_summary(nb)
    assert all(p > 0 for p in points.values()), points
    assert kinds.index("solution") < kinds.index("test"), "a test comes before anything to test"
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert "utils.setup_notebook(" in first_code.source, "the first code cell must call utils.setup_notebook()"


@pytest.mark.parametrize("path", assignment_notebooks(), ids=lambda p: str(p.relative_to(ROOT)))
def test_test_cells_do_not_end_in_a_value(path):
    """nbgrader reads a numeric last value of a test cell as partial credit."""
    for index, cell in enumerate(read_notebook(path).cells):
        if cell_kind(cell) != "test":
            continue
        body = ast.parse(strip_magics(cell.source)).body
        last = body[-1] if body else None
        assert not (isinstance(last, ast.Expr) and not isinstance(last.value, ast.Call)), (
            f"test cell {index + 1} ends with a bare expression"
        )


def test_locked_cell_grade_ids_survive_edits_of_their_text():
    """Correcting a locked cell after release must not orphan the students' copies of it."""
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    from autograder.notebooks import tag_notebook

    nb = new_notebook(
        cells=[
            new_markdown_cell("# Title"),
            new_code_cell("import utils"),
            new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"),
            new_code_cell("# Test: f (1 point)\nassert f() == 1"),
        ]
    )
    before = [c.metadata["nbgrader"]["grade_id"] for c in tag_notebook(nb).cells]
    nb.cells[0].source = "# A corrected title"
    nb.cells[1].source = "import numpy as np\nimport utils"
    after = [c.metadata["nbgrader"]["grade_id"] for c in tag_notebook(nb).cells]
    assert before == after
    assert before[0] == f"cell-{nb.cells[0].id}"
