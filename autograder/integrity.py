"""Flag student code that could defeat the tests, for the instructor to review.

Tests run in the same Python process as the student's code, so a student can, say, replace
``utils.assert_close`` or ``numpy.allclose`` with a function that never fails. That cannot be
prevented from inside the kernel, but it is easy to spot in the source. Flags never change a score.
"""

from __future__ import annotations

import ast

from nbformat import NotebookNode

from .notebooks import strip_magics

# Names that are modules in every course notebook, whatever the student imported.
KNOWN_MODULES = {"np", "numpy", "torch", "F", "nn", "utils", "builtins", "sys", "math", "warnings", "nbgrader"}
RISKY_CALLS = {"setattr", "delattr", "exec", "eval", "compile", "__import__", "globals", "vars"}
RISKY_ATTRIBUTES = {"modules", "_exit", "__builtins__", "__dict__", "__code__", "f_globals", "f_back"}


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def flags_in_source(source: str, modules: set[str] | None = None) -> list[str]:
    """Reasons to look twice at one cell's code (empty when nothing stands out)."""
    try:
        tree = ast.parse(strip_magics(source))
    except SyntaxError:
        return []  # the test cells will report the error to the student
    modules = set(KNOWN_MODULES if modules is None else modules)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules |= {(a.asname or a.name).split(".")[0] for a in node.names if isinstance(node, ast.Import)}
    found = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        for target in targets:
            if isinstance(target, ast.Attribute | ast.Subscript) and _root_name(target) in modules:
                found.append(f"changes {ast.unparse(target)}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in RISKY_CALLS:
            found.append(f"calls {node.func.id}()")
        # `.modules` is risky on a module (sys.modules), not on a torch model (model.modules()).
        if (
            isinstance(node, ast.Attribute)
            and node.attr in RISKY_ATTRIBUTES
            and (node.attr != "modules" or _root_name(node) in modules)
        ):
            found.append(f"uses {ast.unparse(node)}")
        if isinstance(node, ast.Name) and node.id == "__builtins__":
            found.append("uses __builtins__")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and ".ipynb" in node.value:
            found.append("refers to a notebook file")
    return list(dict.fromkeys(found))


def flag_notebook(nb: NotebookNode, locked_ids: set[str]) -> list[str]:
    """Flags for every cell a student could have written.

    ``locked_ids`` are the grade ids of the source's locked cells: nbgrader restores those from the
    gradebook before grading, whatever the submitted copy says, so only they are skipped. Anything
    else (solution cells, cells the student added, cells with made-up metadata) is scanned.
    """
    flags = []
    for index, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type != "code" or grade_id in locked_ids:
            continue
        where = grade_id or f"added cell {index + 1}"
        flags += [f"{where} {reason}" for reason in flags_in_source(cell.source)]
    return flags
