"""The instructor's report on a graded class: ``report.html`` and ``problems.json`` next to ``grades.csv``.

``write_report(report, course_root, out)`` reads the scores from the ``GradeReport`` (which
``Course.scores()`` filled from nbgrader's gradebook), the test cells' outcomes from the autograded
notebooks ``course_root/autograded/<student>/<assignment>/*.ipynb``, and the problems met while
grading. The HTML page is self-contained (plots are base64 PNG ``data:`` URIs, the style is inline,
no script): it opens offline and can be mailed. Everything in it that a student's code could have
written (messages, names) is escaped for HTML and made one printable line (``course.printable``), in
problems.json too; only the tests of the source notebooks are counted, whatever cells a submission adds.

A test *fails* in a submission when nbgrader would not give it full points (``determine_grade``:
an error, output on stderr, or partial credit). Its *message* names what went wrong:

- from the first error output of the cell: ``"<ename>: <line>"``, where ``line`` is the evalue's
  ``Likely mistake: ...`` line if ``utils.assert_close`` named one of the test author's
  misconceptions, else the evalue's first line (just ``"<ename>"`` when the evalue is empty);
- ``"output on stderr: <first line>"`` when the cell wrote to stderr;
- ``"partial credit"`` otherwise.

``problems.json`` schema::

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
              "messages": [["<message>", count], ...]   # most common first
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

import base64
import html
import io
import json
import statistics
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from nbformat import NotebookNode

from .course import printable
from .feedback import is_test_cell
from .notebooks import read_notebook

if TYPE_CHECKING:
    from .course import GradeReport

TOP_MESSAGES = 3  # messages per test in the HTML table
TOP_MISCONCEPTIONS = 10  # bars in each assignment's message plot
LABEL_CHARS = 70  # longest plot label


@dataclass
class TestStats:
    """One test cell across the class: its points, how many notebooks ran it and failed it, and
    the failure messages counted."""

    notebook: str
    points: float
    submissions: int = 0
    failures: int = 0
    messages: Counter = field(default_factory=Counter)

    @property
    def failure_rate(self) -> float:
        return self.failures / self.submissions if self.submissions else 0.0


def failure_message(cell: NotebookNode) -> str | None:
    """What went wrong in an autograded test cell (module docstring), or None if it earned full points."""
    from nbgrader.utils import determine_grade

    try:
        score, max_points = determine_grade(cell)
    except Exception:  # noqa: BLE001 (e.g. an execute_result nbgrader cannot read as partial credit)
        return None
    if score is not None and score >= max_points:
        return None
    outputs = cell.get("outputs", [])
    for out in outputs:
        if out.get("output_type") == "error":
            lines = [ln.strip() for ln in str(out.get("evalue", "")).splitlines() if ln.strip()]
            named = [ln for ln in lines if ln.startswith("Likely mistake:")]
            line = (named or lines or [""])[0]
            ename = printable(out.get("ename", "Error"), 100)
            return f"{ename}: {printable(line, 200)}" if line else ename
    for out in outputs:
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            first = next((ln.strip() for ln in str(out.get("text", "")).splitlines() if ln.strip()), "")
            return f"output on stderr: {printable(first, 200)}".rstrip(": ")
    return "partial credit"


def _test_cells(path: Path) -> list[NotebookNode]:
    try:
        return [cell for cell in read_notebook(path).cells if is_test_cell(cell)]
    except Exception:  # noqa: BLE001 (a notebook the report cannot read is left out of it)
        return []


def collect_tests(course_root: Path, assignment: str) -> dict[str, TestStats]:
    """Per test of ``assignment``: points from the staged source notebooks (so a test nobody ran is
    listed), outcomes from every autograded notebook; keyed as in ``problems.json``."""
    stats: dict[tuple[str, str], TestStats] = {}

    def entry(notebook: str, cell: NotebookNode) -> TestStats:
        key = (notebook, cell.metadata["nbgrader"]["grade_id"])
        if key not in stats:
            stats[key] = TestStats(notebook, float(cell.metadata["nbgrader"].get("points", 0)))
        return stats[key]

    for path in sorted((course_root / "source" / assignment).glob("*.ipynb")):
        for cell in _test_cells(path):
            entry(path.name, cell)
    for path in sorted(course_root.glob(f"autograded/*/{assignment}/*.ipynb")):
        for cell in _test_cells(path):
            test = stats.get((path.name, cell.metadata["nbgrader"].get("grade_id")))
            if test is None:  # not a test of the source: a cell the student added
                continue
            test.submissions += 1
            message = failure_message(cell)
            if message is not None:
                test.failures += 1
                test.messages[message] += 1
    ids = Counter(grade_id for _, grade_id in stats)
    return {
        (grade_id if ids[grade_id] == 1 else f"{Path(nb).stem}/{grade_id}"): s for (nb, grade_id), s in stats.items()
    }


def summarize(report: GradeReport, course_root: Path) -> dict:
    """The content of ``problems.json`` (schema in the module docstring)."""
    course_root = Path(course_root)
    assignments = {}
    for assignment in report.assignments:
        tests = collect_tests(course_root, assignment)
        scores = {s: float(got) for (s, a), (got, _) in sorted(report.scores.items()) if a == assignment}
        max_score = report.max_score(assignment) or sum(t.points for t in tests.values())
        assignments[assignment] = {
            "max_score": float(max_score),
            "scores": scores,
            "unscored": [s for s in report.students if s not in scores],
            "tests": {
                grade_id: {
                    "notebook": t.notebook,
                    "points": t.points,
                    "submissions": t.submissions,
                    "failures": t.failures,
                    "failure_rate": round(t.failure_rate, 4),
                    "messages": [[m, n] for m, n in sorted(t.messages.items(), key=lambda mn: (-mn[1], mn[0]))],
                }
                for grade_id, t in tests.items()
            },
        }
    problems = [
        {
            "student": printable(p.student, 100),
            "assignment": None if p.assignment is None else printable(p.assignment, 100),
            "reason": str(p.reason),
            "message": printable(p.message),
        }
        for p in report.problems
    ]
    return {"assignments": assignments, "problems": problems}


# -- plots -------------------------------------------------------------------------------------
def _png(fig) -> str:
    """An ``<img>`` of a matplotlib figure, embedded as a base64 PNG."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # the Agg canvas; no pyplot, no global state

    return Figure(figsize=(width, height))


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _plots(name: str, data: dict) -> list[str]:
    """The score histogram, the failure rate per test and the most common failure messages."""
    import numpy as np

    images = []
    scores, max_score = list(data["scores"].values()), data["max_score"]
    if scores:
        fig = _figure(5, 2.6)
        ax = fig.add_subplot()
        top = max(max_score, *scores, 1.0)
        width = max(1.0, np.ceil(top / 15))  # whole points, at most ~15 bars
        bins = np.arange(-width / 2, top + width, width)
        ax.hist(scores, bins=bins, color="#4c72b0", edgecolor="white")
        ax.set(xlabel=f"score (out of {max_score:g})", ylabel="students", title=f"{name}: scores")
        ax.yaxis.get_major_locator().set_params(integer=True)
        images.append(_png(fig))
    tests = data["tests"]
    if tests:
        fig = _figure(5, 0.5 + 0.28 * len(tests))
        ax = fig.add_subplot()
        ids = list(tests)[::-1]
        ax.barh(ids, [100 * tests[t]["failure_rate"] for t in ids], color="#dd8452")
        ax.set(xlim=(0, 100), xlabel="% of submissions failing", title=f"{name}: failure rate per test")
        images.append(_png(fig))
    common = sorted(
        ((n, f"{t}: {m}") for t, d in tests.items() for m, n in d["messages"]), key=lambda nm: (-nm[0], nm[1])
    )[:TOP_MISCONCEPTIONS]
    if common:
        fig = _figure(7, 0.5 + 0.3 * len(common))
        ax = fig.add_subplot()
        ax.barh([_short(m) for _, m in common][::-1], [n for n, _ in common][::-1], color="#c44e52")
        ax.set(xlabel="submissions", title=f"{name}: most common failure messages")
        ax.xaxis.get_major_locator().set_params(integer=True)
        images.append(_png(fig))
    return images


# -- the page ------------------------------------------------------------------------------------
STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; }
td.id, td.reason { white-space: nowrap; }
.plots img { margin: 0.3em 1em 0.3em 0; vertical-align: top; }
.none { color: #777; }
ul.messages { margin: 0; padding-left: 1.2em; }
"""


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _e(value) -> str:
    return html.escape(printable(value, None))


def _assignment_html(name: str, data: dict) -> str:
    scores = sorted(data["scores"].values())
    if scores:
        mean, median = statistics.mean(scores), statistics.median(scores)
        summary = f"{len(scores)} graded; mean {mean:.3g}, median {median:g} of {data['max_score']:g}"
    else:
        summary = "nobody submitted it"
    if data["unscored"]:
        summary += f"; no grade: {', '.join(data['unscored'])}"
    rows = []
    for grade_id, t in data["tests"].items():
        messages = "".join(f"<li>{_e(m)} <b>×{n}</b></li>" for m, n in t["messages"][:TOP_MESSAGES])
        rows.append(
            f"<tr><td class=id>{_e(grade_id)}</td><td class=num>{t['points']:g}</td>"
            f"<td class=num>{t['failures']} / {t['submissions']}</td>"
            f"<td class=num>{100 * t['failure_rate']:.0f}%</td>"
            f"<td>{f'<ul class=messages>{messages}</ul>' if messages else '<span class=none>none</span>'}</td></tr>"
        )
    table = (
        "<table><tr><th>test</th><th>points</th><th>failed / ran</th><th>rate</th>"
        "<th>most common failure messages</th></tr>" + "".join(rows) + "</table>"
        if rows
        else "<p class=none>No test cells found.</p>"
    )
    plots = "".join(_plots(name, data))
    return f"<h2>{_e(name)}</h2><p>{_e(summary)}</p><div class=plots>{plots}</div>{table}"


def _problems_html(problems: list[dict]) -> str:
    if not problems:
        return "<p class=none>No submission was flagged.</p>"
    rows = "".join(
        f"<tr><td>{_e(p['student'])}</td><td>{_e(p['assignment'] or '-')}</td>"
        f"<td class=reason>{_e(p['reason'])}</td><td>{_e(p['message'])}</td></tr>"
        for p in problems
    )
    return f"<table><tr><th>student</th><th>assignment</th><th>reason</th><th>message</th></tr>{rows}</table>"


def render_html(summary: dict, students: int) -> str:
    """The report page for ``summarize``'s result."""
    import matplotlib

    with matplotlib.rc_context({"text.parse_math": False}), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. a glyph a student's message uses and the font lacks
        sections = "".join(_assignment_html(name, data) for name, data in summary["assignments"].items())
    reasons = Counter(p["reason"] for p in summary["problems"])
    counted = ", ".join(f"{r}: {n}" for r, n in sorted(reasons.items())) or "none"
    return (
        "<!DOCTYPE html><html><head><meta charset=utf-8><title>Grading report</title>"
        f"<style>{STYLE}</style></head><body><h1>Grading report</h1>"
        f"<p>{_count(students, 'student')}, {_count(len(summary['assignments']), 'assignment')}; "
        f"problems by reason: {_e(counted)}. "
        "Details in problems.json.</p>"
        f"{sections}<h2>Submissions flagged for review</h2>{_problems_html(summary['problems'])}</body></html>"
    )


def write_report(report: GradeReport, course_root: Path, out: Path) -> tuple[Path, Path]:
    """Write ``out/report.html`` and ``out/problems.json``; return their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(report, Path(course_root))
    html_path, json_path = out / "report.html", out / "problems.json"
    json_path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    html_path.write_text(render_html(summary, len(report.students)), encoding="utf-8")
    return html_path, json_path
