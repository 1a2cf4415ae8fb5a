"""Every course notebook executes top to bottom, offline, without an error, and every number its
prose states is shown by a nearby output or code cell, or cited to a paper (``tools.prose_numbers``).

Assignment notebooks run from source, with the reference solutions in place, so this also shows
that the reference passes every visible and hidden test, and that no test cell writes to stderr
(which nbgrader would score as a failure). Timing is reported by ``make bench``; the per-cell
timeout here only guards against a hang.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.notebooks import cell_kind
from conftest import ROOT, course_notebooks
from tools.notebooks import NOTEBOOK_CELL_TIMEOUT, run_notebook
from tools.prose_numbers import unquoted

# Topics whose prose is held to quoting every figure from the run (issues 20 and 21): all of them.
QUOTED_TOPICS = ("01_", "02_", "03_", "04_", "05_")


@pytest.mark.notebook
@pytest.mark.parametrize("path", course_notebooks(), ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_executes(path: Path) -> None:
    nb = run_notebook(path, timeout=NOTEBOOK_CELL_TIMEOUT)
    if path.parent.parent.name == "assignments":
        for index, cell in enumerate(nb.cells):
            if cell_kind(cell) != "test":
                continue
            stderr = [
                o.get("text", "")
                for o in cell.get("outputs", [])
                if o.get("output_type") == "stream" and o.get("name") == "stderr"
            ]
            assert not stderr, f"test cell {index + 1} wrote to stderr (nbgrader scores that 0): {stderr}"
    if path.name.startswith(QUOTED_TOPICS) or path.parent.name.startswith(QUOTED_TOPICS):
        typed = [f"cell {index + 1}: {written!r} in ...{context}..." for index, written, context in unquoted(nb)]
        assert not typed, "numbers in the prose that no nearby output or code shows:\n" + "\n".join(typed)


def test_there_are_notebooks_to_run() -> None:
    kinds = {p.relative_to(ROOT).parts[0] for p in course_notebooks()}
    assert {"lectures", "seminars", "assignments"} <= kinds, f"missing notebook folders: found only {kinds}"
