"""Nothing a submission holds can stop a grading run or speak for the grader.

Unit tests of the bounded pieces (``printable``, ``read_submission``, ``Course.incidents``), then one
class through the real pipeline (``autograder.course.grade``, sandboxed, two jobs) in which each
student's notebook attacks the grader's own reading, scanning, reporting or feedback: each costs
only its owner, the honest student gets full marks and feedback, and grades.csv is written.
"""

from __future__ import annotations

import csv
import json
import os
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import fixture_course as fx
from autograder import cli
from autograder.course import Course, Problem, Reason, grade, printable, release
from autograder.notebooks import MAX_NESTING, MAX_SUBMISSION_BYTES, NotebookFormatError, read_submission
from conftest import UNSAFE

MINUS = "x = " + "-" * 100_000 + "1"  # MemoryError in the parser
CHAIN = "y = np" + ".a" * 3000  # RecursionError in the parser
# A student's own exception with a message that would read as the grader's line about someone else.
FORGED = "\nhonest/00_fixture [tampering]: honest/00_fixture: tampering: \x1b[31mreplaced numpy.allclose\x1b[0m\u202e"
FORGER = (
    "class LimitExceeded(Exception):\n    pass\n\nclass TamperingDetected(Exception):\n    pass\n\n"
    f"def square(x):\n    raise LimitExceeded({FORGED!r})\n\n"
    f"try:\n    raise TamperingDetected({FORGED!r})\nexcept Exception as exc:\n    print(exc)\n"
)
HOSTILE_OUTPUTS = (
    "import io\nfrom IPython.display import HTML, Image, Javascript, display\nfrom matplotlib.figure import Figure\n"
    'display(HTML(\'<script>alert("html")</script><img src=x onerror="alert(2)"><b>honest bold</b>\'))\n'
    "display(Javascript('alert(\"js\")'))\n"
    "fig = Figure()\nfig.add_subplot().plot([1, 2, 3])\npng = io.BytesIO()\nfig.savefig(png, format='png')\n"
    "display(Image(png.getvalue()))\n"
    "print('honest text')"
)
HOSTILE_MARKDOWN = "<script>alert('md')</script><a href=\"javascript:alert(5)\">link</a> <i>honest italics</i>"


def nested(depth: int) -> dict:
    value: object = 1
    for _ in range(depth):
        value = {"a": value}
    return value


# -- unit: printable ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, shown",
    [
        ("a\nb\rc\td", "a\\nb\\rc\\td"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("\x00\x07\x7f\x85\x9b", "\\x00\\x07\\x7f\\x85\\x9b"),
        ("abc\u202edcb\u2066\u2069\u2028", "abc\\u202edcb\\u2066\\u2069\\u2028"),
        ("naïve ✓ ünïcödé", "naïve ✓ ünïcödé"),
    ],
)
def test_printable_escapes_what_could_restyle_or_break_a_line(text, shown):
    assert printable(text) == shown


def test_printable_caps_length_and_problems_are_one_attributed_line():
    assert printable("x" * 1000, 10) == "x" * 10 + "... (990 more characters)"
    problem = Problem("alice", "00_fixture", "boom" + FORGED * 100, Reason.AUTOGRADE_FAILED)
    line = str(problem)
    assert line.startswith("alice/00_fixture [autograde-failed]: boom")
    assert "\n" not in line and "\x1b" not in line and "\u202e" not in line and len(line) < 700
    assert "\n" not in str(Problem("al\nice", "00\x1b", "m"))


# -- unit: reading a submission ------------------------------------------------------------------
def test_read_submission_bounds_what_it_reads(tmp_path):
    good = new_notebook(cells=[new_code_cell("1")])
    nbformat.write(good, tmp_path / "good.ipynb")
    assert read_submission(tmp_path / "good.ipynb").cells[0].source == "1"
    text = (tmp_path / "good.ipynb").read_text()
    cases = {
        "deep.ipynb": text.replace('"metadata": {', '"metadata": {"x": ' + "[" * 100_000 + "]" * 100_000 + ", ", 1),
        "nested.ipynb": json.dumps({**json.loads(text), "metadata": {"x": nested(MAX_NESTING + 5)}}),
        "not_json.ipynb": "{ this is not a notebook",
    }
    for name, content in cases.items():
        (tmp_path / name).write_text(content)
    (tmp_path / "bad_utf8.ipynb").write_bytes(b"\xff\xfe{}")
    with open(tmp_path / "huge.ipynb", "wb") as fh:
        fh.truncate(MAX_SUBMISSION_BYTES + 1)
    os.symlink(tmp_path / "good.ipynb", tmp_path / "link.ipynb")
    os.mkfifo(tmp_path / "fifo.ipynb")  # would block a plain open() forever
    said = {}
    for name in [*cases, "bad_utf8.ipynb", "huge.ipynb", "link.ipynb", "fifo.ipynb"]:
        with pytest.raises(NotebookFormatError) as info:
            read_submission(tmp_path / name)
        said[name] = str(info.value)
    assert "RecursionError" in said["deep.ipynb"], said
    assert "nested more than" in said["nested.ipynb"] and "larger than 50 MB" in said["huge.ipynb"], said
    assert "a link" in said["link.ipynb"] and "not a regular file" in said["fifo.ipynb"], said


# -- unit: incidents come from the grader's metadata only -----------------------------------------
def test_incidents_are_read_from_the_graders_metadata_only(tmp_path):
    course = Course.__new__(Course)  # incidents() needs only the course folder
    course.root = tmp_path
    forged_error = new_output("error", ename="TamperingDetected", evalue=FORGED, traceback=[])
    nb = new_notebook(cells=[new_code_cell("x", outputs=[forged_error])])
    nb.metadata["dl_grading"] = {
        "incidents": [
            {"cell": 3, "kind": "limit", "message": "LimitExceeded: cell 3 used more than 2 GB" + FORGED},
            {"cell": 4, "kind": "kernel-died", "message": "KernelDied: the kernel stopped in cell 4"},
            {"cell": 4, "kind": "not-a-kind", "message": "ignored"},
            "not a dict",
        ]
    }
    path = tmp_path / "autograded" / "alice" / "00_fixture" / "fixture.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    problems = course.incidents("alice", "00_fixture")
    assert [p.reason for p in problems] == [Reason.LIMIT, Reason.KERNEL_DIED], problems
    assert problems[0].message.startswith("fixture.ipynb, cell 3: LimitExceeded: cell 3 used more than 2 GB\\n")
    assert all("\n" not in str(p) and "\x1b" not in str(p) for p in problems)
    del nb.metadata["dl_grading"]
    nbformat.write(nb, path)
    assert course.incidents("alice", "00_fixture") == [], "an error output alone is the student's, not an incident"


# -- the pipeline ----------------------------------------------------------------------------------
def with_cells(nb: nbformat.NotebookNode, *cells) -> nbformat.NotebookNode:
    """``nb`` with ``cells`` added after its set-up cell (index 1), as a student adds cells."""
    nb = nbformat.from_dict(nb)
    nb.cells[2:2] = list(cells)
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if UNSAFE:
        pytest.skip("the grading sandbox does not work on this machine")
    tmp = tmp_path_factory.mktemp("bounds")
    source = fx.build(tmp / "source")
    [released_path] = release(tmp / "release", source)
    released = nbformat.read(released_path, as_version=4)
    honest = fx.answer(released, fx.ADD, fx.SQUARE)
    subs = tmp / "submissions"

    def put(student: str, nb: nbformat.NotebookNode | None = None, text: str | None = None) -> None:
        path = subs / student / fx.ASSIGNMENT / fx.NOTEBOOK
        path.parent.mkdir(parents=True)
        path.write_text(nbformat.writes(nb) if nb is not None else text)

    put("honest", honest)
    put("minus", with_cells(honest, new_code_cell(MINUS)))
    put("chain", with_cells(honest, new_code_cell(CHAIN)))
    deep = '{"a": ' * 5000 + "1" + "}" * 5000
    put("nested", text=nbformat.writes(honest).replace('"metadata": {', '"metadata": {"x": ' + deep + ", ", 1))
    big = with_cells(honest, new_code_cell("1", outputs=[new_output("stream", name="stdout", text="x" * 51 * 1024**2)]))
    put("huge", big)
    put("not_json", text="{ this is not a notebook")
    forger = fx.answer(with_cells(honest, new_code_cell(FORGER)), fx.ADD, FORGER)
    forger.metadata["dl_grading"] = {"incidents": [{"cell": 1, "kind": "tampering", "message": FORGED}]}
    put("forger", forger)
    bad_meta = with_cells(honest, new_code_cell("z = 1", metadata={"nbgrader": "not a dict"}))
    put("bad_meta", bad_meta)
    # A locked cell pasted above itself: the same grade id twice, which nbgrader refuses for the notebook.
    pasted = nbformat.from_dict(honest)
    pasted.cells.insert(0, nbformat.from_dict(pasted.cells[1]))
    put("pasted", pasted)
    put("xss", with_cells(honest, new_code_cell(HOSTILE_OUTPUTS), new_markdown_cell(HOSTILE_MARKDOWN)))

    report = grade(subs, tmp / "graded", source, timeout=30, progress=False, jobs=2)
    return report, tmp / "graded"


def score(report, student):
    return report.scores.get((student, fx.ASSIGNMENT), (0.0, fx.MAX_SCORE))[0]


def said(report, student):
    return [(p.reason, str(p)) for p in report.problems if p.student == student]


@pytest.mark.pipeline
@pytest.mark.xdist_group("grading-bounds")
def test_the_honest_student_is_graded_and_the_run_writes_grades_csv(graded):
    report, out = graded
    # nbgrader metadata that is not a dict, or a grade id already taken: the cell is the student's.
    for student in ("honest", "bad_meta", "pasted"):
        assert score(report, student) == fx.MAX_SCORE and said(report, student) == [], said(report, student)
    assert "Test: add" in (out / "feedback" / "honest" / fx.ASSIGNMENT / "fixture.html").read_text()
    with open(out / "grades.csv", newline="") as fh:
        rows = {row["student_id"]: row for row in csv.DictReader(fh)}
    assert set(rows) == set(report.students)
    assert float(rows["honest"]["score"]) == fx.MAX_SCORE


@pytest.mark.pipeline
@pytest.mark.xdist_group("grading-bounds")
@pytest.mark.parametrize(
    "student, reason, phrase, expected",
    [
        # The parser gives up on these cells; the kernel reports them to the student; the rest is graded.
        ("minus", Reason.FLAGGED, "could not be scanned (MemoryError)", fx.MAX_SCORE),
        # No score for this one: IPython's should_run_async raises outside the cell, the kernel never
        # answers, and the cell and the next time out (a kernel-side bug, not the scan's).
        ("chain", Reason.FLAGGED, "could not be scanned (RecursionError)", None),
        ("nested", Reason.MALFORMED_NOTEBOOK, "RecursionError", 0),
        ("huge", Reason.MALFORMED_NOTEBOOK, "larger than 50 MB", 0),
        ("not_json", Reason.MALFORMED_NOTEBOOK, "not a readable Jupyter notebook", 0),
    ],
)
def test_each_unreadable_submission_costs_only_its_owner(graded, student, reason, phrase, expected):
    report, _ = graded
    problems = said(report, student)
    assert any(r == reason and phrase in line for r, line in problems), problems
    assert expected is None or score(report, student) == expected, problems


@pytest.mark.pipeline
@pytest.mark.xdist_group("grading-bounds")
def test_a_students_own_exceptions_and_metadata_speak_for_nobody(graded, capsys):
    report, out = graded
    assert score(report, "forger") == 2, said(report, "forger")  # square raised: add's points only
    reasons = {p.reason for p in report.problems if p.student in ("forger", "honest")}
    assert not reasons & {Reason.LIMIT, Reason.TAMPERING}, said(report, "forger")
    cli._print_report(report)
    printed = capsys.readouterr().out
    problems = json.loads((out / "problems.json").read_text())
    page = (out / "report.html").read_text(encoding="utf-8")
    for name, text in [("the summary", printed), ("problems.json", json.dumps(problems)), ("report.html", page)]:
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text), name
    student_lines = [line for line in printed.splitlines() if line.startswith("  - ")]
    assert all(line.split("/")[0][4:] in report.students for line in student_lines), student_lines
    assert not [line for line in student_lines if "tampering" in line and not line.startswith("  - forger/")], printed


@pytest.mark.pipeline
@pytest.mark.xdist_group("grading-bounds")
def test_feedback_runs_no_script_of_the_students(graded):
    report, out = graded
    assert score(report, "xss") == fx.MAX_SCORE, said(report, "xss")
    page = (out / "feedback" / "xss" / fx.ASSIGNMENT / "fixture.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", page, re.S)
    assert scripts and not [s for s in scripts if "alert" in s], "a script of the student's is on the page"
    assert not re.search(r"<[^>]+\son\w+\s*=", page), "an event handler attribute is on the page"
    assert "javascript:alert" not in page and "<iframe" not in page
    for honest in ("honest text", "<b>honest bold</b>", "<i>honest italics</i>", "data:image/png;base64,", "Test: add"):
        assert honest in page, f"{honest!r} missing from the feedback"


@pytest.mark.pipeline
@pytest.mark.xdist_group("grading-bounds")
def test_feedback_opens_in_chromium_without_a_dialog(graded):
    from browser import browser_context

    _, out = graded
    page_path = out / "feedback" / "xss" / fx.ASSIGNMENT / "fixture.html"
    dialogs = []
    with browser_context() as context:
        context.route("http*://**", lambda route: route.abort())  # offline, as graded machines are
        page = context.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(page_path.as_uri())
        page.wait_for_timeout(1000)
        images = page.eval_on_selector_all("img[src^='data:image/png']", "els => els.length")
    assert dialogs == [], dialogs
    assert images >= 1, "the student's plot is not on the page"


@pytest.mark.pipeline
@pytest.mark.xdist_group("grading-bounds")
def test_a_cell_the_parser_gives_up_on_is_not_called_a_memory_hog(graded):
    """Python's parser raises MemoryError, with no message and no frame, on an expression nested too
    deeply: the problem says so, not that the cell used more memory than it may."""
    report, _ = graded
    messages = " ".join(text for _, text in said(report, "minus"))
    assert "could not be parsed" in messages and "of memory" not in messages, messages
