"""The instructor's report on a graded class: ``report.html`` and ``problems.json`` next to ``grades.csv``.

``write_report(report, course_root, out)`` reads the scores from the ``GradeReport`` (which
``Course.scores()`` filled from nbgrader's gradebook), the test cells' outcomes from the autograded
notebooks ``course_root/autograded/<student>/<assignment>/*.ipynb``, the released notebooks
``course_root/release/<assignment>/*.ipynb`` (to tell a stub left as released), the feedback pages
under ``report.feedback_dir``, and the problems met while grading. ``gather`` turns them into a
``ClassData``, plain data from which ``summarize`` makes ``problems.json`` and ``render_html`` the page
(both in autograder/report_render.py, the page's style and script in report_assets.py; a test can make
up a class of any size and render it without grading it).

The HTML page is one self-contained file: plots are base64 PNG ``data:`` URIs, the style and a small
script are inline, nothing is loaded from anywhere. It opens offline and can be mailed. The script
sorts every table by a click on its header, filters the students table by a click on a bar of a score
histogram, and opens a per-student view (score per test, named mistakes, flags, links to the feedback
pages) from any student's name; the view's address is ``report.html#student=<id>``. Everything in the
page that a student's code could have written (messages, names) is escaped for HTML and made one
printable line (``course.printable``), in problems.json too; the script puts it in the page as text,
never as markup. Only the tests of the source notebooks are counted, whatever cells a submission adds.

A test *fails* in a submission when nbgrader would not give it full points (``determine_grade``:
an error, output on stderr, or partial credit). A failure is *not attempted* when its error is the
``NotImplementedError`` of a stub and the submission still has a solution cell exactly as released
(a stub left as it was), and every failure of a blank notebook (every solution cell as released: a
cell that runs the student's code fails too, with its own words) is; any other failure is a real
one, and its *message* names what went wrong:

- from the first error output of the cell: ``"<ename>: <line>"``, where ``line`` is the evalue's
  ``Likely mistake: ...`` line if ``utils.assert_close`` named one of the test author's
  misconceptions, else the evalue's first line (just ``"<ename>"`` when the evalue is empty);
- ``"output on stderr: <first line>"`` when the cell wrote to stderr;
- ``"partial credit"`` otherwise.

A real failure's *named mistake* is what follows ``Likely mistake: `` in the error (at the start of a
line, the convention of the grader's checks, or after a sentence on the same line). The report ranks
an assignment's named mistakes by the number of submissions that made them: the class's
misconceptions, most common first.

``problems.json`` schema (its ``messages`` count real failures only: ``failures`` minus the sum of the
counts is the number of submissions that did not attempt the test)::

    {
      "assignments": {
        "<assignment>": {
          "max_score": float,                 # the assignment's points (0 if unknown)
          "scores": {"<student>": float},     # every student with a gradebook row
          "unscored": ["<student>", ...],     # students of the class without one
          "tests": {
            "<grade_id>": {                   # in notebook order; "<notebook>/<grade_id>" if two
              "notebook": "<notebook>.ipynb", #   notebooks share a grade id
              "points": float,
              "submissions": int,             # autograded notebooks that contain the test
              "failures": int,                # of those, how many did not get full points
              "failure_rate": float,          # failures / submissions (0 without submissions)
              "messages": [["<message>", count], ...]   # real failures, most common first
            }
          }
        }
      },
      "problems": [                           # every Problem of the run, in its order
        {"student": str, "assignment": str | null, "reason": str, "message": str}
      ]
    }
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from nbformat import NotebookNode

from .course import printable
from .feedback import is_test_cell
from .notebooks import read_notebook
from .report_render import (  # noqa: F401 (re-exported: the report's data and page, from one module)
    FAILED,
    NOT_ATTEMPTED,
    PASSED,
    ClassData,
    Outcome,
    mistakes,
    render_html,
    summarize,
)

if TYPE_CHECKING:
    from .course import GradeReport

NAME_CHARS = 100  # longest student or assignment name shown
STUB_ERROR = "NotImplementedError"  # what the released stub raises (nbgrader_config.py's code_stub)
MISTAKE = "Likely mistake: "
NONE, SOME, ALL = "none", "some", "all"  # a submission's solution cells left as released


# -- reading a graded course -------------------------------------------------------------------
def _grade(cell: NotebookNode) -> tuple[float | None, float] | None:
    from nbgrader.utils import determine_grade

    try:
        return determine_grade(cell)
    except Exception:  # noqa: BLE001 (e.g. an execute_result nbgrader cannot read as partial credit)
        return None


def _first_error(cell: NotebookNode) -> dict | None:
    return next((out for out in cell.get("outputs", []) if out.get("output_type") == "error"), None)


def failure_message(cell: NotebookNode) -> str | None:
    """What went wrong in an autograded test cell (module docstring), or None if it earned full points."""
    grade = _grade(cell)
    if grade is None:
        return None
    score, max_points = grade
    if score is not None and score >= max_points:
        return None
    error = _first_error(cell)
    if error is not None:
        lines = [ln.strip() for ln in str(error.get("evalue", "")).splitlines() if ln.strip()]
        named = [ln for ln in lines if ln.startswith("Likely mistake:")]
        line = (named or lines or [""])[0]
        ename = printable(error.get("ename", "Error"), 100)
        return f"{ename}: {printable(line, 200)}" if line else ename
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            first = next((ln.strip() for ln in str(out.get("text", "")).splitlines() if ln.strip()), "")
            return f"output on stderr: {printable(first, 200)}".rstrip(": ")
    return "partial credit"


def named_mistake(cell: NotebookNode) -> str | None:
    """The mistake a test cell's error names (``Likely mistake: <this>``), or None."""
    error = _first_error(cell)
    for line in str(error.get("evalue", "") if error else "").splitlines():
        at = line.find(MISTAKE)
        if at == 0 or (at > 0 and line[at - 1].isspace()):
            text = line[at + len(MISTAKE) :].strip()
            if text:
                return printable(text, 200)
    return None


def outcome_of(cell: NotebookNode, points: float, stubs: str = SOME) -> Outcome:
    """The ``Outcome`` of an autograded test cell worth ``points``; ``stubs``: how many of the
    submission's solution cells are as released (``stubs_left``)."""
    message = failure_message(cell)
    if message is None:
        return Outcome(points, PASSED)
    grade = _grade(cell)
    score = float(grade[0] or 0.0) if grade else 0.0
    error = _first_error(cell)
    stub_raised = error is not None and error.get("ename") == STUB_ERROR
    if stubs == ALL or (stubs == SOME and stub_raised):
        return Outcome(score, NOT_ATTEMPTED)
    return Outcome(score, FAILED, message, named_mistake(cell))


def _read(path: Path) -> NotebookNode | None:
    try:
        return read_notebook(path)
    except Exception:  # noqa: BLE001 (a notebook the report cannot read is left out of it)
        return None


def _solutions(nb: NotebookNode | None) -> dict[str, str]:
    """The solution code cells of ``nb`` by grade id, their sources without trailing blanks."""
    found = {}
    for cell in nb.cells if nb is not None else []:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and isinstance(meta, dict) and meta.get("solution") and "grade_id" in meta:
            found[str(meta["grade_id"])] = "\n".join(line.rstrip() for line in cell.source.strip().splitlines())
    return found


def stubs_left(nb: NotebookNode, released: NotebookNode | None) -> str:
    """``ALL`` if every solution cell of ``nb`` is as ``released`` (a blank notebook), ``SOME`` if one
    is a stub exactly as released (its raise included), else ``NONE``."""
    theirs, ours = _solutions(nb), _solutions(released)
    if ours and theirs == ours:
        return ALL
    stubs = {gid: src for gid, src in ours.items() if STUB_ERROR in src}
    return SOME if any(stubs.get(gid) == src for gid, src in theirs.items()) else NONE


def _test_cells(nb: NotebookNode | None) -> list[NotebookNode]:
    return [cell for cell in nb.cells if is_test_cell(cell)] if nb is not None else []


def read_assignment(course_root: Path, assignment: str) -> tuple[dict, dict]:
    """``(tests, outcomes)`` of ``assignment`` for ``ClassData``: the tests and their points from the
    staged source notebooks (so a test nobody ran is listed), the outcomes from every autograded one."""
    course_root = Path(course_root)
    points: dict[tuple[str, str], float] = {}
    for path in sorted((course_root / "source" / assignment).glob("*.ipynb")):
        for cell in _test_cells(_read(path)):
            meta = cell.metadata["nbgrader"]
            points.setdefault((path.name, meta["grade_id"]), float(meta.get("points", 0)))
    ids = Counter(grade_id for _, grade_id in points)

    def key(notebook: str, grade_id: str) -> str:
        return grade_id if ids[grade_id] == 1 else f"{Path(notebook).stem}/{grade_id}"

    tests = {key(nb, gid): (nb, p) for (nb, gid), p in points.items()}
    released: dict[str, NotebookNode | None] = {}
    outcomes: dict[str, dict[str, Outcome]] = {}
    for path in sorted(course_root.glob(f"autograded/*/{assignment}/*.ipynb")):
        nb = _read(path)
        if nb is None:
            continue
        if path.name not in released:
            released[path.name] = _read(course_root / "release" / assignment / path.name)
        left = stubs_left(nb, released[path.name])
        mine = outcomes.setdefault(printable(path.parent.parent.name, NAME_CHARS), {})
        for cell in _test_cells(nb):
            where = (path.name, cell.metadata["nbgrader"].get("grade_id"))
            if where in points:  # else not a test of the source: a cell the student added
                mine[key(*where)] = outcome_of(cell, points[where], left)
    return tests, outcomes


def feedback_links(feedback_dir: Path, out: Path) -> dict[str, dict[str, list[str]]]:
    """The feedback pages ``feedback_dir/<student>/<assignment>/*.html`` as links relative to ``out``."""
    links: dict[str, dict[str, list[str]]] = {}
    for page in sorted(Path(feedback_dir).glob("*/*/*.html")):
        student, assignment = page.parent.parent.name, page.parent.name
        if student.startswith("."):  # MathJax, not a student
            continue
        relative = Path(os.path.relpath(page, out))
        link = "/".join(quote(part) for part in relative.parts)
        per_student = links.setdefault(printable(student, NAME_CHARS), {})
        per_student.setdefault(printable(assignment, NAME_CHARS), []).append(link)
    return links


def gather(report: GradeReport, course_root: Path, out: Path | None = None) -> ClassData:
    """The ``ClassData`` of a graded run (feedback links relative to ``out``, if feedback was written)."""
    data = ClassData(students=[printable(s, NAME_CHARS) for s in report.students], tests={})
    for assignment in report.assignments:
        name = printable(assignment, NAME_CHARS)
        data.tests[name], data.outcomes[name] = read_assignment(Path(course_root), assignment)
        graded = sorted((s, got) for (s, a), (got, _) in report.scores.items() if a == assignment)
        data.scores[name] = {printable(s, NAME_CHARS): float(got) for s, got in graded}
        data.max_scores[name] = float(report.max_score(assignment) or sum(p for _, p in data.tests[name].values()))
    data.problems = [
        {
            "student": printable(p.student, NAME_CHARS),
            "assignment": None if p.assignment is None else printable(p.assignment, NAME_CHARS),
            "reason": str(p.reason),
            "message": printable(p.message),
        }
        for p in report.problems
    ]
    if out is not None and report.feedback_dir is not None and Path(report.feedback_dir).is_dir():
        data.feedback = feedback_links(Path(report.feedback_dir), Path(out))
    return data


def write_report(report: GradeReport, course_root: Path, out: Path) -> tuple[Path, Path]:
    """Write ``out/report.html`` and ``out/problems.json``; return their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = gather(report, Path(course_root), out)
    summary = summarize(data)
    html_path, json_path = out / "report.html", out / "problems.json"
    json_path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    html_path.write_text(render_html(data, summary), encoding="utf-8")
    return html_path, json_path
