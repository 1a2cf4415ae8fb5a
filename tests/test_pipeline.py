"""The real nbgrader pipeline on a tiny fixture assignment: release, then grade a class of
submissions in which most things that can go wrong do, and check that each costs only its owner."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import fixture_course as fx
from autograder.course import PipelineError, Reason, grade, release
from conftest import ROOT, UNSAFE

pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("pipeline-fixture")]

WARNING_ADD = (
    "import warnings\nimport numpy as np\n\ndef add(a, b):\n"
    "    warnings.warn('a harmless warning from student code')\n"
    "    np.exp(np.array([1000.0]))  # overflow: RuntimeWarning\n"
    "    return a + b"
)
NBGRADER_COLUMNS = [
    "assignment",
    "duedate",
    "timestamp",
    "student_id",
    "last_name",
    "first_name",
    "email",
    "raw_score",
    "late_submission_penalty",
    "score",
    "max_score",
]


def put(
    submissions: Path, student: str, nb: nbformat.NotebookNode, name: str = fx.NOTEBOOK, assignment: str = fx.ASSIGNMENT
) -> None:
    path = submissions / student / assignment / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade one class of fixture submissions; return (report, out folder, released notebook)."""
    tmp = tmp_path_factory.mktemp("pipeline")
    source = fx.build(tmp / "source")
    [released_path] = release(tmp / "release", source)
    released = nbformat.read(released_path, as_version=4)
    subs = tmp / "submissions"

    put(subs, "reference", fx.answer(released, fx.ADD, fx.SQUARE))
    put(subs, "blank", released)
    # Passes the visible test only: the hidden test must be restored at grading and catch it.
    put(subs, "hardcoded", fx.answer(released, "def add(a, b):\n    return 3", fx.SQUARE))
    put(subs, "endless", fx.answer(released, fx.ADD, "while True:\n    pass"))
    put(subs, "crashing", fx.answer(released, "raise RuntimeError('student bug')", fx.SQUARE))
    put(subs, "kernel_killer", fx.answer(released, "import os\nos._exit(1)", fx.SQUARE))
    put(subs, "warnings", fx.answer(released, WARNING_ADD, fx.SQUARE))
    tampered = fx.answer(released, "def add(a, b):\n    return 0", fx.SQUARE)
    for cell in tampered.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test-add":
            cell.source = "# Test: add (2 points)\npass"
    put(subs, "tampered", tampered)
    foreign = fx.answer(released, fx.ADD, fx.SQUARE)
    foreign.metadata["kernelspec"] = {
        "name": "conda-env-elsewhere-py",
        "display_name": "Elsewhere",
        "language": "python",
    }
    put(subs, "foreign_kernel", foreign)
    put(
        subs,
        "monkeypatcher",
        fx.answer(released, "import numpy\nnumpy.allclose = lambda *a, **k: True\n" + fx.ADD, fx.SQUARE),
    )
    (subs / "not_json" / fx.ASSIGNMENT).mkdir(parents=True)
    (subs / "not_json" / fx.ASSIGNMENT / fx.NOTEBOOK).write_text("{ this is not a notebook")
    (subs / "missing" / fx.ASSIGNMENT).mkdir(parents=True)
    put(subs, "renamed", fx.answer(released, fx.ADD, fx.SQUARE), name="my_fixture.ipynb")
    put(subs, "unknown_assignment", released, assignment="99_nope")
    (subs / "stray_file.txt").write_text("not a student")

    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYTHONWARNINGS", "always")  # kernels inherit it: warnings are on unless the notebook silences them
        report = grade(subs, tmp / "graded", source, timeout=30, progress=False, unsafe=UNSAFE)
    return report, tmp / "graded", released


def score(report, student):
    return report.scores.get((student, fx.ASSIGNMENT), (0.0, fx.MAX_SCORE))[0]


def problems_of(report, student):
    return " | ".join(str(p) for p in report.problems if p.student == student)


def test_release_replaces_solutions_with_stubs_and_drops_hidden_tests(graded):
    _, _, released = graded
    text = "\n".join(c.source for c in released.cells)
    assert "raise NotImplementedError()" in text
    for leaked in ("BEGIN SOLUTION", "return a + b", "return x * x", "BEGIN HIDDEN TESTS", "add(-5, 5)"):
        assert leaked not in text, f"released notebook leaks {leaked!r}"


@pytest.mark.parametrize(
    "student, expected",
    [
        ("reference", 5),
        ("foreign_kernel", 5),
        ("warnings", 5),
        ("blank", 0),
        ("hardcoded", 3),
        ("endless", 2),
        ("crashing", 3),
        ("tampered", 3),
        ("kernel_killer", 3),  # the cell that killed its kernel costs its own points only
        ("monkeypatcher", 0),  # detected tampering scores 0 on every test after it
    ],
)
def test_scores(graded, student, expected):
    report, _, _ = graded
    assert score(report, student) == expected, problems_of(report, student)


@pytest.mark.parametrize(
    "student, message, reason",
    [
        ("not_json", "not a readable Jupyter notebook", Reason.MALFORMED_NOTEBOOK),
        ("missing", "fixture.ipynb is missing", Reason.MISSING_NOTEBOOK),
        ("renamed", "unexpected notebook my_fixture.ipynb", Reason.UNEXPECTED_NOTEBOOK),
        ("unknown_assignment", "unknown assignment '99_nope'", Reason.UNKNOWN_ASSIGNMENT),
        ("stray_file.txt", "a file where a student folder was expected", Reason.NOT_A_FOLDER),
    ],
)
def test_bad_input_gets_a_clear_message_and_zero(graded, student, message, reason):
    report, _, _ = graded
    assert message in problems_of(report, student)
    assert reason in {p.reason for p in report.problems if p.student == student}
    assert score(report, student) == 0


def test_a_dead_kernel_is_named_and_grading_goes_on(graded):
    report, _, _ = graded
    assert "KernelDied: the kernel stopped in cell 3" in problems_of(report, "kernel_killer")
    assert Reason.KERNEL_DIED in {p.reason for p in report.problems if p.student == "kernel_killer"}


def test_tampering_is_flagged_in_the_source_and_caught_at_run_time(graded):
    report, _, _ = graded
    said = problems_of(report, "monkeypatcher")
    assert "flagged for review (score unchanged): solution-add changes numpy.allclose" in said
    assert "TamperingDetected: the notebook's code replaced numpy.allclose" in said
    assert Reason.TAMPERING in {p.reason for p in report.problems if p.student == "monkeypatcher"}
    flagged = {p.student for p in report.problems if "flagged for review" in str(p)}
    assert flagged == {"monkeypatcher", "kernel_killer"}, "only the two who reach into the process are flagged"


def test_everyone_gets_a_row_in_grades_csv(graded):
    report, out, _ = graded
    with open(out / "grades.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0].keys()) == NBGRADER_COLUMNS
    by_student = {r["student_id"]: r for r in rows}
    assert set(by_student) == set(report.students)
    assert "stray_file.txt" not in by_student
    assert float(by_student["reference"]["score"]) == fx.MAX_SCORE
    assert float(by_student["not_json"]["score"]) == 0.0
    assert float(by_student["hardcoded"]["max_score"]) == fx.MAX_SCORE


def test_feedback_html_for_every_graded_submission(graded):
    report, out, _ = graded
    for student in ("reference", "blank", "hardcoded", "endless"):
        html = (out / "feedback" / student / fx.ASSIGNMENT / "fixture.html").read_text()
        assert "Test: add" in html
    hardcoded = (out / "feedback" / "hardcoded" / fx.ASSIGNMENT / "fixture.html").read_text()
    assert "hidden: add(-5, 5) should be 0" in hardcoded


def test_table_lists_every_student(graded):
    report, _, _ = graded
    table = report.table()
    for student in report.students:
        assert student in table


def test_without_silencing_warnings_cost_points(tmp_path, monkeypatch):
    """The trap the setup cell guards against is real: same answer, no silencing, lost points."""
    source = fx.build(tmp_path / "source", setup="import numpy as np")
    [released_path] = release(tmp_path / "release", source)
    released = nbformat.read(released_path, as_version=4)
    put(tmp_path / "subs", "warnings", fx.answer(released, WARNING_ADD, fx.SQUARE))
    monkeypatch.setenv("PYTHONWARNINGS", "always")
    report = grade(tmp_path / "subs", tmp_path / "graded", source, progress=False, unsafe=UNSAFE)
    assert score(report, "warnings") == 3, "a warning on stderr in a test cell should have scored it 0"


def test_missing_submissions_folder_is_a_clear_error(tmp_path):
    with pytest.raises(PipelineError, match="does not exist"):
        grade(tmp_path / "nowhere", tmp_path / "out", fx.build(tmp_path / "source"))
    run = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 2
    assert "does not exist" in run.stderr


@pytest.mark.parametrize("jobs", [1, 2])
def test_without_a_working_sandbox_grading_refuses_and_says_why(tmp_path, monkeypatch, jobs):
    from autograder import sandbox

    def broken(limits=None):
        raise sandbox.SandboxUnavailable("bwrap (bubblewrap) is not installed: apt-get install bubblewrap")

    monkeypatch.setattr(sandbox, "check", broken)
    (tmp_path / "subs" / "someone").mkdir(parents=True)
    with pytest.raises(PipelineError, match=r"sandbox does not work.*bubblewrap.*--unsafe"):
        grade(tmp_path / "subs", tmp_path / "out", fx.build(tmp_path / "source"), progress=False, jobs=jobs)
    assert not (tmp_path / "out" / "course").exists(), "nothing is graded without the sandbox"


def test_malformed_source_notebook_is_a_clear_error(tmp_path):
    source = fx.build(tmp_path / "source")
    path = source / fx.ASSIGNMENT / fx.NOTEBOOK
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].source = nb.cells[2].source.replace("### END SOLUTION", "")
    nbformat.write(nb, path)
    with pytest.raises(PipelineError, match="unbalanced"):
        release(tmp_path / "release", source)


def test_grade_writes_the_instructors_report(graded):
    import json

    report, out, _ = graded
    assert report.report_path == out / "report.html" and report.report_path.exists()
    problems = json.loads((out / "problems.json").read_text())["problems"]
    said = {(p["student"], p["reason"]) for p in problems}
    assert ("monkeypatcher", "tampering") in said and ("kernel_killer", "kernel-died") in said, said


def test_gradebooks_are_stamped_with_the_revision_alembic_names():
    """course.alembic_head reads what nbgrader otherwise asks ``alembic heads`` for, in a subprocess."""
    from nbgrader.dbutil import _temp_alembic_ini

    from autograder.course import alembic_head

    with _temp_alembic_ini("sqlite:////tmp/unused.db") as ini:
        alembic = Path(sys.executable).with_name("alembic")
        output = subprocess.check_output([str(alembic), "-c", ini, "heads"], text=True)
    assert alembic_head() == output.split()[0]


def test_the_grader_reads_notebooks_without_building_iri_parsers():
    """tools/__init__.py keeps jsonschema from importing rfc3987_syntax (~1.7 s per process); notebooks
    are still validated against their schema."""
    probe = (
        "import sys, autograder.course, nbformat\n"
        "assert sys.modules.get('rfc3987_syntax') is None, 'rfc3987_syntax was imported'\n"
        "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('1')])\n"
        "nbformat.validate(nb)\n"
        "nb.cells[0]['outputs'] = 'not a list'\n"
        "try:\n    nbformat.validate(nb)\nexcept nbformat.ValidationError:\n    print('invalid caught')\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "invalid caught", run.stderr[-2000:]
