"""The one harness every assignment test module uses.

An assignment's own test module holds only what is particular to it: the reference checked against
torch, its table of misconceptions, and its independently written solution. Everything generic (the
reference passes every test cell, the blank release scores zero, the points add up to the table,
the metadata is current) is checked once for every assignment in ``tests/test_assignments.py``.

    from harness import Assignment, Misconception

    A = Assignment("02_batchnorm_dropout")
    pytestmark = A.marks                        # `pytest -m a02` runs this module alone

    A.reference()                               # namespace with the reference solutions
    A.run_test("dropout_forward", replace={"dropout_forward": wrong})      # -> Outcome
    A.check_misconception(Misconception(...))   # the visible part names it, or the hidden part catches it
    A.independent()                             # namespace with tests/independent/a02_*.py swapped in

What every assignment notebook must have for the generic checks (tests/test_assignments.py):

* a points table in its markdown whose header ends in ``| test cell | points |``, one row per part
  naming its test cells in backticks with their points in the same order, and a total row:

      | part | test cell | points |
      | --- | --- | --- |
      | 1. Dense layer | `linear_forward`, `linear_backward` | 3 + 3 |
      | | **total** | **30** |

* ``tests/independent/aNN_<topic>.py``: a correct solution of every graded function, written from
  the released notebook in another style; it is executed in the notebook's namespace, as if pasted
  into the solution cells, and must pass every test cell;
* in the assignment's own module: ``MISCONCEPTIONS = [Misconception(...), ...]`` and
  ``@pytest.mark.parametrize("mistake", MISCONCEPTIONS, ids=str)`` over ``A.check_misconception``.

The released (student) notebook is built with nbgrader's own ``ClearSolutions`` and
``ClearHiddenTests`` preprocessors, so "the visible test" here is exactly what students get.
"""

from __future__ import annotations

import contextlib
import copy
import io
import re
import traceback
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import matplotlib
import nbformat
import pytest
from nbformat import NotebookNode

from autograder.notebooks import cell_kind, read_notebook, strip_magics, tag_notebook
from conftest import ASSIGNMENTS, ROOT

matplotlib.use("Agg")

INDEPENDENT = ROOT / "tests" / "independent"
Replacement = Mapping[str, Any] | Callable[[dict], Mapping[str, Any]] | None
_MISSING = object()


@dataclass(frozen=True)
class Outcome:
    """What running one test cell gave: whether it passed, and the message a student would read."""

    passed: bool
    message: str = ""
    error: BaseException | None = None

    def __bool__(self) -> bool:
        return self.passed

    @property
    def kind(self) -> str:
        """``"passed"``, or the exception's class name (``"AssertionError"``, ``"NotImplementedError"``...)."""
        return "passed" if self.passed else type(self.error).__name__


@dataclass(frozen=True)
class Misconception:
    """A mistake a teacher expects, and the test cell that must catch it.

    Args:
        name: a short id, e.g. ``"softmax-whole-batch-max"``.
        test: the name of the test cell (``# Test: <name> (...)``) that must catch it.
        replace: the wrong implementation: ``{function_name: function}``, or a callable that
            receives the namespace (to build on other functions in it) and returns that mapping.
        phrase: a piece of text the *visible* test's message must contain to name the mistake;
            ``None`` when only the hidden part is expected to catch it.
    """

    name: str
    test: str
    replace: Replacement
    phrase: str | None

    def __str__(self) -> str:
        return self.name


def _exec(source: str, namespace: dict, label: str) -> None:
    exec(compile(source, label, "exec"), namespace)


def _test_name(cell: NotebookNode) -> str:
    return cell.metadata["nbgrader"]["grade_id"].removeprefix("test-")


class Assignment:
    """One assignment folder ``assignments/<folder>/`` holding one source notebook."""

    def __init__(self, folder: str):
        self.folder = folder
        notebooks = sorted((ASSIGNMENTS / folder).glob("*.ipynb"))
        if len(notebooks) != 1:
            raise ValueError(f"assignments/{folder} should hold exactly one notebook, found {notebooks}")
        self.path = notebooks[0]
        self.number = folder.split("_", 1)[0]
        self.marker = f"a{self.number}"

    def __repr__(self) -> str:
        return f"Assignment({self.folder!r})"

    @property
    def marks(self) -> list:
        """pytest marks for a module: ``-m aNN`` selects it; one xdist worker loads it once."""
        return [getattr(pytest.mark, self.marker), pytest.mark.xdist_group(f"assignment-{self.number}")]

    # -- the notebooks -----------------------------------------------------------------------
    @cached_property
    def source(self) -> NotebookNode:
        """The source notebook with current nbgrader metadata (tagged from its markers)."""
        return tag_notebook(read_notebook(self.path), self.path.name)

    @cached_property
    def released(self) -> NotebookNode:
        """The student version, made by nbgrader's own preprocessors."""
        from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

        from autograder.course import load_config

        config = load_config()
        nb = copy.deepcopy(self.source)
        resources: dict = {}
        nb, resources = ClearSolutions(config=config).preprocess(nb, resources)
        nb, resources = ClearHiddenTests(config=config).preprocess(nb, resources)
        return nb

    def test_names(self) -> list[str]:
        return [_test_name(c) for c in self.source.cells if cell_kind(c) == "test"]

    def points(self) -> dict[str, float]:
        return {
            _test_name(c): float(c.metadata["nbgrader"]["points"]) for c in self.source.cells if cell_kind(c) == "test"
        }

    def graded_functions(self) -> list[str]:
        """Names the solution cells define (``def``/``class`` at the top level of the cell)."""
        names = []
        for cell in self.source.cells:
            if cell_kind(cell) == "solution":
                names += re.findall(r"^(?:def|class)\s+([A-Za-z_]\w*)", cell.source, re.M)
        return names

    def table_total(self) -> float:
        """The total in the points table of the notebook's markdown (``| | **total** | **30** |``)."""
        for cell in self.source.cells:
            if cell.cell_type == "markdown":
                match = re.search(r"\*\*total\*\*\s*\|\s*\*\*(\d+(?:\.\d+)?)\*\*", cell.source)
                if match:
                    return float(match.group(1))
        raise AssertionError(f"{self.path.name}: no points table with a '**total**' row")

    def test_source(self, name: str, hidden: bool = True) -> str:
        """The source of test cell ``name``: as the grader runs it, or as released (``hidden=False``)."""
        nb = self.source if hidden else self.released
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade") and _test_name(cell) == name:
                return cell.source
        raise KeyError(f"{self.path.name}: no test cell named {name!r}; known: {self.test_names()}")

    # -- namespaces --------------------------------------------------------------------------
    def _namespace(self, nb: NotebookNode, label: str, tolerate: tuple[type[BaseException], ...] = ()) -> dict:
        """Run every code cell but the tests into a fresh namespace, as a kernel would.

        Exceptions of the ``tolerate`` types are swallowed cell by cell, as nbgrader carries on
        after a failing cell (a blank release's training cell raises NotImplementedError).
        """
        namespace: dict = {"__name__": "__main__"}
        with contextlib.redirect_stdout(io.StringIO()):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or cell_kind(cell) == "test":
                    continue
                try:
                    _exec(strip_magics(cell.source), namespace, f"{label}[cell {index + 1}]")
                except tolerate:
                    pass
        import matplotlib.pyplot as plt

        plt.close("all")
        return namespace

    @cached_property
    def _reference(self) -> dict:
        return self._namespace(self.source, f"{self.path.name} (reference)")

    def reference(self) -> dict:
        """A fresh copy of the namespace holding the reference solutions (cells run once per process)."""
        return dict(self._reference)

    @cached_property
    def _blank(self) -> dict:
        return self._namespace(self.released, f"{self.path.name} (released)", tolerate=(Exception,))

    def blank(self) -> dict:
        """The namespace of the released notebook, every solution still ``raise NotImplementedError()``."""
        return dict(self._blank)

    def independent_path(self) -> Path:
        matches = sorted(INDEPENDENT.glob(f"a{self.number}_*.py"))
        if len(matches) != 1:
            raise FileNotFoundError(f"expected one tests/independent/a{self.number}_*.py, found {matches}")
        return matches[0]

    @cached_property
    def _independent(self) -> dict:
        return self._namespace(self.independent_notebook(), self.independent_path().name)

    def independent(self) -> dict:
        """The namespace of the released notebook handed in with the independent solution.

        Every cell runs as in a student's kernel (a training cell uses the independent functions),
        and the functions look up each other, and the tests' torch stand-ins, by name.
        """
        return dict(self._independent)

    def independent_notebook(self) -> NotebookNode:
        """The released notebook as a student who wrote the independent solution would hand it in.

        Each solution cell receives the functions it asks for; the first one also receives the
        file's imports and any helper functions.
        """
        path = self.independent_path()
        sources = function_sources(path)
        graded = set(self.graded_functions())
        extra = [src for name, src in sources.items() if name not in graded]
        nb = self.student_notebook({name: src for name, src in sources.items() if name in graded})
        first = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
        first.source = "\n\n\n".join([_imports(path), *extra, first.source])
        return nb

    # -- running test cells ------------------------------------------------------------------
    def run_test(
        self, name: str, *, namespace: dict | None = None, replace: Replacement = None, hidden: bool = True
    ) -> Outcome:
        """Execute test cell ``name`` in a copy of ``namespace`` (default: the reference).

        ``replace`` swaps functions in first (see :class:`Misconception`). ``hidden=False`` runs
        only what students see. Returns the outcome; never raises for a failing test.
        """
        scope = fork(self._reference if namespace is None else namespace)
        before = dict(scope)
        if callable(replace):
            replace = replace(scope)
        scope.update(replace or {})
        source = self.test_source(name, hidden=hidden)
        self._rerun_locked_cells(scope, {k for k, v in scope.items() if before.get(k, _MISSING) is not v}, source)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                _exec(strip_magics(source), scope, f"<test {name}{'' if hidden else ' (visible)'}>")
        except Exception as error:  # noqa: BLE001 - any failure is the test's verdict
            return Outcome(False, _message(error), error)
        return Outcome(True)

    def _rerun_locked_cells(self, scope: dict, changed: set[str], test_source: str) -> None:
        """Run again, in ``scope``, the locked cells (neither solution nor test) that read a replaced name and bind
        a name the test cell reads: a training cell, whose trained ``model`` and ``test_accuracy`` the test grades,
        is re-run with the replaced ``MLP``, as the grader's kernel runs it on the student's cells. A cell that
        raises leaves the names it binds undefined, as in that kernel. Only such cells are re-run, so a test that
        grades a function directly costs nothing more."""
        if not changed:
            return
        from autograder.replay import names_in

        bound_by_test, read_by_test = names_in(test_source)
        wanted = read_by_test - bound_by_test
        for index, cell in enumerate(self.source.cells):
            if cell.cell_type != "code" or cell_kind(cell) in ("test", "solution"):
                continue
            bound, read = names_in(cell.source)
            if not ((read - bound) & changed and bound & wanted):
                continue
            for key in bound & wanted:
                scope.pop(key, None)
            try:
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    _exec(strip_magics(cell.source), scope, f"{self.path.name}[cell {index + 1}] (re-run)")
            except Exception:  # noqa: BLE001 - the grader's kernel carries on after a failing cell, too
                pass
            changed |= bound
            import matplotlib.pyplot as plt

            plt.close("all")

    def failing_tests(self, replace: Replacement, skip: tuple[str, ...] = ()) -> list[str]:
        """The test cells (full versions, in order) that fail with ``replace`` swapped in: a mistake
        in one function should fail only that function's own cell."""
        return [name for name in self.test_names() if name not in skip and not self.run_test(name, replace=replace)]

    def check_misconception(self, mistake: Misconception) -> None:
        """Fail unless ``mistake`` is caught: named by the visible test, or at least by the hidden part."""
        visible = self.run_test(mistake.test, replace=mistake.replace, hidden=False)
        full = self.run_test(mistake.test, replace=mistake.replace, hidden=True)
        assert not full, f"{mistake}: the test cell {mistake.test!r} passes with this mistake (hidden part included)"
        assert full.kind == "AssertionError", (
            f"{mistake}: test {mistake.test!r} fails with a raw {full.kind}, not a message for the student:\n"
            f"{full.message}"
        )
        if mistake.phrase is None:
            return
        assert not visible, f"{mistake}: the visible part of {mistake.test!r} lets it through"
        assert visible.kind == "AssertionError", (
            f"{mistake}: the visible test fails with a raw {visible.kind}:\n{visible.message}"
        )
        assert mistake.phrase.lower() in visible.message.lower(), (
            f"{mistake}: the visible message does not name the mistake (expected {mistake.phrase!r}):\n"
            f"{visible.message}"
        )

    def others_given_the_hint(
        self, mistake: Misconception, mistakes, shared=frozenset(), hidden: bool = False
    ) -> list[tuple[str, str]]:
        """``(name, message)`` of each other mistake of ``mistake``'s test cell whose message (the visible part's,
        or with ``hidden`` the whole cell's) contains ``mistake.phrase``: a hint that fires for a mistake it does not
        describe. ``shared``: pairs of names (frozensets) whose messages rightly share a phrase."""
        phrase = mistake.phrase.lower()
        found = []
        for other in mistakes:
            if other.test != mistake.test or other.name == mistake.name:
                continue
            if frozenset((other.name, mistake.name)) in shared or phrase in (other.phrase or "").lower():
                continue  # a pair that rightly shares words, or a hint inside the other's own (it must name that)
            message = self.run_test(other.test, replace=other.replace, hidden=hidden).message
            if phrase in message.lower():
                found.append((other.name, message))
        return found

    def blind_solution(self, start: str, function: str | None = None) -> Replacement:
        """The solution cell of this assignment's blind catalogue entry (tests/blind/) whose description starts
        with ``start`` (and whose function is ``function``, where descriptions repeat across functions)."""
        from tools.blind_report import catalogues

        (catalogue,) = catalogues(str(self.number))
        (entry,) = [
            e for e in catalogue.ENTRIES if function in (None, e["function"]) and e["description"].startswith(start)
        ]
        return from_source(entry["code"])

    def student_notebook(self, functions: Mapping[str, str]) -> NotebookNode:
        """The released notebook with solution cells filled from ``{function_name: source}``.

        A solution cell that defines several functions receives the sources of all of them.
        """
        nb = copy.deepcopy(self.released)
        for cell in nb.cells:
            if not cell.metadata.get("nbgrader", {}).get("solution"):
                continue
            source_cell = next(
                c
                for c in self.source.cells
                if c.metadata["nbgrader"]["grade_id"] == cell.metadata["nbgrader"]["grade_id"]
            )
            names = re.findall(r"^(?:def|class)\s+([A-Za-z_]\w*)", source_cell.source, re.M)
            if names and all(n in functions for n in names):
                cell.source = "\n\n\n".join(functions[n] for n in names)
        return nb


def fork(namespace: dict) -> dict:
    """A copy of a notebook namespace whose functions and classes look names up in the copy.

    A function keeps the dict it was defined in as its globals, so in a plain ``dict(namespace)``
    replacing ``conv_output_size`` would not change what ``conv_forward_naive`` calls, and a test
    cell that swaps in a torch stand-in for an upstream function would not reach the function
    under test. In the fork it does, exactly as in the student's kernel.
    """
    new = dict(namespace)

    def rebind(obj, class_cell=None):
        if isinstance(obj, types.FunctionType) and obj.__globals__ is namespace:
            closure = obj.__closure__
            if class_cell is not None and "__class__" in obj.__code__.co_freevars:
                # zero-argument super() reads the __class__ cell: point it at the rebuilt class
                cells = list(closure)
                cells[obj.__code__.co_freevars.index("__class__")] = class_cell
                closure = tuple(cells)
            fn = types.FunctionType(obj.__code__, new, obj.__name__, obj.__defaults__, closure)
            fn.__kwdefaults__, fn.__doc__, fn.__qualname__ = obj.__kwdefaults__, obj.__doc__, obj.__qualname__
            return fn
        return obj

    for name, value in namespace.items():
        if isinstance(value, types.FunctionType):
            new[name] = rebind(value)
        elif isinstance(value, type) and any(rebind(v) is not v for v in vars(value).values()):
            cell = types.CellType()
            attrs = {k: rebind(v, cell) for k, v in vars(value).items() if k not in ("__dict__", "__weakref__")}
            new[name] = cell.cell_contents = type(value.__name__, value.__bases__, attrs)
    return new


def _message(error: BaseException) -> str:
    text = str(error)
    if isinstance(error, AssertionError):
        return text
    return "".join(traceback.format_exception_only(type(error), error)).strip()


def _imports(path: Path) -> str:
    import ast

    text = path.read_text()
    return "\n".join(
        ast.get_source_segment(text, node)
        for node in ast.parse(text).body
        if isinstance(node, (ast.Import, ast.ImportFrom))
    )


def function_sources(path: Path) -> dict[str, str]:
    """``{name: source}`` of each top-level function or class in a Python file.

    Top-level assignments (constants) go with the first function.
    """
    import ast

    text = path.read_text()
    tree = ast.parse(text)
    constants = "\n".join(
        ast.get_source_segment(text, node) for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
    )
    result = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            body = ast.get_source_segment(text, node)
            if not result and constants:
                body = constants + "\n\n\n" + body
            result[node.name] = body
    return result


def all_assignments() -> list[Assignment]:
    return [Assignment(p.name) for p in sorted(ASSIGNMENTS.iterdir()) if p.is_dir() and any(p.glob("*.ipynb"))]


def write_notebook(nb: NotebookNode, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def points_table(nb: NotebookNode) -> tuple[dict[str, float], float | None]:
    """The points table of the notebook's markdown: ``({test_name: points}, total)``.

    The table's header ends in ``test cell | points |``; each row names its test cells in
    backticks and gives their points in the same order (``2 + 4``); the total row reads
    ``| | **total** | **30** |``.
    """
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        rows = [line.strip() for line in cell.source.splitlines() if line.strip().startswith("|")]
        header = next((i for i, r in enumerate(rows) if re.search(r"\|\s*test cells?\s*\|\s*points\s*\|\s*$", r)), None)
        if header is None:
            continue
        table, total = {}, None
        for row in rows[header + 2 :]:
            columns = [c.strip() for c in row.strip("|").split("|")]
            if len(columns) < 3:
                break
            if "**total**" in row:
                total = float(re.sub(r"[^\d.]", "", columns[-1]))
                continue
            names = re.findall(r"`([^`]+)`", columns[-2])
            numbers = [float(n) for n in re.findall(r"\d+(?:\.\d+)?", columns[-1])]
            if len(names) != len(numbers):
                raise AssertionError(f"points table row {row!r}: {len(names)} test cells, {len(numbers)} numbers")
            table.update(zip(names, numbers))
        return table, total
    raise AssertionError("no points table (a markdown table whose header ends in '| test cell | points |')")


def from_source(source: str) -> Callable[[dict], dict]:
    """A ``replace`` for :class:`Misconception` that runs ``source`` (wrong definitions) in the
    notebook's namespace, as a student's cell would."""

    def replace(scope: dict) -> dict:
        exec(compile(source, "<wrong version>", "exec"), scope)
        return {}

    return replace


def solution_sources(assignment: Assignment) -> dict[str, str]:
    """Source of each solution cell of the reference, keyed by the first function it defines."""
    cells = {}
    for cell in assignment.source.cells:
        if cell_kind(cell) == "solution":
            cells[re.search(r"^(?:def|class) (\w+)", cell.source, re.M).group(1)] = cell.source
    return cells


def mutate(source: str, old: str, new: str) -> str:
    """``source`` with ``old`` replaced by ``new``; fails loudly if ``old`` is not there."""
    assert old in source, f"mutation target not found: {old!r}"
    return source.replace(old, new)
