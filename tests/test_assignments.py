"""The generic checks, once for every assignment (the harness finds the folders).

For each assignment: the reference passes every test cell, visible and hidden; the blank release
fails every one (scores zero); the points table in the notebook agrees with the test cells and adds
up; the independently written solution in tests/independent/ earns every point. The real nbgrader
pipeline (reference full marks, blank zero) runs in tests/test_course_pipeline.py.
"""

from __future__ import annotations

import pytest

from harness import Assignment, all_assignments, points_table

ASSIGNMENTS = all_assignments()
CELLS = [(a, name) for a in ASSIGNMENTS for name in a.test_names()]


def _ids(case) -> str:
    return f"{case[0].marker}-{case[1]}" if isinstance(case, tuple) else case.marker


def _marked(cases):
    return [pytest.param(c, marks=(c[0] if isinstance(c, tuple) else c).marks, id=_ids(c)) for c in cases]


@pytest.mark.parametrize("case", _marked(CELLS))
def test_reference_passes_test_cell(case):
    assignment, name = case
    outcome = assignment.run_test(name)
    assert outcome, f"{assignment.folder}: the reference fails test {name!r}:\n{outcome.message}"
    visible = assignment.run_test(name, hidden=False)
    assert visible, f"{assignment.folder}: the reference fails the visible part of {name!r}:\n{visible.message}"


@pytest.mark.parametrize("case", _marked(CELLS))
def test_blank_release_fails_test_cell(case):
    assignment, name = case
    outcome = assignment.run_test(name, namespace=assignment.blank())
    assert not outcome, f"{assignment.folder}: test {name!r} passes on the blank release"


@pytest.mark.parametrize("case", _marked(CELLS))
def test_independent_solution_passes_test_cell(case):
    assignment, name = case
    outcome = assignment.run_test(name, namespace=assignment.independent())
    assert outcome, (
        f"{assignment.folder}: the independent solution {assignment.independent_path().name} "
        f"fails test {name!r}:\n{outcome.message}"
    )


@pytest.mark.parametrize("assignment", _marked(ASSIGNMENTS))
def test_points_table_matches_test_cells(assignment: Assignment):
    table, total = points_table(assignment.source)
    assert table == assignment.points(), (
        f"{assignment.folder}: the points table says {table}, the test cells {assignment.points()}"
    )
    assert total == sum(assignment.points().values()), f"{assignment.folder}: the total row says {total}"


@pytest.mark.parametrize("assignment", _marked(ASSIGNMENTS))
def test_every_graded_function_has_a_test(assignment: Assignment):
    assert assignment.graded_functions(), f"{assignment.folder} has no solution cells"
    tests = "\n".join(assignment.test_source(name) for name in assignment.test_names())
    untested = [f for f in assignment.graded_functions() if f not in tests]
    assert not untested, f"{assignment.folder}: no test cell calls {untested}"


@pytest.mark.parametrize("assignment", _marked(ASSIGNMENTS))
def test_the_stated_count_of_test_cells_and_points_is_right(assignment: Assignment):
    """ "There are N test cells worth M points" in the notebook's text says what the cells are."""
    import re

    text = "\n".join(c.source for c in assignment.source.cells if c.cell_type == "markdown")
    for cells, points in re.findall(r"(\d+) test cells worth (\d+) points", text):
        assert int(cells) == len(assignment.test_names()), f"{assignment.folder}: the text says {cells} test cells"
        assert float(points) == sum(assignment.points().values()), f"{assignment.folder}: the text says {points}"
