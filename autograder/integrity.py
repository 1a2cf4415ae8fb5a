"""Flag student code that looks built to defeat the tests, for the instructor to review.

This is the last and weakest of the grader's layers, and the only one that reads the code rather than runs it:

- the submission runs in a sandbox (``autograder.sandbox``), with the agent in its kernel
  (``autograder.agent``) putting back what a cell rebound and catching torch in numpy-only functions;
- every test is then repeated outside the kernel (``autograder.replay``): the graded functions answer from a clean
  room (``autograder.cleanroom``, ``autograder.torchroom``), and the verdict that counts is the grader's own. A
  patched ``numpy.allclose`` or a test-reading function in the kernel therefore costs the student the test.

What is left to a reader is what the tests cannot see: code that walks frames, rebinds modules or turns a watch
off may have failed its tests already, or may be aimed at something the tests do not check. The scan lists it as a
"flagged for review" problem. A flag itself never changes a score (overrides are the instructor's), and the scan
never stops a grading run: code it cannot read (too long, too deeply nested for the parser) is itself a flag.
"""

from __future__ import annotations

import ast

from nbformat import NotebookNode

from .notebooks import strip_magics

# Names that are modules in every course notebook, whatever the student imported.
KNOWN_MODULES = {"np", "numpy", "torch", "F", "nn", "utils", "builtins", "sys", "math", "warnings", "nbgrader"}
RISKY_CALLS = {"setattr", "delattr", "exec", "eval", "compile", "__import__", "globals", "vars"}
RISKY_ATTRIBUTES = {"modules", "_exit", "__builtins__", "__dict__", "__code__", "f_globals", "f_back", "f_locals"}
# What turns the grader's watch off or looks past it (sys.setprofile, threading.settrace, sys._getframe).
RISKY_ATTRIBUTES |= {"setprofile", "settrace", "getprofile", "gettrace", "_getframe", "pythonapi"}
# A cell of this course is a few KB; scanning takes about 3 s a MB.
MAX_CELL_CHARS = 128 * 1024
MAX_NOTEBOOK_CHARS = 1024**2


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def flags_in_source(source: str, modules: set[str] | None = None) -> list[str]:
    """Reasons to look twice at one cell's code (empty when nothing stands out)."""
    if len(source) > MAX_CELL_CHARS:
        return [f"could not be scanned ({len(source)} characters, over {MAX_CELL_CHARS})"]
    try:
        return _flags(source, modules)
    except SyntaxError:
        return []  # the test cells will report the error to the student
    except Exception as exc:  # noqa: BLE001 (RecursionError, MemoryError: the parser's stack, not the machine's)
        return [f"could not be scanned ({type(exc).__name__})"]


def _flags(source: str, modules: set[str] | None) -> list[str]:
    tree = ast.parse(strip_magics(source))
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
    flags, scanned = [], 0
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if not isinstance(grade_id, str):  # made-up metadata: not a locked cell's id
            grade_id = None
        if cell.get("cell_type") != "code" or grade_id in locked_ids or not isinstance(cell.get("source"), str):
            continue
        where = grade_id or f"added cell {index + 1}"
        scanned += len(cell.source)
        if scanned > MAX_NOTEBOOK_CHARS:
            flags.append(f"{where} and the cells after it could not be scanned (over {MAX_NOTEBOOK_CHARS} characters)")
            break
        flags += [f"{where} {reason}" for reason in flags_in_source(cell.source)]
    return flags
