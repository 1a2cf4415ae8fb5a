"""The instructor's report (autograder/report.py): counts, rates and messages on a hand-made class,
then the real pipeline's class of tests/test_feedback.py, and the page in chromium."""

from __future__ import annotations

import base64
import json
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from test_feedback import graded_class  # noqa: F401 (the shared pipeline fixture)

from autograder.course import GradeReport, Problem, Reason
from autograder.notebooks import tag_notebook
from autograder.report import (
    ALL,
    NONE,
    NOT_ATTEMPTED,
    SOME,
    failure_message,
    named_mistake,
    outcome_of,
    stubs_left,
    write_report,
)

NAMED = (
    "one is wrong at index (0,): got {}, expected 2.\n1 of 3 element(s) are off.\n"
    "Likely mistake: the bias is added twice\ngot:\n[...]"
)


def source_notebook():
    return tag_notebook(
        new_notebook(
            cells=[
                new_markdown_cell("# A"),
                new_code_cell("def one():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"),
                new_code_cell("# Test: one (2 points)\nassert one() == 1"),
                new_code_cell("# Test: two (3 points)\nassert True"),
            ]
        )
    )


def error(evalue, ename="AssertionError"):
    return new_output("error", ename=ename, evalue=evalue, traceback=["frames"])


# What each student's two test cells printed; [] passes.
OUTCOMES = {
    "ann": ([], []),
    "bob": ([error(NAMED.format(5))], []),
    "cat": ([error(NAMED.format(7))], [new_output("stream", name="stderr", text="\nWarning: careful\nmore\n")]),
    "dan": ([error("", "NotImplementedError")], [new_output("execute_result", data={"text/plain": "1"})]),
    "eve": ([error("one returned None\nsecond line")], [new_output("stream", name="stdout", text="fine\n")]),
}


@pytest.fixture
def hand_made(tmp_path):
    """A course root with assignment A graded for OUTCOMES and assignment B (nobody submitted);
    "fay" has a score but no autograded notebook."""
    root = tmp_path / "course"
    for assignment in ("A", "B"):
        path = root / "source" / assignment / "a.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(source_notebook(), path)
    for student, (one, two) in OUTCOMES.items():
        nb = source_notebook()
        nb.cells[2].outputs, nb.cells[3].outputs = one, two
        path = root / "autograded" / student / "A" / "a.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    scores = {"ann": 5, "bob": 3, "cat": 0, "dan": 1, "eve": 3, "fay": 0}
    report = GradeReport(
        ["A", "B"],
        [*scores, "gus"],
        scores={(s, "A"): (float(v), 5.0) for s, v in scores.items()},
        problems=[
            Problem("fay", "A", "autograding failed: boom", Reason.AUTOGRADE_FAILED),
            Problem("eve", "A", "flagged for review (score unchanged): <script>alert(1)</script>", Reason.FLAGGED),
        ],
    )
    return report, root, tmp_path / "out"


def test_counts_rates_and_messages_exactly(hand_made):
    report, root, out = hand_made
    html_path, json_path = write_report(report, root, out)
    data = json.loads(json_path.read_text())
    a, b = data["assignments"]["A"], data["assignments"]["B"]
    assert a["max_score"] == 5.0 and a["scores"] == {"ann": 5, "bob": 3, "cat": 0, "dan": 1, "eve": 3, "fay": 0}
    assert a["unscored"] == ["gus"]
    assert list(a["tests"]) == ["test-one", "test-two"]
    one, two = a["tests"]["test-one"], a["tests"]["test-two"]
    assert (one["points"], one["submissions"], one["failures"], one["failure_rate"]) == (2.0, 5, 4, 0.8)
    assert one["messages"] == [
        ["AssertionError: Likely mistake: the bias is added twice", 2],
        ["AssertionError: one returned None", 1],
        ["NotImplementedError", 1],
    ]
    assert (two["points"], two["submissions"], two["failures"], two["failure_rate"]) == (3.0, 5, 2, 0.4)
    assert two["messages"] == [["output on stderr: Warning: careful", 1], ["partial credit", 1]]
    # Nobody submitted B: its tests are listed from the source, with nothing run.
    assert b["scores"] == {} and b["max_score"] == 5.0
    assert b["tests"]["test-one"] == {
        "notebook": "a.ipynb",
        "points": 2.0,
        "submissions": 0,
        "failures": 0,
        "failure_rate": 0.0,
        "messages": [],
    }
    assert data["problems"] == [
        {"student": "fay", "assignment": "A", "reason": "autograde-failed", "message": "autograding failed: boom"},
        {
            "student": "eve",
            "assignment": "A",
            "reason": "flagged",
            "message": "flagged for review (score unchanged): <script>alert(1)</script>",
        },
    ]
    page = html_path.read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page, "student text is escaped"
    assert "Likely mistake: the bias is added twice <b>×2</b>" in page
    assert "nobody submitted it" in page
    assert len(re.findall(r'src="data:image/png;base64,', page)) == 4, "A: histogram, rates, messages; B: rates"


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_student_text_stays_one_printable_line_and_added_cells_are_not_tests(hand_made):
    report, root, out = hand_made
    path = root / "autograded" / "bob" / "A" / "a.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].outputs = [error("\x1b[2Jwiped\u202e ann/A [tampering]: forged", ename="Bad\x1bName")]
    fake = new_code_cell("pass", metadata={"nbgrader": {"grade": True, "grade_id": "test-fake", "points": "lots"}})
    nb.cells.append(fake)
    nbformat.write(nb, path)
    report.problems.append(Problem("bob", "A", "line one\nann/A [tampering]: forged\x1b[2J", Reason.FLAGGED))
    html_path, json_path = write_report(report, root, out)
    data = json.loads(json_path.read_text())
    tests = data["assignments"]["A"]["tests"]
    assert list(tests) == ["test-one", "test-two"], "a cell a student added is not a test of the assignment"
    assert ["Bad\\x1bName: \\x1b[2Jwiped\\u202e ann/A [tampering]: forged", 1] in tests["test-one"]["messages"]
    assert data["problems"][-1]["message"] == "line one\\nann/A [tampering]: forged\\x1b[2J"
    for written in (json_path, html_path):  # problems.json is UTF-8 (ensure_ascii=False): raw characters would show
        assert not CONTROL.search(written.read_text(encoding="utf-8")), written.name


def test_empty_class(tmp_path):
    report = GradeReport(["A"], [])
    html_path, json_path = write_report(report, tmp_path / "course", tmp_path / "out")
    assert json.loads(json_path.read_text()) == {
        "assignments": {"A": {"max_score": 0.0, "scores": {}, "unscored": [], "tests": {}}},
        "problems": [],
    }
    page = html_path.read_text()
    assert "0 students" in page and "No submission was flagged" in page and "<img" not in page


def test_failure_message_of_a_passing_cell_is_none():
    cell = source_notebook().cells[2]
    assert failure_message(cell) is None
    cell.outputs = [new_output("execute_result", data={"text/plain": "2"})]
    assert failure_message(cell) is None, "full partial credit is a pass"


STUB = "def one():\n    # YOUR CODE HERE\n    raise NotImplementedError()"


def test_a_stub_left_as_released_is_not_attempted_and_named_mistakes_rank_the_class(tmp_path):
    """With the released notebook beside: a NotImplementedError from a stub left as released is "not
    attempted" (counted apart from the messages); the same error from a changed cell is a real failure."""
    root = tmp_path / "course"
    released = source_notebook()
    released.cells[1].source = STUB
    for folder, nb in (("source", source_notebook()), ("release", released)):
        (root / folder / "A").mkdir(parents=True)
        nbformat.write(nb, root / folder / "A" / "a.ipynb")
    mid = "one() is 2, expected 1. Likely mistake: off by one (the count starts at 1)"
    start = "one() is 2, expected 1.\nLikely mistake: off by one (the count starts at 1)\nmore"
    students = {  # solution cell, the test-one error's (ename, evalue), or None for a pass
        "blank": (STUB, ("NotImplementedError", "")),
        "blank_too": (STUB, ("AssertionError", "x is not defined: run the cell above")),  # every stub as released
        "began": ("def one():\n    x = 1\n    raise NotImplementedError()", ("NotImplementedError", "")),
        "mid": ("def one():\n    return 2", ("AssertionError", mid)),
        "start": ("def one():\n    return 2", ("AssertionError", start)),
        "other": ("def one():\n    return 0", ("AssertionError", "one() is 0\nLikely mistake: returns zero")),
        "fine": ("def one():\n    return 1", None),
    }
    for student, (solution, failure) in students.items():
        nb = source_notebook()
        nb.cells[1].source = solution
        nb.cells[2].outputs = [error(failure[1], failure[0])] if failure else []
        (root / "autograded" / student / "A").mkdir(parents=True)
        nbformat.write(nb, root / "autograded" / student / "A" / "a.ipynb")
    feedback = tmp_path / "out" / "feedback"
    for student in students:
        (feedback / student / "A").mkdir(parents=True)
        (feedback / student / "A" / "a.html").write_text("feedback")
    report = GradeReport(
        ["A"],
        list(students),
        scores={(s, "A"): (3.0 if s != "fine" else 5.0, 5.0) for s in students},
        problems=[
            Problem("mid", "A", "flagged: a reason", Reason.FLAGGED),
            Problem("x", None, "a file", Reason.NOT_A_FOLDER),
        ],
        feedback_dir=feedback,
    )
    html_path, json_path = write_report(report, root, tmp_path / "out")
    one = json.loads(json_path.read_text())["assignments"]["A"]["tests"]["test-one"]
    assert (one["submissions"], one["failures"]) == (7, 6), "a test not attempted is not passed"
    assert one["messages"] == [
        ["AssertionError: Likely mistake: off by one (the count starts at 1)", 1],
        ["AssertionError: Likely mistake: returns zero", 1],
        ["AssertionError: one() is 2, expected 1. Likely mistake: off by one (the count starts at 1)", 1],
        ["NotImplementedError", 1],
    ], "the blank notebooks are left out; the changed cell that still raises is a real failure"
    page = html_path.read_text()
    assert "2 submissions left a stub as released" in page
    table = page.split("<h3>Likely mistakes, most common first</h3>", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td class=num>(\d+)</td><td class=mistake>([^<]*)</td><td class=num>(\d+)</td>", table)
    assert rows == [("1", "off by one (the count starts at 1)", "2"), ("2", "returns zero", "1")]
    assert 'href="#student=mid"' in table and 'href="#student=start"' in table
    flagged = page.split("<h2 id=flagged>", 1)[1]
    assert '<a href="feedback/mid/A/a.html">a.html</a>' in flagged, "a flagged submission links its feedback"
    assert 'href="#student=x"' not in flagged, "a name outside the class has no view"


def test_a_stub_raising_in_a_notebook_with_others_done_is_not_attempted():
    released = source_notebook()
    second = new_code_cell("def two():\n    ### BEGIN SOLUTION\n    return 2\n    ### END SOLUTION")
    released.cells.insert(2, second)
    released = tag_notebook(released)  # then the stubs, as nbgrader releases them
    released.cells[1].source, released.cells[2].source = STUB, STUB.replace("one", "two")
    nb = nbformat.from_dict(released)
    assert stubs_left(nb, released) == ALL and stubs_left(nb, None) == NONE
    nb.cells[2].source = "def two():\n    return 2"
    assert stubs_left(nb, released) == SOME
    nb.cells[1].source = "def one():\n    return 1\n"
    assert stubs_left(nb, released) == NONE
    test = nb.cells[3]
    test.outputs = [error("", "NotImplementedError")]
    assert outcome_of(test, 2.0, SOME).status == NOT_ATTEMPTED
    assert outcome_of(test, 2.0, NONE).message == "NotImplementedError", "raised by the student's own code"
    test.outputs = [error("one() is None")]
    assert outcome_of(test, 2.0, SOME).message == "AssertionError: one() is None"
    assert outcome_of(test, 2.0, ALL).status == NOT_ATTEMPTED


def test_named_mistake_is_what_follows_the_words():
    cell = source_notebook().cells[2]
    for evalue, named in [
        ("wrong\nLikely mistake: the sign\nmore", "the sign"),
        ("dx is wrong. Likely mistake: the loop runs forward in time.", "the loop runs forward in time."),
        ("UnlikelyLikely mistake: no", None),
        ("no mistake named", None),
        ("Likely mistake: ", None),
    ]:
        cell.outputs = [error(evalue)]
        assert named_mistake(cell) == named, evalue
    cell.outputs = []
    assert named_mistake(cell) is None


@pytest.mark.pipeline
@pytest.mark.xdist_group("feedback-report")
def test_report_of_a_real_grading_run(graded_class):  # noqa: F811
    report, out = graded_class
    html_path, json_path = write_report(report, out / "course", out)
    assert html_path.parent == json_path.parent == report.csv_path.parent
    data = json.loads(json_path.read_text())
    flagged = {p["reason"] for p in data["problems"] if p["student"] == "monkeypatcher"}
    assert {"flagged", "tampering"} <= flagged, data["problems"]
    fixture = data["assignments"]["00_fixture"]
    assert fixture["scores"]["reference"] == fixture["max_score"] == 5.0
    add = fixture["tests"]["test-add"]
    # The hidden part runs only outside the kernel, where it fails for the two hardcoded submissions.
    hidden = "AssertionError: a hidden test failed: AssertionError: add(-5, 5) should be 0"
    assert add["messages"][0] == [hidden, 2], add["messages"]
    assert add["submissions"] == 7 and add["failures"] == 4  # blank, the two hardcoded, the monkeypatcher
    page = html_path.read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 3 and all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I), "the report must work offline"
    assert "add(-5, 5) should be 0" in page and "monkeypatcher" in page
    # The blank notebook's stubs are as released: its failures are not attempted, not messages.
    for test in fixture["tests"].values():
        assert test["failures"] - sum(n for _, n in test["messages"]) == 1, test  # the blank one
    assert ["AssertionError: square(3) should be 9", 1] in fixture["tests"]["test-square"]["messages"]
    assert not any("NotImplementedError" in m for t in fixture["tests"].values() for m, _ in t["messages"])
    assert "1 submission left a stub as released" in page
    view = json.loads(
        re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S).group(1)
    )
    assert view["students"]["blank"]["tests"] == [[[0.0, 2, None, None], [0.0, 2, None, None]]]
    links = re.findall(r'href="(feedback/[^"]+)"', page)
    assert "feedback/monkeypatcher/00_fixture/fixture.html" in links
    assert all((out / link).is_file() for link in links), links


@pytest.mark.xdist_group("report-browser")
def test_report_renders_offline_in_chromium(hand_made):
    from browser import browser_context

    report, root, out = hand_made
    html_path, _ = write_report(report, root, out)
    requests = []
    with browser_context() as context:
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.goto(html_path.as_uri())
        sizes = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
        assert len(sizes) == 4 and min(sizes) > 100, sizes
        assert page.locator("h2", has_text="Submissions flagged for review").count() == 1
    assert requests == [html_path.as_uri()], requests
