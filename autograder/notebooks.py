"""Assignment notebooks: nbgrader metadata from plain-text markers, and reading solution code.

Authors mark cells in the text, and ``tag_notebook`` writes the nbgrader metadata from the marks,
so the metadata can never drift from what a cell says it is:

* a code cell containing ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` is a student answer;
* a code cell whose first line is ``# Test: <name> (<N> points)`` is a locked, graded test
  (``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` inside it are removed on release);
* every other cell, markdown or code, is locked: nbgrader restores it from the source when grading.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from tools.notebooks import (  # noqa: F401  (re-exported: the grader's callers import them from here)
    KERNEL_ARGUMENTS,
    NOTEBOOK_CELL_TIMEOUT,
    NotebookFormatError,
    read_notebook,
    run_notebook,
    strip_magics,
)

TEST_HEADER = re.compile(r"^#\s*Test:\s*(?P<name>[A-Za-z0-9_.-]+)\s*\((?P<points>\d+(?:\.\d+)?)\s*points?\)\s*$")
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
_HIDDEN_REGION = re.compile(r"[ \t]*" + re.escape(BEGIN_HIDDEN) + r".*?" + re.escape(END_HIDDEN) + r"[^\n]*\n?", re.S)
DEF_NAME = re.compile(r"^\s*(?:def|class)\s+([A-Za-z_]\w*)", re.M)
MAX_SUBMISSION_BYTES = 50 * 1024**2  # a notebook with its plots is a few MB; nbgrader clears outputs anyway
MAX_NESTING = 64  # levels of JSON a real notebook uses: under 10


def header_of(cell: NotebookNode) -> re.Match | None:
    """A test cell's header line (``# Test: name (N points)``) matched, with groups ``name`` and
    ``points``; None for any other cell."""
    if cell.cell_type != "code":
        return None
    return TEST_HEADER.match(cell.source.lstrip().split("\n", 1)[0])


def cell_kind(cell: NotebookNode) -> str:
    """``"solution"``, ``"test"`` or ``"locked"``, from the cell's text alone."""
    if cell.cell_type != "code":
        return "locked"
    if header_of(cell):
        return "test"
    if BEGIN_SOLUTION in cell.source:
        return "solution"
    return "locked"


def _check_markers(cell: NotebookNode, where: str) -> None:
    text = cell.source
    for begin, end in ((BEGIN_SOLUTION, END_SOLUTION), (BEGIN_HIDDEN, END_HIDDEN)):
        if text.count(begin) != text.count(end):
            raise NotebookFormatError(f"{where}: unbalanced '{begin}' / '{end}'")
    kind = cell_kind(cell)
    if kind == "test" and BEGIN_SOLUTION in text:
        raise NotebookFormatError(f"{where}: a test cell cannot contain a solution")
    if kind != "test" and BEGIN_HIDDEN in text:
        raise NotebookFormatError(f"{where}: hidden tests belong in a '# Test: name (N points)' cell")
    if cell.cell_type == "code" and kind == "locked" and re.search(r"^#\s*test\b", text.lstrip(), re.I):
        raise NotebookFormatError(f"{where}: looks like a test header but does not match '# Test: <name> (<N> points)'")


def tag_notebook(nb: NotebookNode, name: str = "notebook") -> NotebookNode:
    """Write nbgrader metadata into every cell from its markers (in place; idempotent).

    Raises :class:`NotebookFormatError` for unbalanced markers, malformed test headers and
    duplicate test or solution names.
    """
    seen: set[str] = set()
    solution_count = 0
    for index, cell in enumerate(nb.cells):
        where = f"{name}, cell {index + 1}"
        _check_markers(cell, where)
        kind = cell_kind(cell)
        meta: dict[str, Any] = {"schema_version": 3, "solution": False, "grade": False, "locked": True, "task": False}
        if kind == "solution":
            solution_count += 1
            defined = DEF_NAME.findall(cell.source)
            grade_id = f"solution-{defined[0]}" if defined else f"solution-{solution_count}"
            meta.update(solution=True, locked=False)
        elif kind == "test":
            match = header_of(cell)
            grade_id = f"test-{match['name']}"
            points = float(match["points"])
            meta.update(grade=True, points=int(points) if points.is_integer() else points)
        else:
            # The cell's own id (nbformat 4.5) survives edits of its text, so correcting a locked
            # cell after release does not orphan the students' copies of it.
            stable = cell.get("id") or hashlib.sha1(f"{cell.cell_type}\n{cell.source}".encode()).hexdigest()[:8]
            grade_id = f"cell-{stable}"
            suffix = 2
            while grade_id in seen:  # duplicated ids (a copied cell): keep grade ids unique
                grade_id = f"cell-{stable}-{suffix}"
                suffix += 1
        if grade_id in seen:
            raise NotebookFormatError(f"{where}: duplicate name '{grade_id}'")
        seen.add(grade_id)
        meta["grade_id"] = grade_id
        cell.metadata["nbgrader"] = meta
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def tag_file(path: Path | str, check: bool = False) -> bool:
    """Tag a notebook file in place. Returns whether it changed (with ``check``, writes nothing)."""
    path = Path(path)
    nb = read_notebook(path)
    before = nbformat.writes(nb)
    tag_notebook(nb, path.name)
    after = nbformat.writes(nb)
    if after != before and not check:
        path.write_text(after + ("" if after.endswith("\n") else "\n"), encoding="utf-8")
    return after != before


def grading_summary(nb: NotebookNode) -> dict[str, float]:
    """Points per test cell: ``{grade_id: points}``."""
    return {
        c.metadata["nbgrader"]["grade_id"]: float(c.metadata["nbgrader"]["points"])
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }


def exec_notebook(
    path: Path | str, namespace: dict | None = None, include: Callable[[NotebookNode], bool] | None = None
) -> dict:
    """Execute a notebook's code cells into ``namespace`` and return it.

    ``include`` chooses cells (default: every code cell that is not a test cell), so a test can
    load an assignment's reference solutions without running the assignment's own tests.
    """
    nb = read_notebook(path)
    namespace = {"__name__": "__notebook__"} if namespace is None else namespace
    include = include or (lambda cell: cell_kind(cell) != "test")
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and include(cell):
            code = compile(strip_magics(cell.source), f"{Path(path).name}[cell {index + 1}]", "exec")
            exec(code, namespace)
    return namespace


def visible_source(source: str) -> str:
    """A test cell's source as students see it after release: hidden-test regions removed."""
    return _HIDDEN_REGION.sub("", source)


def read_submission(path: Path | str, max_bytes: int = MAX_SUBMISSION_BYTES) -> NotebookNode:
    """Read a student's notebook file, bounded: a regular file (not a link, a device or a pipe) of at
    most ``max_bytes``, JSON nested at most ``MAX_NESTING`` levels deep, a valid notebook.

    Anything else raises :class:`NotebookFormatError` saying why, whatever the parser met on the way
    (``RecursionError`` and ``MemoryError`` included).
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        kind = "a link" if path.is_symlink() else f"unreadable ({exc.strerror})"
        raise NotebookFormatError(f"{path.name}: {kind}, not a notebook file") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise NotebookFormatError(f"{path.name}: not a regular file")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise NotebookFormatError(f"{path.name}: larger than {max_bytes // 1024**2} MB; clear its outputs")
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
        del data
        depth = _nesting(nb)
        if depth > MAX_NESTING:
            raise NotebookFormatError(f"{path.name}: its JSON is nested more than {MAX_NESTING} levels deep")
        nbformat.validate(nb)
    except NotebookFormatError:
        raise
    except nbformat.ValidationError as exc:
        raise NotebookFormatError(f"{path.name}: not a valid notebook ({str(exc.message)[:200]})") from None
    except Exception as exc:  # noqa: BLE001 (bad UTF-8, bad JSON, too deep for the parser, out of memory)
        raise NotebookFormatError(
            f"{path.name}: not a readable Jupyter notebook ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None
    return nb


def _nesting(value: Any) -> int:
    """How deeply lists and dicts nest in ``value`` (without recursion, so any depth can be measured)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_NESTING:
                todo.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest
