"""Feedback that keeps hidden tests hidden: ``HideHiddenTests``, a step of nbgrader's GenerateFeedback.

nbgrader renders a student's feedback from the autograded notebook, whose test cells hold the full
test code, hidden part included (nbgrader's issue #917). This preprocessor runs in
``GenerateFeedback.preprocessors`` (see ``nbgrader_config.py``), after ``GetGrades``, and changes
what the HTML shows of each test cell:

- its source keeps the ``# Test: <name> (<N> points)`` header and the visible checks; each region
  between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` becomes one line,
  ``# hidden tests: not shown``;
- an error output keeps only ``ExceptionName: message`` (``ename``/``evalue``): the message is the
  test author's words for the student, while the traceback's frames quote the lines around the
  failure, hidden ones included;
- stream and display outputs, and the score nbgrader shows per cell, stay as they are.

Other cells keep their tracebacks, minus any frame that quotes a hidden line (student code can call
a function a hidden test defined). The autograded notebook itself is not changed on disk.
"""

from __future__ import annotations

import re
from unittest import mock

from nbconvert.exporters import HTMLExporter
from nbformat import NotebookNode
from nbgrader import utils as nbutils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from .notebooks import BEGIN_HIDDEN, END_HIDDEN

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def is_test_cell(cell: NotebookNode) -> bool:
    """An autograded code cell (nbgrader ``grade`` and not ``solution``)."""
    return cell.cell_type == "code" and nbutils.is_grade(cell) and not nbutils.is_solution(cell)


def split_hidden(source: str, placeholder: str) -> tuple[str, list[str]]:
    """``(source with each hidden region replaced by placeholder, the hidden regions' lines)``.

    The placeholder keeps the BEGIN marker's indentation; a region without its END marker runs to
    the end of the cell (hiding too much rather than too little).
    """
    shown, hidden, inside = [], [], False
    for line in source.split("\n"):
        if not inside and BEGIN_HIDDEN in line:
            inside = True
            shown.append(line[: len(line) - len(line.lstrip())] + placeholder)
        elif inside and END_HIDDEN in line:
            inside = False
        elif inside:
            hidden.append(line)
        else:
            shown.append(line)
    return "\n".join(shown), hidden


def _nontrivial(lines: list[str]) -> set[str]:
    """Hidden lines worth protecting: stripped, not blank, not a lone bracket or keyword."""
    return {s for s in (line.strip() for line in lines) if len(s) > 3}


class HideHiddenTests(NbGraderPreprocessor):
    """Show test cells without their hidden part and without tracebacks (module docstring)."""

    placeholder = Unicode("# hidden tests: not shown", help="The line shown in place of hidden tests.").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        hidden: set[str] = set()
        for cell in nb.cells:
            if is_test_cell(cell):
                cell.source, lines = split_hidden(cell.source, self.placeholder)
                hidden |= _nontrivial(lines)
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                if out.get("output_type") != "error":
                    continue
                if is_test_cell(cell):
                    out.traceback = [f"{out.ename}: {out.evalue}" if out.evalue else out.ename]
                else:
                    out.traceback = [
                        frame for frame in out.traceback if not any(h in ANSI.sub("", frame) for h in hidden)
                    ]
        return nb, resources


class _Unparsed:
    """Stands in for BeautifulSoup in ``FeedbackExporter``: the page as it is."""

    def __init__(self, html: str, features: str | None = None):
        self.html = html

    def select(self, selector: str) -> list:
        return []

    def __str__(self) -> str:
        return self.html


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTML exporter without its last pass.

    That pass parses the finished page with BeautifulSoup's pure-Python parser only to add ``alt``
    text to images and ``tabindex`` to cells: about a second per feedback page with figures, as
    long as the rest of nbgrader's booking of a submission. Here a regular expression adds the
    ``alt`` text.
    """

    def from_notebook_node(self, nb, resources=None, **kw):
        with mock.patch("nbconvert.exporters.html.BeautifulSoup", _Unparsed):
            html, resources = super().from_notebook_node(nb, resources, **kw)
        return re.sub(r"<img(?![^>]*\balt=)", '<img alt="A figure from the notebook"', html), resources
