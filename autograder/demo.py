"""``python -m autograder demo``: release, build three example submissions, grade them, check."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from .course import DEFAULT_SOURCE, GradeReport, grade, release
from .notebooks import read_notebook, tag_notebook

# Which solution cells each example student fills in: (index, count) -> filled?
EXAMPLE_STUDENTS: dict[str, Callable[[int, int], bool]] = {
    "reference": lambda i, n: True,
    "blank": lambda i, n: False,
    "partial": lambda i, n: i < n // 2,
}


def fill_solutions(released: NotebookNode, source: NotebookNode, fill: Callable[[int, int], bool]) -> NotebookNode:
    """A copy of the released notebook with some solution cells replaced by the source's.

    Cells are matched by nbgrader ``grade_id``, so this is what a student who solved those
    cells exactly as the reference does would hand in.
    """
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    nb = nbformat.from_dict(released)
    solution_cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    for index, cell in enumerate(solution_cells):
        if fill(index, len(solution_cells)):
            cell.source = answers[cell.metadata["nbgrader"]["grade_id"]]
    return nb


def build_submissions(released_notebooks: list[Path], dst: Path, source: Path = DEFAULT_SOURCE) -> Path:
    """Write ``dst/<student>/<assignment>/<notebook>.ipynb`` for each example student."""
    shutil.rmtree(dst, ignore_errors=True)
    for path in released_notebooks:
        assignment = path.parent.name
        released = read_notebook(path)
        src = tag_notebook(read_notebook(source / assignment / path.name))
        for student, fill in EXAMPLE_STUDENTS.items():
            target = dst / student / assignment / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(fill_solutions(released, src, fill), target)
    return dst


def check(report: GradeReport) -> list[str]:
    """What is wrong with the demo's grades: reference full, blank zero, partial in between."""
    failures = []
    for assignment in report.assignments:
        ref = report.scores.get(("reference", assignment))
        blank = report.scores.get(("blank", assignment))
        part = report.scores.get(("partial", assignment))
        if ref is None or ref[0] != ref[1] or ref[1] <= 0:
            failures.append(f"{assignment}: the reference solution scored {ref}, not full marks")
        if blank is None or blank[0] != 0:
            failures.append(f"{assignment}: the blank release scored {blank}, not 0")
        if part is None or not 0 < part[0] < part[1]:
            failures.append(f"{assignment}: the partial submission scored {part}, not strictly in between")
    return failures


def run(
    out: Path = Path("graded"),
    release_dir: Path = Path("release"),
    source: Path = DEFAULT_SOURCE,
    progress: bool = True,
    jobs: int | None = None,
) -> tuple[GradeReport, list[str]]:
    """Release, build the example submissions, grade them ``jobs`` at a time (default: one per core, at most
    four), and check the grades."""
    jobs = jobs or min(os.cpu_count() or 1, 4)
    notebooks = release(release_dir, source)
    print(f"released {len(notebooks)} notebook(s) to {release_dir}/")
    submissions = build_submissions(notebooks, Path(out) / "demo_submissions", source)
    print(f"built example submissions in {submissions}/: {', '.join(EXAMPLE_STUDENTS)}")
    report = grade(submissions, out, source, progress=progress, unsafe=not sandbox_works(), jobs=jobs)
    return report, check(report)


def sandbox_works() -> bool:
    """Whether the grading sandbox runs here. The demo grades the course's own example submissions,
    so where it does not, the demo goes on without it, and says so (``grade`` itself refuses)."""
    from .sandbox import SandboxUnavailable, check

    try:
        check()
        return True
    except SandboxUnavailable as exc:
        print(
            f"NOTE: the grading sandbox does not work on this machine ({exc}); the demo grades its own "
            "example submissions without it. Grading a real class needs it (or --unsafe)."
        )
        return False
