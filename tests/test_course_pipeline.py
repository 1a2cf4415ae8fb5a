"""The real course through the real pipeline: `python -m autograder demo` in a temporary folder.

The reference solution of every assignment earns full marks, the blank release zero, a partly
solved notebook something in between; released notebooks carry no solution and no hidden test.
"""

from __future__ import annotations

import csv

import pytest

from autograder import demo
from autograder.course import grade
from autograder.notebooks import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    END_HIDDEN,
    END_SOLUTION,
    read_notebook,
    tag_notebook,
    visible_source,
)
from conftest import ASSIGNMENTS, assignment_notebooks
from harness import all_assignments, write_notebook

pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("course-demo")]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("course")
    report, failures = demo.run(tmp / "graded", tmp / "release", progress=False)
    return report, failures, tmp


def test_demo_grades_reference_full_blank_zero_partial_between(demo_run):
    report, failures, _ = demo_run
    assert set(report.assignments) == {p.parent.name for p in assignment_notebooks()}
    assert not failures, "\n".join(failures) + "\n" + report.table()
    assert not report.problems, [str(p) for p in report.problems]


def test_grades_csv_and_feedback(demo_run):
    report, _, tmp = demo_run
    with open(tmp / "graded" / "grades.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(report.assignments) * len(demo.EXAMPLE_STUDENTS)
    for student in demo.EXAMPLE_STUDENTS:
        for path in assignment_notebooks():
            html = tmp / "graded" / "feedback" / student / path.parent.name / path.with_suffix(".html").name
            assert html.stat().st_size > 1000, html


def _code_lines(source: str) -> list[str]:
    return [line.rstrip() for line in source.splitlines() if line.strip()]


def _between(source: str, begin: str, end: str) -> list[str]:
    lines, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside and line.strip() and not line.strip().startswith("#"):
            lines.append(line.strip())
    return lines


@pytest.mark.parametrize("path", assignment_notebooks(), ids=lambda p: p.parent.name)
def test_release_carries_no_solution_and_no_hidden_test(demo_run, path):
    _, _, tmp = demo_run
    released = read_notebook(tmp / "release" / path.parent.name / path.name)
    source = tag_notebook(read_notebook(path))
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in released.cells}
    text = "\n".join(c.source for c in released.cells)
    for marker in (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN):
        assert marker not in text
    for cell in source.cells:
        meta = cell.metadata["nbgrader"]
        rel = by_id[meta["grade_id"]]
        if meta["solution"]:
            assert "raise NotImplementedError()" in rel.source
            leaked = set(_between(cell.source, BEGIN_SOLUTION, END_SOLUTION)) & set(
                map(str.strip, rel.source.splitlines())
            )
            assert not leaked, f"{meta['grade_id']} leaks solution lines: {leaked}"
        if meta["grade"]:
            hidden = set(_between(cell.source, BEGIN_HIDDEN, END_HIDDEN))
            visible = visible_source(cell.source)
            leaked = (hidden - set(map(str.strip, visible.splitlines()))) & set(map(str.strip, rel.source.splitlines()))
            assert not leaked, f"{meta['grade_id']} leaks hidden tests: {leaked}"
            # What the tests run as "the visible test" is what nbgrader really releases.
            assert _code_lines(rel.source) == _code_lines(visible), meta["grade_id"]
    assert (ASSIGNMENTS / path.parent.name).is_dir()


@pytest.fixture(scope="module")
def independent_run(tmp_path_factory):
    """Every assignment's independently written solution, handed in as a student would."""
    tmp = tmp_path_factory.mktemp("independent")
    for assignment in all_assignments():
        write_notebook(
            assignment.independent_notebook(),
            tmp / "submissions" / "independent" / assignment.folder / assignment.path.name,
        )
    return grade(tmp / "submissions", tmp / "graded", progress=False)


def test_independent_solutions_earn_full_marks_through_nbgrader(independent_run):
    report = independent_run
    assert not report.problems, [str(p) for p in report.problems]
    for assignment in report.assignments:
        got, out_of = report.scores[("independent", assignment)]
        assert got == out_of > 0, f"{assignment}: the independent solution scored {got}/{out_of}"
