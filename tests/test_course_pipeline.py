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
from conftest import ASSIGNMENTS, UNSAFE, assignment_notebooks
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


def _checked_outside(graded, student: str) -> dict[str, dict]:
    """Per assignment, what ``autograder.replay`` found when it repeated the tests outside the kernel."""
    found = {}
    for path in sorted((graded / "course" / "autograded" / student).glob("*/*.ipynb")):
        found[path.parent.name] = read_notebook(path).metadata["dl_grading"]["checked_outside_the_kernel"]
    return found


def test_the_reference_passes_every_test_again_outside_the_kernel(demo_run):
    _, _, tmp = demo_run
    for student in demo.EXAMPLE_STUDENTS:
        summaries = _checked_outside(tmp / "graded", student)
        assert set(summaries) == {p.parent.name for p in assignment_notebooks()}
        for assignment, summary in summaries.items():
            assert summary["failed"] == summary["not trusted"] == [], (student, assignment, summary)
            if student == "reference":
                assert summary["failed in the kernel"] == [] and len(summary["passed"]) >= 7, (assignment, summary)
            if student == "blank":
                assert summary["passed"] == [], (assignment, summary)


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


# A correct answer that goes through torch, three ways: an alias, a tensor method, autograd. Each
# wraps the independent solution's own function, so only the use of torch can cost the points.
TORCH_SHORTCUTS = {
    "01_backprop": (
        "linear_forward",
        "from torch.nn.functional import linear as _lin\n"
        "def linear_forward(x, W, b, _own=linear_forward):\n"
        "    out, cache = _own(x, W, b)\n"
        "    return _lin(torch.as_tensor(x), torch.as_tensor(W).T, torch.as_tensor(b)).numpy(), cache",
    ),
    "02_batchnorm_dropout": (
        "dropout_forward",
        "import torch as tt\n"
        "def dropout_forward(*args, _own=dropout_forward, **kwargs):\n"
        "    out, cache = _own(*args, **kwargs)\n"
        "    return tt.as_tensor(out).clone().numpy(), cache",
    ),
    "03_convolutions": (
        "conv_forward_naive",
        "def conv_forward_naive(*args, _own=conv_forward_naive, **kwargs):\n"
        "    out, cache = _own(*args, **kwargs)\n"
        "    t = torch.tensor(out, requires_grad=True)\n"
        "    (t * 1.0).sum().backward()\n"
        "    return out, cache",
    ),
}


# Assignment 4's torch parts done with what the rules forbid: torchvision's own block, the course's
# own counter. Each wraps nothing of the independent solution.
BYPASSES = {
    "ResidualBlock": (
        "from torchvision.models.resnet import BasicBlock as _Basic\n"
        "class ResidualBlock(_Basic):\n"
        "    def __init__(self, in_channels, out_channels, stride=1):\n"
        "        down = None\n"
        "        if stride != 1 or in_channels != out_channels:\n"
        "            down = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),\n"
        "                                 nn.BatchNorm2d(out_channels))\n"
        "        super().__init__(in_channels, out_channels, stride, down)"
    ),
    "count_params_macs": (
        "import utils.architectures as _counts\n"
        "def count_params_macs(model, input_shape):\n"
        "    return int(sum(p.numel() for p in model.parameters())), int(_counts.macs(model, input_shape))"
    ),
}


@pytest.fixture(scope="module")
def independent_run(tmp_path_factory):
    """Every assignment's independently written solution, handed in as a student would; and the
    same solutions with one numpy function going through torch (TORCH_SHORTCUTS)."""
    tmp = tmp_path_factory.mktemp("independent")
    for assignment in all_assignments():
        nb = assignment.independent_notebook()
        write_notebook(nb, tmp / "submissions" / "independent" / assignment.folder / assignment.path.name)
        if assignment.folder in TORCH_SHORTCUTS:
            name, shortcut = TORCH_SHORTCUTS[assignment.folder]
            cell = next(c for c in nb.cells if f"def {name}(" in c.source)
            cell.source += "\n\n\nimport torch\n" + shortcut
            write_notebook(nb, tmp / "submissions" / "torch_user" / assignment.folder / assignment.path.name)
        if assignment.folder == "04_cnn_architectures":
            bypassed = assignment.independent_notebook()
            for name, bypass in BYPASSES.items():
                cell = next(c for c in bypassed.cells if f"class {name}(" in c.source or f"def {name}(" in c.source)
                cell.source += "\n\n\n" + bypass
            write_notebook(bypassed, tmp / "submissions" / "bypasser" / assignment.folder / assignment.path.name)
    report = grade(tmp / "submissions", tmp / "graded", progress=False, unsafe=UNSAFE)
    return report, tmp / "graded"


def test_assignment_4s_bypasses_score_zero_on_their_tests_with_a_message(independent_run):
    from nbgrader.api import Gradebook

    report, out = independent_run
    assignment = "04_cnn_architectures"
    [notebook] = [p.stem for p in (ASSIGNMENTS / assignment).glob("*.ipynb")]
    with Gradebook(f"sqlite:///{out / 'course' / 'gradebook.db'}") as gb:
        for name in BYPASSES:
            grade_ = gb.find_grade(f"test-{name}", notebook, assignment, "bypasser")
            assert grade_.score == 0 < grade_.max_score, f"{name}'s bypass kept {grade_.score} points"
        top_k = gb.find_grade("test-top_k_error", notebook, assignment, "bypasser")
        assert top_k.score == top_k.max_score, "a test the bypasses do not touch lost points"
    [path] = (out / "course" / "autograded" / "bypasser" / assignment).glob("*.ipynb")
    said = {
        c.metadata["nbgrader"]["grade_id"]: " ".join(o.get("evalue", "") for o in c.outputs if o.output_type == "error")
        for c in read_notebook(path).cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
    }
    # The test's own visible checks name each bypass (the grader's source reading stands behind them).
    assert "BasicBlock" in said["test-ResidualBlock"], said["test-ResidualBlock"]
    assert "forward hook" in said["test-count_params_macs"], said["test-count_params_macs"]


def test_independent_solutions_earn_full_marks_through_nbgrader(independent_run):
    report, graded = independent_run
    assert not [p for p in report.problems if p.student == "independent"], [str(p) for p in report.problems]
    for assignment in report.assignments:
        got, out_of = report.scores[("independent", assignment)]
        assert got == out_of > 0, f"{assignment}: the independent solution scored {got}/{out_of}"
    for assignment, summary in _checked_outside(graded, "independent").items():
        assert summary["failed"] == summary["failed in the kernel"] == [] and summary["passed"], (assignment, summary)


@pytest.mark.parametrize("assignment", sorted(TORCH_SHORTCUTS))
def test_torch_inside_a_numpy_function_scores_zero_on_its_test(independent_run, assignment):
    from nbgrader.api import Gradebook

    report, out = independent_run
    name, _ = TORCH_SHORTCUTS[assignment]
    [notebook] = [p.stem for p in (ASSIGNMENTS / assignment).glob("*.ipynb")]
    with Gradebook(f"sqlite:///{out / 'course' / 'gradebook.db'}") as gb:
        test = TORCH_SHORTCUT_TESTS[assignment]
        grade_ = gb.find_grade(test, notebook, assignment, "torch_user")
        assert grade_.score == 0 < grade_.max_score, f"{test} kept {grade_.score} points"
        others = gb.find_grade("test-" + TORCH_SHORTCUT_UNTOUCHED[assignment], notebook, assignment, "torch_user")
        assert others.score == others.max_score, "a test that never calls the torch shortcut lost points"
    said = [str(p) for p in report.problems if p.student == "torch_user" and p.assignment == assignment]
    assert any(f"NumpyOnlyError: {name} calls torch" in s for s in said), said


# The test of the function with the shortcut.
TORCH_SHORTCUT_TESTS = {
    "01_backprop": "test-linear",
    "02_batchnorm_dropout": "test-dropout_forward",
    "03_convolutions": "test-conv_forward_naive",
}
# A test in the same notebook that does not call the function with the shortcut.
TORCH_SHORTCUT_UNTOUCHED = {
    "01_backprop": "relu",
    "02_batchnorm_dropout": "batchnorm_forward",
    "03_convolutions": "conv_output_size",
}
