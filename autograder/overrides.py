"""The instructor's word over the autograder: ``grade --overrides overrides.csv``.

Tampering, torch inside a numpy function or a repeat that failed outside the kernel score 0 and are
flagged for review. Having reviewed a flagged submission, the instructor writes the score a test
deserves into a CSV file, one row per test::

    student,assignment,test,score,reason
    alice,01_backprop,linear,6,"reviewed: the warning came from a plotting cell"

``test`` is the name of the test cell's header (``# Test: linear (6 points)``). Every run of
``grade`` with the file applies it, after nbgrader has autograded the submission and before its
feedback is written, as nbgrader's manual score of that test (which takes precedence over the
automatic one): ``grades.csv``, the feedback and the report all show it, and the report lists each
override with its reason. A row that names an unknown student, assignment or test, or a score
outside ``0..points``, stops the run before anything is graded, with the file's line.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

COLUMNS = ["student", "assignment", "test", "score", "reason"]


class OverrideError(ValueError):
    """The overrides file cannot be used as it is; the message names the line."""


@dataclass(frozen=True)
class Override:
    student: str
    assignment: str
    test: str
    score: float
    reason: str
    line: int


def read_overrides(path: Path) -> list[Override]:
    """The rows of an overrides CSV file (``COLUMNS``), checked for form only."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise OverrideError(f"cannot read the overrides file {path}: {exc}") from None
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or [f.strip() for f in reader.fieldnames] != COLUMNS:
        raise OverrideError(f"{path}: the first line must be the header {','.join(COLUMNS)}")
    rows, seen = [], set()
    for number, row in enumerate(reader, start=2):
        values = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if not any(values.values()):
            continue
        where = f"{path}, line {number}"
        missing = [c for c in COLUMNS[:4] if not values.get(c)]
        if missing or None in row:
            raise OverrideError(f"{where}: expected {len(COLUMNS)} columns with {', '.join(COLUMNS[:4])} filled in")
        try:
            score = float(values["score"])
        except ValueError:
            raise OverrideError(f"{where}: the score {values['score']!r} is not a number") from None
        key = (values["student"], values["assignment"], values["test"])
        if key in seen:
            raise OverrideError(f"{where}: a second row for {'/'.join(key)}")
        seen.add(key)
        rows.append(Override(*key, score, values.get("reason", ""), number))
    return rows


def tests_of(source_notebooks: list[Path]) -> dict[str, tuple[str, str, float]]:
    """Test name -> ``(notebook, grade_id, points)`` for one assignment's staged source notebooks."""
    from .notebooks import header_of, read_notebook

    found = {}
    for path in source_notebooks:
        for cell in read_notebook(path).cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            match = header_of(cell)
            if match and meta.get("grade"):
                found[match["name"]] = (path.stem, meta["grade_id"], float(meta.get("points", 0)))
    return found


def check(overrides: list[Override], students: set[str], tests: dict[str, dict[str, tuple[str, str, float]]]) -> None:
    """Raise OverrideError for a row that names an unknown student, assignment or test, or a score
    outside ``0..points``. ``tests``: assignment -> ``tests_of(...)``."""
    for row in overrides:
        where = f"line {row.line}"
        if row.student not in students:
            raise OverrideError(f"{where}: no submission from a student {row.student!r}")
        if row.assignment not in tests:
            raise OverrideError(f"{where}: no assignment {row.assignment!r} (known: {', '.join(sorted(tests))})")
        cells = tests[row.assignment]
        if row.test not in cells:
            raise OverrideError(
                f"{where}: {row.assignment} has no test {row.test!r} (its tests: {', '.join(sorted(cells))})"
            )
        points = cells[row.test][2]
        if not 0 <= row.score <= points:
            raise OverrideError(f"{where}: {row.test} is worth {points:g} points; {row.score:g} is out of range")


def apply(db_url: str, overrides: list[Override], tests: dict[str, tuple[str, str, float]]) -> list[str]:
    """Write one submission's overrides into the gradebook as manual scores; say what changed."""
    from nbgrader.api import Gradebook

    said = []
    with Gradebook(db_url) as gb:
        for row in overrides:
            notebook, grade_id, points = tests[row.test]
            grade = gb.find_grade(grade_id, notebook, row.assignment, row.student)
            before = grade.auto_score
            grade.manual_score = row.score
            said.append(
                f"{row.test}: {row.score:g} of {points:g} points, set by the instructor"
                + (f" ({row.reason})" if row.reason else "")
                + ("" if before is None else f"; the autograder gave {before:g}")
            )
        gb.db.commit()
    return said
