"""Feedback without hidden tests (autograder/feedback.py): the fixture assignment, with a hidden test
that defines a helper and loops, graded through the real pipeline; the feedback HTML shows every
test's name, points and failure message, and no line of the hidden test nor a traceback from it.

``graded_class`` is shared with tests/test_report.py (same xdist group, one grading run)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import fixture_course as fx
from autograder.course import grade, release
from autograder.feedback import (
    MATHJAX_FOLDER,
    MATHJAX_LEFT_OUT,
    MATHJAX_URL,
    HideHiddenTests,
    mathjax_source,
    ship_mathjax,
    split_hidden,
)
from autograder.notebooks import BEGIN_HIDDEN, END_HIDDEN, tag_notebook
from conftest import UNSAFE

# A hidden test whose failure happens inside a hidden helper: its traceback would quote hidden lines.
HIDDEN = [
    "def _check_add_secretly(a, b):",
    "    expected_secret_sum = a + b",
    "    assert add(a, b) == expected_secret_sum, f'add({a}, {b}) should be {a + b}'",
    "for pair in [(-5, 5), (10, 20)]:",
    "    _check_add_secretly(*pair)",
]
TEST_ADD = "\n".join(
    ["# Test: add (2 points)", "assert add(1, 2) == 3, 'add(1, 2) should be 3'", BEGIN_HIDDEN, *HIDDEN, END_HIDDEN]
)
RETURN_3 = "def add(a, b):\n    return 3"
# Student code that calls the hidden helper after the test ran. The kernel never runs a hidden part, so
# the helper does not exist there (a NameError); were it there, its error's frames would quote hidden lines.
PROBER = "def square(x):\n    return x * x\n\n_check_add_secretly('a', 1)"
STUDENTS = {
    "reference": (fx.ADD, fx.SQUARE),
    "blank": (None, None),
    "hardcoded": (RETURN_3, fx.SQUARE),  # passes the visible check, fails the hidden one
    "hardcoded_too": (RETURN_3, fx.SQUARE),
    "doubler": (fx.ADD, "def square(x):\n    return 2 * x"),  # fails the visible check
    "prober": (fx.ADD, PROBER),
    "monkeypatcher": ("import numpy\nnumpy.allclose = lambda *a, **k: True\n" + fx.ADD, fx.SQUARE),
}


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory):
    """The fixture assignment with the hidden helper above, graded for STUDENTS: (report, out)."""
    tmp = tmp_path_factory.mktemp("feedback")
    source = fx.build(tmp / "source")
    path = source / fx.ASSIGNMENT / fx.NOTEBOOK
    nb = nbformat.read(path, as_version=4)
    [test_cell] = [c for c in nb.cells if c.source.startswith("# Test: add")]
    test_cell.source = TEST_ADD
    nbformat.write(nb, path)
    [released_path] = release(tmp / "release", source)
    released = nbformat.read(released_path, as_version=4)
    for student, (add, square) in STUDENTS.items():
        dst = tmp / "submissions" / student / fx.ASSIGNMENT / fx.NOTEBOOK
        dst.parent.mkdir(parents=True)
        nbformat.write(fx.answer(released, add, square), dst)
    report = grade(tmp / "submissions", tmp / "graded", source, timeout=30, progress=False, unsafe=UNSAFE)
    return report, tmp / "graded"


def feedback_text(out: Path, student: str) -> str:
    """The feedback page as a reader sees it: tags dropped, entities unescaped."""
    page = (out / "feedback" / student / fx.ASSIGNMENT / "fixture.html").read_text(encoding="utf-8")
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_split_hidden_keeps_header_and_visible_checks():
    shown, hidden = split_hidden(TEST_ADD, "# hidden tests: not shown")
    assert shown == "# Test: add (2 points)\nassert add(1, 2) == 3, 'add(1, 2) should be 3'\n# hidden tests: not shown"
    assert hidden == HIDDEN
    indented, _ = split_hidden(f"if True:\n    {BEGIN_HIDDEN}\n    x = 1\n    {END_HIDDEN}\n", "# hidden")
    assert indented == "if True:\n    # hidden\n"
    unterminated, _ = split_hidden("a = 1\n" + BEGIN_HIDDEN + "\nsecret = 2", "# hidden")
    assert unterminated == "a = 1\n# hidden", "a region without its END marker is hidden to the end"


def test_preprocessor_reduces_test_errors_to_name_and_message():
    frame = "\x1b[32m----> 3\x1b[39m     expected_secret_sum = a + b"
    nb = tag_notebook(new_notebook(cells=[new_code_cell("x = 1"), new_code_cell(TEST_ADD), new_code_cell("f()")]))
    test, student = nb.cells[1], nb.cells[2]
    test.outputs = [
        new_output("stream", name="stdout", text="checking add\n"),
        new_output("error", ename="AssertionError", evalue="add(-5, 5) should be 0", traceback=[frame, "last"]),
    ]
    student.outputs = [
        new_output("error", ename="TypeError", evalue="bad", traceback=["mine", frame, "TypeError: bad"])
    ]
    nb, _ = HideHiddenTests().preprocess(nb, {})
    assert nb.cells[1].source.endswith("# hidden tests: not shown")
    assert nb.cells[1].outputs[0].text == "checking add\n"
    assert nb.cells[1].outputs[1].traceback == ["AssertionError: add(-5, 5) should be 0"]
    assert nb.cells[2].outputs[0].traceback == ["mine", "TypeError: bad"]


@pytest.mark.pipeline
@pytest.mark.xdist_group("feedback-report")
def test_feedback_shows_no_hidden_test_line(graded_class):
    report, out = graded_class
    autograded = (out / "course" / "autograded" / "hardcoded" / fx.ASSIGNMENT / fx.NOTEBOOK).read_text()
    assert "expected_secret_sum" in autograded, "the control: nbgrader's input holds the hidden test"
    lines = {line.strip() for line in HIDDEN if len(line.strip()) > 3}
    for student in STUDENTS:
        text = feedback_text(out, student)
        leaked = [line for line in lines if line in text]
        assert not leaked, f"{student}'s feedback shows hidden test lines: {leaked}"
        assert "expected_secret_sum" not in text and "_check_add_secretly(*pair)" not in text, student
        assert "# hidden tests: not shown" in text, student


@pytest.mark.pipeline
@pytest.mark.xdist_group("feedback-report")
def test_feedback_folder_carries_one_mathjax_for_every_page(graded_class):
    report, out = graded_class
    feedback = out / "feedback"
    assert (feedback / MATHJAX_FOLDER / "MathJax.js").is_file()
    pages = sorted(feedback.glob("*/*/*.html"))
    assert len(pages) == len(STUDENTS)
    for page in pages:
        [src] = re.findall(r'<script src="([^"]*MathJax\.js[^"]*)"', page.read_text(encoding="utf-8"))
        assert (page.parent / src.split("?")[0]).resolve() == (feedback / MATHJAX_FOLDER / "MathJax.js").resolve()
    folders = sorted(p.name for p in feedback.iterdir())
    assert folders == sorted([MATHJAX_FOLDER, *STUDENTS]), "one copy for the class, none per student"


@pytest.mark.pipeline
@pytest.mark.xdist_group("feedback-report")
@pytest.mark.parametrize(
    "student, says",
    [
        ("reference", ["Score: 2.0 / 2.0", "Score: 3.0 / 3.0", "(Score: 5.0 / 5.0)"]),
        ("blank", ["Score: 0.0 / 2.0", "Score: 0.0 / 3.0", "NotImplementedError"]),
        ("hardcoded", ["Score: 0.0 / 2.0", "Score: 3.0 / 3.0", "AssertionError: add(-5, 5) should be 0"]),
        ("doubler", ["Score: 2.0 / 2.0", "Score: 0.0 / 3.0", "AssertionError: square(3) should be 9"]),
        ("prober", ["Score: 2.0 / 2.0", "Score: 3.0 / 3.0", "NameError: name '_check_add_secretly' is not defined"]),
        ("monkeypatcher", ["TamperingDetected: the notebook's code replaced numpy.allclose"]),
    ],
)
def test_feedback_names_every_test_its_points_and_message(graded_class, student, says):
    report, out = graded_class
    text = feedback_text(out, student)
    for name in ("# Test: add (2 points)", "# Test: square (3 points)", "add(1, 2) should be 3"):
        assert name in text, f"{student}: {name!r} missing"
    for phrase in says:
        assert phrase in text, f"{student}: {phrase!r} missing"
    add_cell = text.split("Grade cell: test-add", 1)[1].split("Student's answer", 1)[0]
    assert "Traceback (most recent call last)" not in add_cell, "a test cell shows its error's name and message only"


def render_feedback(nb) -> str:
    """``nb``'s feedback page, rendered as nbgrader's GenerateFeedback does (its template, our exporter)."""
    import os

    import nbgrader
    from traitlets.config import Config

    from autograder.feedback import FeedbackExporter

    here = os.path.join(os.path.dirname(nbgrader.__file__), "server_extensions", "formgrader")
    config = Config()
    config.HTMLExporter.template_name = "feedback"
    config.HTMLExporter.extra_template_basedirs = [os.path.join(here, "templates")]
    config.HTMLExporter.extra_template_paths = [os.path.join(here, "static/node_modules/bootstrap/dist/css")]
    info = {"notebook": "fixture", "score": 1, "max_score": 5, "late_penalty": 0}
    return FeedbackExporter(config=config).from_notebook_node(nb, {"nbgrader": info})[0]


def test_feedback_page_runs_nothing_the_student_wrote():
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
    outputs = [
        new_output("display_data", data={"text/html": "<script>alert(1)</script><img src=x onerror=alert(2)><b>o</b>"}),
        new_output("display_data", data={"application/javascript": "alert(3)", "text/plain": "a js output"}),
        new_output("display_data", data={"text/markdown": "[x](javascript:alert(4)) <style>*{}</style>"}),
        new_output("display_data", data={"image/png": png}, metadata={"image/png": {"width": "1 onerror=alert(5)"}}),
        new_output("display_data", data={"image/svg+xml": "<svg onload=alert(6)></svg>"}),
        new_output("display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "m"}}),
        new_output("stream", name="stdout", text="</pre><script>alert(7)</script>"),
    ]
    cells = [
        new_markdown_cell("# Notes\nmath $a < b$ <iframe src=//e.example></iframe><a href='javascript:alert(8)'>"),
        new_code_cell("x", outputs=outputs),
        new_code_cell("y", metadata={"nbgrader": {"grade_id": '"><script>alert(9)</script>', "solution": True}}),
    ]
    nb = new_notebook(cells=cells, metadata={"widgets": {"application/vnd.jupyter.widget-state+json": {}}})
    page = render_feedback(nb)
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", page, re.S)
    assert not [s for s in scripts if "alert" in s], scripts
    assert not re.search(r"<[^>]+\son\w+\s*=", page) and "javascript:" not in page.split("</style>")[-1]
    assert "<iframe" not in page and "widget-state" not in page
    for honest in ("<b>o</b>", "a js output", "$a &lt; b$", f"data:image/png;base64,{png}", "<h1", "&lt;/pre&gt;"):
        assert honest in page, honest


def test_feedback_page_loads_nothing_from_another_host():
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
    cells = [
        new_markdown_cell("# Loss\n$L = -\\log p_y$ ![tracker](https://e.example/t.png)"),
        new_code_cell(
            "x",
            outputs=[
                new_output("display_data", data={"text/html": "<img src='http://e.example/a.png'><img src=//e.x>"}),
                new_output("display_data", data={"image/png": png}),
            ],
        ),
    ]
    page = render_feedback(new_notebook(cells=cells))
    loads = re.findall(r"""<(?:script|img|link|iframe)\b[^>]*?\b(?:src|href)\s*=\s*["']?([^"' >]+)""", page, re.I)
    assert loads, "the control: the page loads MathJax and shows its image"
    assert [u for u in loads if re.match(r"(https?:)?//", u, re.I)] == [], loads
    assert MATHJAX_URL in loads and f"data:image/png;base64,{png}" in loads
    assert "cdnjs" not in page and "e.example" not in page and "e.x>" not in page


def test_mathjax_is_copied_once_and_only_what_the_pages_load(tmp_path):
    source = mathjax_source()
    copy = ship_mathjax(tmp_path / "feedback")
    assert copy == tmp_path / "feedback" / MATHJAX_FOLDER
    shipped = {p.relative_to(copy) for p in copy.rglob("*") if p.is_file()}
    kept = {
        p.relative_to(source)
        for p in source.rglob("*")
        if p.is_file() and not any(p.is_relative_to(source / part) for part in MATHJAX_LEFT_OUT)
    }
    assert shipped == kept
    for needed in ("MathJax.js", "config/TeX-AMS-MML_HTMLorMML-full.js", "config/Safe.js", "extensions/Safe.js"):
        assert Path(needed) in shipped, needed
    assert any(p.match("fonts/HTML-CSS/STIX-Web/woff/*.woff") for p in shipped)
    size = sum((copy / p).stat().st_size for p in shipped)
    assert size < 0.4 * sum(p.stat().st_size for p in source.rglob("*") if p.is_file()), size
    (copy / "MathJax.js").write_text("// the first copy")
    assert ship_mathjax(tmp_path / "feedback") == copy and (copy / "MathJax.js").read_text() == "// the first copy"
    assert [p.name for p in (tmp_path / "feedback").iterdir()] == [MATHJAX_FOLDER], "no scratch folder left"
