"""The report's page and problems.json, made from plain data: ``ClassData`` → ``summarize`` (the content
of problems.json) and ``render_html`` (report.html). autograder/report.py reads a graded course into a
``ClassData`` and says what the page shows; a test can make up a class of any size and render it here.
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
from urllib.parse import quote

from .course import printable
from .report_assets import SCRIPT, STYLE

TOP_MESSAGES = 3  # messages per test in the HTML table
TOP_MISCONCEPTIONS = 10  # bars in each assignment's message plot
LABEL_CHARS = 70  # longest plot label
STUDENTS_LISTED = 8  # students named with a mistake before the rest fold away

PASSED, FAILED, NOT_ATTEMPTED = "passed", "failed", "not attempted"


@dataclass
class Outcome:
    """One test in one submission: its score, and for a real failure its message and named mistake."""

    score: float
    status: str  # PASSED, FAILED or NOT_ATTEMPTED
    message: str | None = None
    mistake: str | None = None


@dataclass
class ClassData:
    """What the report shows, as plain data (``gather`` reads it from a graded course).

    Student and assignment names are printable (``course.printable``); ``tests`` and each student's
    outcomes are keyed as ``problems.json``'s tests. ``feedback`` holds each submission's feedback
    pages as links relative to the report.
    """

    students: list[str]  # the class, in order
    tests: dict[str, dict[str, tuple[str, float]]]  # assignment -> test -> (notebook, points), in order
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # assignment -> student -> score
    max_scores: dict[str, float] = field(default_factory=dict)  # assignment -> points (0 if unknown)
    outcomes: dict[str, dict[str, dict[str, Outcome]]] = field(default_factory=dict)  # assignment -> student -> test
    problems: list[dict] = field(default_factory=list)  # as in problems.json
    feedback: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # student -> assignment -> links


def summarize(data: ClassData) -> dict:
    """The content of ``problems.json`` (schema in the module docstring)."""
    assignments = {}
    for name, tests in data.tests.items():
        outcomes = data.outcomes.get(name, {})
        scores = data.scores.get(name, {})
        summary = {}
        for key, (notebook, points) in tests.items():
            ran = [mine[key] for mine in outcomes.values() if key in mine]
            failures = [o for o in ran if o.status != PASSED]
            messages = Counter(o.message for o in failures if o.status == FAILED)
            summary[key] = {
                "notebook": notebook,
                "points": points,
                "submissions": len(ran),
                "failures": len(failures),
                "failure_rate": round(len(failures) / len(ran), 4) if ran else 0.0,
                "messages": [[m, n] for m, n in sorted(messages.items(), key=lambda mn: (-mn[1], mn[0]))],
            }
        assignments[name] = {
            "max_score": data.max_scores.get(name, 0.0),
            "scores": scores,
            "unscored": [s for s in data.students if s not in scores],
            "tests": summary,
        }
    return {"assignments": assignments, "problems": data.problems}


def mistakes(data: ClassData, assignment: str) -> list[tuple[str, list[str], Counter]]:
    """``(mistake, students, tests)`` for each mistake named in ``assignment``: the students who made
    it (a submission counts once) and how often each test named it; the most common first."""
    students: dict[str, list[str]] = {}
    tests: dict[str, Counter] = {}
    for student, mine in data.outcomes.get(assignment, {}).items():
        for key, o in mine.items():
            if o.status == FAILED and o.mistake:
                if student not in students.setdefault(o.mistake, []):
                    students[o.mistake].append(student)
                tests.setdefault(o.mistake, Counter())[key] += 1
    ranked = sorted(students, key=lambda m: (-len(students[m]), m))
    return [(m, students[m], tests[m]) for m in ranked]


# -- plots -------------------------------------------------------------------------------------
DPI = 80


def _figure(width: float, height: float, **kwargs):
    from matplotlib.figure import Figure  # the Agg canvas; no pyplot, no global state

    return Figure(figsize=(width, height), dpi=DPI, **kwargs)


def _png(fig, tight: bool = True, usemap: str | None = None) -> str:
    """An ``<img>`` of a matplotlib figure, embedded as a base64 PNG (``usemap``: its image map's name)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, **({"bbox_inches": "tight"} if tight else {}))
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{data}"' + (f' usemap="#{usemap}">' if usemap else ">")


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _histogram(index: int, name: str, scores: list[float], max_score: float) -> str:
    """The score histogram, with an image map: a click on a bar shows its students in the students table."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = _figure(5, 2.6, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    top = max(max_score, *scores, 1.0)
    width = max(1.0, np.ceil(top / 15))  # whole points, at most ~15 bars
    bins = np.arange(-width / 2, top + width, width)
    counts, edges, _ = ax.hist(scores, bins=bins, color="#4c72b0", edgecolor="white")
    ax.set(xlabel=f"score (out of {max_score:g})", ylabel="students", title=f"{name}: scores")
    ax.yaxis.get_major_locator().set_params(integer=True)
    fig.canvas.draw()  # the layout, as savefig will draw it: pixel places of the bars for the map
    height = fig.bbox.height
    top_px, bottom_px = round(height - ax.bbox.y1), round(height - ax.bbox.y0)
    areas = []
    for n, lo, hi in zip(counts, edges[:-1], edges[1:]):
        if n == 0:
            continue
        (x0, _), (x1, _) = ax.transData.transform([(lo, 0), (hi, 0)])
        said = f"{int(n)} student{'' if n == 1 else 's'} with a score from {lo:g} to under {hi:g}"
        areas.append(
            f'<area shape="rect" coords="{round(x0)},{top_px},{round(x1)},{bottom_px}" href="#students" '
            f'data-a="{index}" data-lo="{lo:g}" data-hi="{hi:g}" alt="{_e(said)}" title="{_e(said)}">'
        )
    return _png(fig, tight=False, usemap=f"scores-{index}") + f'<map name="scores-{index}">{"".join(areas)}</map>'


def _plots(index: int, name: str, data: dict, not_attempted: dict[str, int]) -> list[str]:
    """The score histogram, the failure rate per test (real failures, then stubs left as released)
    and the most common failure messages."""
    images = []
    scores, max_score = list(data["scores"].values()), data["max_score"]
    if scores:
        images.append(_histogram(index, name, scores, max_score))
    tests = data["tests"]
    if tests:
        fig = _figure(5, 0.5 + 0.28 * len(tests))
        ax = fig.add_subplot()
        ids = list(tests)[::-1]
        ran = [max(tests[t]["submissions"], 1) for t in ids]
        stubs = [100 * not_attempted.get(t, 0) / n for t, n in zip(ids, ran)]
        real = [100 * (tests[t]["failures"] - not_attempted.get(t, 0)) / n for t, n in zip(ids, ran)]
        ax.barh(ids, real, color="#dd8452", label="failed")
        if any(stubs):
            ax.barh(ids, stubs, left=real, color="#bbbbbb", label="not attempted")
            ax.legend(loc="lower right", fontsize="small")
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
def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _e(value) -> str:
    return html.escape(printable(value, None))


def _student(name: str) -> str:
    """A link that opens ``name``'s view."""
    return f'<a class=student href="#student={_e(quote(name, safe=""))}">{_e(name)}</a>'


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _sortable(headers: list[str], rows: list[str], id_: str | None = None) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    return (
        f"<table class=sortable{f' id={id_}' if id_ else ''}><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _mistakes_html(ranked: list[tuple[str, list[str], Counter]]) -> str:
    if not ranked:
        return "<p class=none>No failure named a likely mistake.</p>"
    rows = []
    for rank, (mistake, students, tests) in enumerate(ranked, 1):
        named = ", ".join(_student(s) for s in students[:STUDENTS_LISTED])
        if len(students) > STUDENTS_LISTED:
            rest = ", ".join(_student(s) for s in students[STUDENTS_LISTED:])
            named += f" <details><summary>{len(students) - STUDENTS_LISTED} more</summary>{rest}</details>"
        where = ", ".join(f"{_e(t)} ×{n}" for t, n in tests.most_common())
        rows.append(
            f"<tr><td class=num>{rank}</td><td class=mistake>{_e(mistake)}</td><td class=num>{len(students)}</td>"
            f"<td>{where}</td><td>{named}</td></tr>"
        )
    return _sortable(["#", "likely mistake", "submissions", "tests", "students"], rows)


def _assignment_html(index: int, name: str, data: dict, classdata: ClassData) -> str:
    scores = sorted(data["scores"].values())
    outcomes = classdata.outcomes.get(name, {})
    not_attempted = Counter(k for mine in outcomes.values() for k, o in mine.items() if o.status == NOT_ATTEMPTED)
    if scores:
        mean, median = statistics.mean(scores), statistics.median(scores)
        summary = f"{len(scores)} graded; mean {mean:.3g}, median {median:g} of {data['max_score']:g}"
    else:
        summary = "nobody submitted it"
    stubbed = sum(any(o.status == NOT_ATTEMPTED for o in mine.values()) for mine in outcomes.values())
    if stubbed:
        summary += f"; {_count(stubbed, 'submission')} left a stub as released (those tests: not attempted)"
    if data["unscored"]:
        summary += f"; no grade: {', '.join(data['unscored'])}"
    rows = []
    for grade_id, t in data["tests"].items():
        messages = "".join(f"<li>{_e(m)} <b>×{n}</b></li>" for m, n in t["messages"][:TOP_MESSAGES])
        stubs = not_attempted.get(grade_id, 0)
        real = t["failures"] - stubs
        rate = real / t["submissions"] if t["submissions"] else 0.0
        rows.append(
            f"<tr><td class=id>{_e(grade_id)}</td><td class=num>{t['points']:g}</td>"
            f"<td class=num data-v={real}>{real} / {t['submissions']}</td>"
            f"<td class=num>{stubs}</td>"
            f"<td class=num data-v={rate:.4f}>{100 * rate:.0f}%</td>"
            f"<td>{f'<ul class=messages>{messages}</ul>' if messages else '<span class=none>none</span>'}</td></tr>"
        )
    headers = ["test", "points", "failed / ran", "not attempted", "rate", "most common failure messages"]
    table = _sortable(headers, rows) if rows else "<p class=none>No test cells found.</p>"
    plots = "".join(_plots(index, name, data, not_attempted))
    return (
        f"<section id=a-{index}><h2>{_e(name)}</h2><p>{_e(summary)}</p><div class=plots>{plots}</div>"
        f"<h3>Likely mistakes, most common first</h3>{_mistakes_html(mistakes(classdata, name))}"
        f"<h3>Tests</h3>{table}</section>"
    )


def _students_html(data: ClassData) -> str:
    if not data.students:
        return "<p class=none>No students.</p>"
    names = list(data.tests)
    flags = Counter(p["student"] for p in data.problems)
    rows = []
    for student in data.students:
        cells, got, out_of, counts = [], 0.0, 0.0, Counter()
        for i, name in enumerate(names):
            score = data.scores.get(name, {}).get(student)
            out_of += data.max_scores.get(name, 0.0)
            got += score or 0.0
            shown = "-" if score is None else _num(score)
            cells.append(f'<td class=num data-a={i} data-v="{_num(score)}">{shown}</td>')
            for o in data.outcomes.get(name, {}).get(student, {}).values():
                counts[o.status] += 1
                counts["mistakes"] += o.status == FAILED and o.mistake is not None
        rows.append(
            f"<tr><td>{_student(student)}</td>{''.join(cells)}<td class=num data-v={got:g}>{got:g} / {out_of:g}</td>"
            f"<td class=num>{counts[FAILED]}</td><td class=num>{counts[NOT_ATTEMPTED]}</td>"
            f"<td class=num>{counts['mistakes']}</td><td class=num>{flags[student]}</td></tr>"
        )
    headers = ["student", *map(_e, names), "total", "failed tests", "not attempted", "named mistakes", "flags"]
    return _sortable(headers, rows, "students-table")


def _problems_html(data: ClassData) -> str:
    if not data.problems:
        return "<p class=none>No submission was flagged.</p>"
    rows, known = [], set(data.students)
    for p in data.problems:
        pages = data.feedback.get(p["student"], {}).get(p["assignment"], []) if p["assignment"] else []
        feedback = " ".join(f'<a href="{_e(link)}">{_e(Path(link).name)}</a>' for link in pages)
        rows.append(
            f"<tr><td>{_student(p['student']) if p['student'] in known else _e(p['student'])}</td>"
            f"<td>{_e(p['assignment'] or '-')}</td>"
            f"<td class=reason>{_e(p['reason'])}</td><td>{_e(p['message'])}</td>"
            f"<td>{feedback or '<span class=none>none</span>'}</td></tr>"
        )
    return _sortable(["student", "assignment", "reason", "message", "feedback"], rows)


def _view_data(data: ClassData) -> dict:
    """What the per-student view reads: per student, per assignment (in order) the score, each test's
    ``[score, result, message, mistake]`` (result 0 passed, 1 failed, 2 not attempted) and the links."""
    names = list(data.tests)
    codes = {PASSED: 0, FAILED: 1, NOT_ATTEMPTED: 2}
    students = {}
    for student in data.students:
        tests = []
        for name in names:
            mine = data.outcomes.get(name, {}).get(student)
            if mine is None:
                tests.append(None)
                continue
            row = []
            for key in data.tests[name]:
                o = mine.get(key)
                row.append(None if o is None else [o.score, codes[o.status], o.message, o.mistake])
            tests.append(row)
        students[student] = {
            "scores": [data.scores.get(name, {}).get(student) for name in names],
            "tests": tests,
            "feedback": [data.feedback.get(student, {}).get(name, []) for name in names],
            "flags": [[p["assignment"], p["reason"], p["message"]] for p in data.problems if p["student"] == student],
        }
    return {
        "assignments": [
            {"name": n, "max": data.max_scores.get(n, 0.0), "tests": [[k, p] for k, (_, p) in data.tests[n].items()]}
            for n in names
        ],
        "index": {n: i for i, n in enumerate(names)},
        "students": students,
    }


def _json_in_html(value) -> str:
    """JSON for a ``<script type="application/json">``: no ``<``, ``>`` or ``&`` that could end it."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def render_html(data: ClassData, summary: dict | None = None) -> str:
    """The report page for ``data`` (``summary``: ``summarize(data)``, if already made)."""
    import matplotlib

    summary = summarize(data) if summary is None else summary
    with matplotlib.rc_context({"text.parse_math": False}), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. a glyph a student's message uses and the font lacks
        sections = "".join(
            _assignment_html(i, name, a, data) for i, (name, a) in enumerate(summary["assignments"].items())
        )
    reasons = Counter(p["reason"] for p in summary["problems"])
    counted = ", ".join(f"{r}: {n}" for r, n in sorted(reasons.items())) or "none"
    nav = " · ".join(
        [f"<a href=#a-{i}>{_e(name)}</a>" for i, name in enumerate(summary["assignments"])]
        + ["<a href=#students>students</a>", "<a href=#flagged>flagged submissions</a>"]
    )
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>Grading report</title>"
        f"<style>{STYLE}</style></head><body><h1>Grading report</h1>"
        f"<p>{_count(len(data.students), 'student')}, {_count(len(summary['assignments']), 'assignment')}; "
        f"problems by reason: {_e(counted)}. "
        "Details in problems.json. Click a column's header to sort, a bar of a score histogram to see its "
        "students, a student's name for their results.</p>"
        f"<nav>{nav}</nav>{sections}"
        "<h2 id=students>Students</h2>"
        "<p id=filter hidden><span></span><button type=button>Show every student</button></p>"
        f"{_students_html(data)}"
        f"<h2 id=flagged>Submissions flagged for review</h2>{_problems_html(data)}"
        '<dialog id=student-view aria-label="one student\'s results"><button type=button class=close>Close</button>'
        "<div id=student-body></div></dialog>"
        f'<script type="application/json" id="report-data">{_json_in_html(_view_data(data))}</script>'
        f'<script id="report-script">{SCRIPT}</script></body></html>'
    )
