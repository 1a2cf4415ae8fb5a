"""Every graded test, repeated where the student's kernel cannot reach it.

A test cell runs in the student's kernel, where the student's cells could have replaced what it
compares with, hidden torch from the grading agent, or read the expected answer from the test's
frame. So after the notebook has run, ``check_outside`` runs each test cell of a graded name again,
from the instructor's source and with its hidden part (which the kernel never sees), in the grader's
own process. There each graded name is a proxy:

- a numpy-only name answers from the clean room (``autograder.cleanroom``): a second interpreter
  that has loaded only the student's solution cells, cannot import torch at all, and answers each
  call with no test above it;
- a name of torch code (assignment 4's ``ResidualBlock`` and ``count_params_macs``) answers from a
  *torch room*, a clean room that can import torch, whose objects stay there and are seen from here
  as ``autograder.torchroom.RemoteObject``s; a model the test passes in goes there as a copy, and
  what the call did to it comes back.

Every ``assert_close``, ``np.allclose`` and hidden check then compares answers computed out of the
kernel with references computed here: no room ever says whether a test passed.

A test scores its points only if it passed both in the kernel (its visible part) and here (all of
it). When it fails here:

- in its hidden part: the error is added to the cell as the test's own failure (a wrong answer);
- in its visible part, after passing in the kernel: the kernel's pass is disproved. The cell gets a
  ``CleanCheckFailed`` error (or ``NumpyOnlyError`` when the function needs torch or a ruled-out
  shortcut), and the report files it under tampering (the instructor can override).

What a student's code says in the clean room (an exception's message) is not shown: it could carry
what a hidden check passed in. The feedback names the exception and the function instead.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import re
import signal
import threading
import time
import traceback
import warnings
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from .wire import assign_in_place  # noqa: F401 (re-exported: tests use it from here)

REPEAT_BUDGET = 600  # seconds the repeat of one notebook's tests may take in all
CLEAN_CHECK_FAILED = "CleanCheckFailed"
NUMPY_ONLY_ERROR = "NumpyOnlyError"
LIMIT_EXCEEDED = "LimitExceeded"


def _exception(error: dict) -> BaseException:
    name, message = str(error.get("type", "Exception")), str(error.get("message", ""))
    known = getattr(builtins, name, None)
    if isinstance(known, type) and issubclass(known, Exception):
        return known(message)
    from . import agent

    known = getattr(agent, name, None)
    if isinstance(known, type) and issubclass(known, Exception):
        return known(message)
    if not name.isidentifier():
        name = "StudentError"
    return type(name, (Exception,), {})(message)


def names_in(source: str) -> tuple[set[str], set[str]]:
    """``(set, read)``: the names a cell binds (assignments, defs, imports, arguments) and reads."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set(), set()
    bound, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound, read


def plan(source: NotebookNode, numpy_only: set[str]):
    """``(clean, tests, classes, functions)``: the locked cells to run first (the first code cell,
    and those that bind a name a repeated test reads: ``test_accuracy`` of a training cell), the test
    cells to repeat (source cells: every test of a graded name), and the graded names. Those of
    ``numpy_only`` answer from a clean room without torch, the others from a torch room."""
    from .notebooks import DEF_NAME, cell_kind

    graded, classes = set(), set()
    for cell in source.cells:
        if cell_kind(cell) == "solution":
            graded |= set(DEF_NAME.findall(cell.source))
            classes |= set(re.findall(r"^class\s+([A-Za-z_]\w*)", cell.source, re.M))
    tests, needed = [], set()
    for cell in source.cells:
        if cell_kind(cell) != "test":
            continue
        bound, read = names_in(cell.source)
        if (read - bound) & graded:
            tests.append(cell)
            needed |= read - bound - graded - set(dir(builtins))
    code = [c for c in source.cells if c.cell_type == "code"]
    clean = code[:1] if code and cell_kind(code[0]) == "locked" else []
    for cell in code[1:]:
        if cell_kind(cell) != "locked":
            continue
        bound, read = names_in(cell.source)
        if bound & needed:  # graded names in it answer from the clean room, as in the tests
            clean.append(cell)
    return clean, tests, classes & graded, graded - classes


@contextlib.contextmanager
def _isolated():
    """Keep what a test cell does to this process's global state inside the cell."""
    import numpy as np
    import torch

    saved = (
        np.random.get_state(),
        torch.get_rng_state(),
        np.geterr(),
        np.get_printoptions(),
        torch.get_num_threads(),
        torch.get_default_dtype(),
        os.getcwd(),
    )
    try:
        with warnings.catch_warnings():
            yield
    finally:
        np.random.set_state(saved[0])
        torch.set_rng_state(saved[1])
        np.seterr(**saved[2])
        np.set_printoptions(**saved[3])
        torch.set_num_threads(saved[4])
        torch.set_default_dtype(saved[5])
        os.chdir(saved[6])


@contextlib.contextmanager
def _time_limit(seconds: int | None):
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum, frame):
        raise TimeoutError(f"the repeated test ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _run(source: str, namespace: dict, where: str, timeout: int | None) -> tuple[str, BaseException | None]:
    from .notebooks import strip_magics

    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), _time_limit(timeout):
            exec(compile(strip_magics(source), where, "exec"), namespace)  # noqa: S102 (the instructor's cells)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 (a failed check is the result; SystemExit from a room's answer too)
        return out.getvalue(), exc
    return out.getvalue(), None


def _failed(cell: NotebookNode) -> bool:
    return any(out.get("output_type") == "error" for out in cell.get("outputs", []))


def hidden_lines(source: str) -> set[int]:
    """1-based numbers of a test cell's lines inside ``### BEGIN HIDDEN TESTS`` regions."""
    from .notebooks import BEGIN_HIDDEN, END_HIDDEN

    lines, inside = set(), False
    for number, line in enumerate(source.split("\n"), start=1):
        if BEGIN_HIDDEN in line:
            inside = True
        if inside:
            lines.add(number)
        if END_HIDDEN in line:
            inside = False
    return lines


def _line_in_test(error: BaseException) -> int | None:
    """The statement of the test cell the error came through: its outermost frame in the cell (a
    helper defined in the visible part and called from a hidden line failed in the hidden part)."""
    for frame, number in traceback.walk_tb(error.__traceback__):
        if frame.f_code.co_filename == "<test cell>":
            return number
    return None


class Proxies:
    """The graded names of a notebook in the grader's namespace, each answering from the clean room.

    A function is a proxy that calls its namesake there; a class is a mirror whose objects hold the
    clean-room object's attributes (as plain data) and whose methods run there. A graded name the
    test has swapped for a stand-in of its own is called back from the clean room.
    """

    def __init__(self, room, namespace: dict, functions: set[str], classes: set[str], shortcuts: dict | None = None):
        self.room, self.namespace = room, namespace
        self.shortcuts = shortcuts or {}  # function -> the ruled-out shortcut its source reaches
        self.made = {name: self._function(name) for name in sorted(functions)}
        self.made.update({name: self._class(name) for name in sorted(classes)})
        self.functions = set(functions)

    def add_torch(self, room, functions: set[str], classes: set[str]) -> None:
        """The graded names of torch code: each answers from ``room``, a torch room, whose objects stay
        there (``autograder.torchroom``)."""
        self.torch_room = room
        self.made.update({name: self._torch_function(name) for name in sorted(functions)})
        self.made.update({name: self._torch_class(name) for name in sorted(classes)})

    test_source = ""  # the test cell being repeated: a model sent to the torch room may use its classes

    def _shortcut(self, name: str) -> None:
        if name in self.shortcuts:
            from .agent import NumpyOnlyError

            error = NumpyOnlyError(f"{name} {self.shortcuts[name]}")  # the grader's words, from the source
            error.torch_name = True
            raise error

    def _torch_function(self, name: str):
        proxies = self

        def proxy(*args, **kwargs):
            proxies._shortcut(name)
            how = {"target": name, "args": args, "kwargs": kwargs, "test_source": proxies.test_source}
            return proxies.torch_room.remote("call", name, name, **how)

        proxy.__name__ = proxy.__qualname__ = name
        return proxy

    def _torch_class(self, name: str):
        proxies = self

        def __new__(cls, *args, **kwargs):
            proxies._shortcut(name)
            how = {"target": name, "args": args, "kwargs": kwargs, "test_source": proxies.test_source}
            return proxies.torch_room.remote("new", f"{name}()", name, **how)

        return type(name, (), {"__new__": __new__})

    def install(self) -> None:
        self.namespace.update(self.made)

    def swapped(self) -> list[str]:
        return sorted(n for n in self.functions if self.namespace.get(n) is not self.made[n])

    def _function(self, name: str):
        proxies = self

        def proxy(*args, **kwargs):
            if name in proxies.shortcuts:
                from .agent import NumpyOnlyError

                raise NumpyOnlyError(f"{name} {proxies.shortcuts[name]}")  # the grader's words, from the source
            return proxies.room.call(name, args, kwargs, proxies.namespace, proxies.swapped(), target=name)

        def count_lines(*args, **kwargs):
            how = {"target": name, "count_lines": True}
            return proxies.room.call(name, args, kwargs, proxies.namespace, proxies.swapped(), **how)

        def cpu_seconds(*args, limit=None):
            from utils.vectorisation import CPUTimeExceeded

            from .cleanroom import CPULimitExceeded

            how = {"target": name, "cpu": True, "cpu_limit": limit}
            try:
                return proxies.room.call(name, args, {}, proxies.namespace, proxies.swapped(), **how)
            except CPULimitExceeded as stopped:
                raise CPUTimeExceeded(stopped.seconds) from None

        proxy.__name__ = proxy.__qualname__ = name
        proxy.__dl_count_lines__ = count_lines  # read by utils.vectorisation: the lines run in the clean room
        proxy.__dl_cpu_seconds__ = cpu_seconds  # and the CPU time the room's processes took, read from outside
        return proxy

    def _class(self, name: str):
        proxies = self

        def __init__(self, *args, **kwargs):
            room, label = proxies.room, f"{name}.__init__"
            room.call(
                label, args, kwargs, proxies.namespace, proxies.swapped(), target=name, new=True, obj=self, graded=name
            )

        def __getattr__(self, attr):
            if attr.startswith(("__", "_dl_")):
                raise AttributeError(attr)

            def method(*args, **kwargs):
                room, label = proxies.room, f"{name}.{attr}"
                return room.call(
                    label, args, kwargs, proxies.namespace, proxies.swapped(), obj=self, method=attr, graded=name
                )

            return method

        return type(name, (), {"__init__": __init__, "__getattr__": __getattr__})


def check_outside(
    nb: NotebookNode, source_path: Path | None, rules: dict, timeout=None, log=None, sandboxed=True, limits=None
) -> dict[str, list[str]]:
    """Repeat ``nb``'s numpy-only test cells here, with the student's functions in a clean room
    (module docstring); add to ``nb``'s test cells the failures found here.

    Returns the test names by outcome, ``{"passed": [...], "failed": [...], "failed hidden
    tests": [...], "failed in the kernel": [...], "not repeated": [...], "not trusted": [...]}``
    ("failed": passed in the kernel, failed here in the part the kernel ran; "not trusted": not
    repeated, passed in the kernel, zeroed because of a "failed"); ``execute.GradingExecute``
    keeps it in the notebook's metadata.
    """
    from .cleanroom import CleanRoom, CleanRoomError, loadable, locked_labels, student_blocks
    from .notebooks import header_of, read_notebook
    from .shortcuts import reached_shortcuts

    summary: dict[str, list[str]] = {
        "passed": [],
        "failed": [],
        "failed hidden tests": [],
        "failed in the kernel": [],
        "not repeated": [],
        "not trusted": [],
        "over a limit": [],
    }
    incidents = summary.setdefault("incidents", [])  # what the repeat found, as the grader words it
    if source_path is None:
        return summary
    source = read_notebook(source_path)
    clean, tests, classes, functions = plan(source, set(rules.get("numpy_only", [])))

    def test_name(cell) -> str:
        match = header_of(cell)
        return match.group("name") if match else "?"

    summary["not repeated"] = [test_name(c) for c in source.cells if header_of(c) and c not in tests]
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells if c.cell_type == "code"}
    index_of = {id(c): i + 1 for i, c in enumerate(nb.cells)}
    timeout = timeout if isinstance(timeout, int) and timeout > 0 else 300
    if not tests:
        return summary
    # The whole repeat has one budget, whatever each test's own limit: a notebook whose code stalls the
    # room at every test costs the grader that budget, not tests x timeout.
    deadline = time.monotonic() + max(REPEAT_BUDGET, timeout)

    blocks = student_blocks(nb, source)
    # What the watch inside a room could be talked out of, the source says outside it.
    shortcuts = reached_shortcuts(blocks, dict(rules.get("forbidden", {})))
    # And what would run as the room loads and could change the student's code there, or the room's
    # watch, behind that reading, the room never runs.
    blocks, dropped = loadable(blocks, dict(rules.get("forbidden", {})), locked_labels(nb, source))
    for label, why in dropped:
        number = int(label.split()[-1]) if label.split()[-1].isdigit() else 0
        said = f"{label}: a statement the grader did not run outside the kernel: {why}"
        incidents.append({"cell": number, "kind": "tampering", "message": said})
    numpy_names = set(rules.get("numpy_only", []))
    torch_names = (functions | classes) - numpy_names
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    graded = functions | classes
    with contextlib.ExitStack() as rooms:
        room = rooms.enter_context(CleanRoom(blocks, rules, sandboxed, limits, timeout))
        # The student's torch code answers from a room of its own, started at its first call.
        torch_room = rooms.enter_context(CleanRoom(blocks, rules, sandboxed, limits, timeout, torch=True))
        rooms.enter_context(_isolated())
        proxies = Proxies(room, namespace, functions - torch_names, classes - torch_names, shortcuts)
        proxies.add_torch(torch_room, functions & torch_names, classes & torch_names)
        upstream: dict[str, BaseException] = {}  # a name a locked cell failed to bind -> the student's error
        for cell in clean:
            proxies.install()
            printed, error = _run(cell.source, namespace, "<instructor cell>", timeout)
            if error is not None and names_in(cell.source)[1] & graded:
                # A locked cell that runs the student's code (a training cell) failed here: a test that
                # reads what it binds fails for that reason, and says so.
                upstream.update(dict.fromkeys(names_in(cell.source)[0], error))
            if error is not None and not names_in(cell.source)[1] & graded:
                # The instructor's own cell failed: no student is to blame, so nothing is repeated.
                if log is not None:
                    log.warning("not repeating the tests outside the kernel: a locked cell failed: %r", error)
                summary["not repeated"] += [test_name(t) for t in tests]
                return summary
        for test in tests:
            cell = by_id.get(test.metadata.get("nbgrader", {}).get("grade_id"))
            if cell is None:
                summary["failed in the kernel"].append(test_name(test))
                continue
            left = int(deadline - time.monotonic())
            if left < 1:
                said = f"the grader's repeat of this notebook's tests ran past its {REPEAT_BUDGET} s budget"
                summary["over a limit"].append(test_name(test))
                stopped = f"the grader's repeat of this test outside the kernel was stopped: {said}"
                _zero(cell, stopped, said, LIMIT_EXCEEDED)
                incidents.append({"cell": index_of[id(cell)], "kind": "limit", "message": f"{test_name(test)}: {said}"})
                continue
            proxies.install()
            proxies.test_source = test.source
            with _hooks_kept():
                _, error = _run(test.source, namespace, "<test cell>", min(timeout, left))
            if _failed(cell):
                summary["failed in the kernel"].append(test_name(test))
                continue  # it scores zero already, with its own message
            if error is None:
                summary["passed"].append(test_name(test))
                continue
            hidden = _line_in_test(error) in hidden_lines(test.source)
            cause = next((upstream[n] for n in sorted(names_in(test.source)[1] & set(upstream))), None)
            if cause is not None:
                error = cause  # the locked cell above, which ran the student's code, is what failed
            name, said = test_name(test), _grader_words(error)
            if cause is not None:
                said = f"the locked cell this test reads from failed outside the kernel: {said}"
            if isinstance(error, CleanRoomError | TimeoutError):
                summary["over a limit"].append(name)
                message = f"the grader's repeat of this test outside the kernel was stopped: {said}"
                _zero(cell, message, said, LIMIT_EXCEEDED)
                incidents.append({"cell": index_of[id(cell)], "kind": "limit", "message": f"{name}: {said}"})
                continue
            numpy_only = type(error).__name__ == NUMPY_ONLY_ERROR
            if numpy_only:
                incidents.append({"cell": index_of[id(cell)], "kind": "torch-in-numpy", "message": f"{name}: {said}"})
            if hidden:
                summary["failed hidden tests"].append(name)
                ename = NUMPY_ONLY_ERROR if numpy_only else type(error).__name__
                said = _bounded(said)
                _zero(cell, f"a hidden test failed: {said}", said, ename)
                continue
            summary["failed"].append(name)
            if numpy_only:
                where = (
                    "in the grader's copy of your solution cells"
                    if getattr(error, "torch_name", False)
                    else "with the functions of your solution cells run where torch does not exist"
                )
                _zero(cell, f"{where}: {said}", said, NUMPY_ONLY_ERROR)
                continue
            incidents.append({"cell": index_of[id(cell)], "kind": "tampering", "message": f"{name}: {said}"})
            _zero(
                cell,
                "this test passed in the notebook's kernel, but not when the grader ran it again outside the "
                "notebook's reach, with the functions of your solution cells in a fresh Python: "
                f"{said}. Something in the notebook changed what the checks compare with, or the function "
                "depends on something outside its solution cells; it scores 0 (the instructor can review and "
                "override)",
                said,
            )
    return summary


@contextlib.contextmanager
def _hooks_kept():
    """torch's global module hooks as they were before a test cell: a torch room's answer can add
    some (a counter that left its hooks behind), for the test to see, not for the next test."""
    from .torchroom import restore_global_hooks, saved_global_hooks

    saved = saved_global_hooks()
    try:
        yield
    finally:
        restore_global_hooks(saved)


LONG_NUMBER = re.compile(r"[-+]?\d[\d,._]{15,}")


def _bounded(said: str) -> str:
    """A hidden check's message, as the feedback may show it: the check's words, with any number
    longer than 16 characters cut and the whole cut at 600. A value the student's code returned
    for a hidden input (quoted by the check) cannot carry that input back out in bulk."""
    said = LONG_NUMBER.sub(lambda m: m.group()[:8] + "…", said)
    return said if len(said) <= 600 else said[:600] + "…"


def _grader_words(error: BaseException) -> str:
    """The error as the feedback may show it. An exception the student's code raised in the clean
    room is named, not quoted: its words could carry what a hidden test passed in."""
    label = getattr(error, "raised_in", None)
    if label is not None and type(error).__name__ == NUMPY_ONLY_ERROR:
        return (
            f"NumpyOnlyError: {label} needs torch, a shortcut this assignment rules out, a thread, or a change to the "
            "grader's watch, where the grader runs it (the visible tests in your notebook name the call)"
        )
    if label is not None:
        return f"{type(error).__name__} raised by {label} (its message is not shown outside the kernel)"
    return "".join(traceback.format_exception_only(type(error), error)).strip()[:2000]


def _zero(cell: NotebookNode, message: str, short: str, ename: str = CLEAN_CHECK_FAILED) -> None:
    """Make a test cell score 0 with an error that says why."""
    cell.outputs.append(nbformat.v4.new_output("error", ename=ename, evalue=message, traceback=[f"{ename}: {short}"]))
