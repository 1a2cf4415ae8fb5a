"""No graded answer is handed out: lectures and seminars never define a graded function in runnable
form, nor carry a line of a reference solution.

Graded functions are what the assignments' solution cells define; their solution lines are what
stands between the solution markers. A lecture may derive and check the same formula (with torch
ops, on one example, by showing a wrong version failing, or as another variant), but not contain
the code that passes the graded test.
"""

from __future__ import annotations

import ast
import re

import pytest

from autograder.notebooks import BEGIN_SOLUTION, END_SOLUTION, cell_kind, read_notebook, strip_magics
from conftest import ROOT, assignment_notebooks

TEACHING = sorted([*ROOT.glob("lectures/*.ipynb"), *ROOT.glob("seminars/*.ipynb")])
# A line this short ("return out", "N, D = x.shape") says nothing about the answer.
MIN_LINE = 28


def _solutions() -> tuple[set[str], dict[str, str]]:
    """Graded function names, and each distinctive solution line with where it comes from."""
    names, lines = set(), {}
    for path in assignment_notebooks():
        for cell in read_notebook(path).cells:
            if cell_kind(cell) != "solution":
                continue
            names |= set(re.findall(r"^(?:def|class)\s+([A-Za-z_]\w*)", cell.source, re.M))
            inside = False
            for line in cell.source.splitlines():
                text = line.strip()
                if BEGIN_SOLUTION in text:
                    inside = True
                elif END_SOLUTION in text:
                    inside = False
                elif inside and len(text) >= MIN_LINE and not text.startswith("#"):
                    lines[_normal(text)] = f"{path.parent.name}: {text}"
    return names, lines


def _normal(line: str) -> str:
    return re.sub(r"\s+", "", line.split("  #")[0])


GRADED, SOLUTION_LINES = _solutions()


def _is_blank_stub(node) -> bool:
    """A seminar exercise that starts blank: only a docstring, comments and ``return None``,
    ``pass`` or ``raise NotImplementedError``."""
    body = [b for b in node.body if not (isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant))]
    return all(
        isinstance(b, ast.Pass)
        or (isinstance(b, ast.Return) and (b.value is None or isinstance(b.value, ast.Constant)))
        or (isinstance(b, ast.Raise) and "NotImplementedError" in ast.unparse(b))
        for b in body
    )


def _code_cells(path):
    return [(i + 1, strip_magics(c.source)) for i, c in enumerate(read_notebook(path).cells) if c.cell_type == "code"]


@pytest.mark.parametrize("path", TEACHING, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_graded_function_is_defined(path):
    for index, source in _code_cells(path):
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        defined = {
            n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not _is_blank_stub(n)
        }
        assigned = {
            t.id
            for n in ast.walk(tree)
            if isinstance(n, ast.Assign)
            for t in n.targets
            if isinstance(t, ast.Name) and isinstance(n.value, ast.Lambda)
        }
        leaked = (defined | assigned) & GRADED
        assert not leaked, f"cell {index} defines graded function(s) {sorted(leaked)} in runnable form"


@pytest.mark.parametrize("path", TEACHING, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_line_of_a_reference_solution(path):
    found = [
        f"cell {index}: {SOLUTION_LINES[_normal(line.strip())]}"
        for index, source in _code_cells(path)
        for line in source.splitlines()
        if _normal(line.strip()) in SOLUTION_LINES
    ]
    assert not found, "reference solution lines in a teaching notebook:\n" + "\n".join(found)


def test_the_check_knows_the_graded_functions():
    assert {"batchnorm_forward", "dropout_forward", "conv_forward_naive"} <= GRADED
    assert len(SOLUTION_LINES) > 30
