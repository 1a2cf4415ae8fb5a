"""The comparisons of the numpy-only tests, repeated where no student code has ever run.

A test cell runs in the student's kernel, where the student's cells could have replaced what it
compares with. So while it runs, the grading agent (``autograder.agent.Recorder``) records every
call the cell's code makes to a graded function: the arguments, the result or exception, what the
call changed in place, and the random state it moved. After the notebook has run, ``check_outside``
runs the same test cell again, from the instructor's source, in the grader's own process: each
graded name is a stand-in that checks its arguments against the record and answers with the
recorded result. Every ``assert_close``, ``np.allclose`` and hidden test then compares the
student's answers with references computed here, out of the student's reach.

A test that passed in the kernel and fails here scores zero, with a ``CleanCheckFailed`` error
that says so (the report files it under tampering; the instructor can override). A test that
failed in the kernel keeps its own message. The record is data only: numbers, arrays, strings and
containers (a JSON header and raw array bytes); nothing in it is unpickled or executed.

What needs the student's process stays there: whether a function is vectorised or uses torch is
checked by the agent in the kernel; a test of a torch module (assignment 4's ``ResidualBlock``)
is not repeated. A test is repeated when every graded name it uses is numpy-only. Once a repeated
test has failed here, the tests that were not repeated lose their pass in the kernel as well: the
kernel they passed in is proven tampered with.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import os
import re
import signal
import stat
import sys
import threading
import traceback
import warnings
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from .agent import RECORD_MAGIC, encode, names_in, record_file_name

CLEAN_CHECK_FAILED = "CleanCheckFailed"
RECORD_FILE_LIMIT = 300 * 1024**2
GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


class ReplayError(AssertionError):
    """The test's run here does not follow the notebook's recorded run."""


class RecordError(Exception):
    """A record file that is missing, too large or malformed."""


class Opaque:
    """A recorded value that was not plain data: equal to nothing."""

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name} object (not plain data)>"


# -- reading a record --------------------------------------------------------------------------
def load_record(path: Path):
    """``(meta, arrays)`` of a record file; refuses links (the file's or its folder's), anything
    but a regular file (a FIFO would block the grader), and oversized files. The folder is the
    sandbox's to change, so it is opened without following links, and the file relative to it."""
    path = Path(path)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        folder = os.open(path.parent, flags | os.O_DIRECTORY)
        try:
            fd = os.open(path.name, flags, dir_fd=folder)
        finally:
            os.close(folder)
    except OSError as exc:
        raise RecordError(f"no record of this test's calls ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > RECORD_FILE_LIMIT:
            raise RecordError("the record of this test's calls is not a regular file of a sane size")
        data = file.read()
    start = len(RECORD_MAGIC) + 8
    try:
        if not data.startswith(RECORD_MAGIC):
            raise ValueError("not a record")
        end = start + int.from_bytes(data[len(RECORD_MAGIC) : start], "little")
        meta = json.loads(data[start:end].decode())
        arrays = Arrays(meta["arrays"], memoryview(data)[end:])
    except Exception as exc:  # noqa: BLE001 (whatever is wrong with it, the record is unusable)
        raise RecordError(f"the record of this test's calls is unreadable ({type(exc).__name__})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("calls"), list):
        raise RecordError("the record of this test's calls is malformed")
    return meta, arrays


class Arrays:
    """The arrays of a record: ``index`` lists each one's ``[dtype, shape, offset, size]`` in ``blob``.

    Only numbers, booleans and fixed-width strings: no object dtype, so nothing is unpickled.
    """

    KINDS = "biufc?SU"

    def __init__(self, index: list, blob):
        self.index, self.blob = index, blob

    @classmethod
    def of(cls, arrays: list) -> Arrays:
        """The table of arrays that ``autograder.agent.encode`` appended to a list (for tests)."""
        import numpy as np

        index, blobs, offset = [], [], 0
        for array in arrays:
            blob = np.asarray(array, order="C").tobytes()
            index.append([array.dtype.str, list(array.shape), offset, len(blob)])
            blobs.append(blob)
            offset += len(blob)
        return cls(index, memoryview(b"".join(blobs)))

    def view(self, i):
        """Array ``i``, read-only, without a copy."""
        import numpy as np

        try:
            dtype_text, shape, offset, size = self.index[i]
            dtype, shape = np.dtype(str(dtype_text)), tuple(int(n) for n in shape)
            count = int(np.prod(shape, dtype=np.int64)) if shape else 1
            ok = dtype.kind in self.KINDS and not dtype.hasobject and not dtype.fields and min(shape, default=0) >= 0
            if not ok or count * dtype.itemsize != size or not 0 <= offset <= offset + size <= len(self.blob):
                raise ValueError
        except (TypeError, ValueError, IndexError, KeyError):
            raise RecordError(f"the record's array {i} is malformed") from None
        return np.frombuffer(self.blob, dtype=dtype, count=count, offset=offset).reshape(shape)


class Decoder:
    """Values from a record's nodes (the inverse of ``autograder.agent.encode``)."""

    def __init__(self, arrays: Arrays, instances: dict):
        self.arrays = arrays
        self.instances = instances  # id in the record -> stand-in object

    def view(self, index):
        if not isinstance(index, int) or isinstance(index, bool):
            raise RecordError("malformed array reference")
        return self.arrays.view(index)

    def array(self, index):
        return self.view(index).copy()

    def __call__(self, node):
        try:
            return self._decode(node)
        except (RecordError, ReplayError):
            raise
        except Exception as exc:  # noqa: BLE001 (whatever a malformed node breaks, the record is unusable)
            raise RecordError(f"malformed record ({type(exc).__name__})") from None

    def _decode(self, node):
        import numpy as np

        if not isinstance(node, dict) or len(node) == 0:
            raise RecordError("malformed record node")
        if "v" in node:
            value = node["v"]
            if value is not None and not isinstance(value, (bool, str)):
                raise RecordError("malformed plain value")
            return value
        if "int" in node:
            if len(str(node["int"])) > 4000:
                raise RecordError("an integer too long to be an answer")
            return int(node["int"])
        if "float" in node:
            return float(node["float"])
        if "a" in node:
            array = self.array(node["a"])
            return array[()] if node.get("scalar") else array
        if "tensor" in node:
            import torch

            dtype = getattr(torch, str(node.get("dtype")), None)
            if not isinstance(dtype, torch.dtype):
                raise RecordError("malformed tensor dtype")
            return torch.from_numpy(self.array(node["tensor"])).to(dtype)
        if "tuple" in node:
            return tuple(self(v) for v in node["tuple"])
        if "list" in node:
            return [self(v) for v in node["list"]]
        if "dict" in node:
            try:
                return {self(k): self(v) for k, v in node["dict"]}
            except (TypeError, ValueError) as exc:
                raise RecordError("malformed dict") from exc
        if "slice" in node:
            return slice(*(self(v) for v in node["slice"]))
        if "generator" in node:
            if node["generator"] not in GENERATORS:
                raise RecordError("unknown random generator")
            generator = np.random.Generator(getattr(np.random, node["generator"])())
            generator.bit_generator.state = self(node["state"])
            return generator
        if "inst" in node:
            if node["inst"] not in self.instances:
                raise ReplayError("the record refers to an object this test has not made")
            return self.instances[node["inst"]]
        if "opaque" in node:
            return Opaque(str(node["opaque"]))
        raise RecordError("unknown record node")


def same(recorded, decode: Decoder, node, arrays: list) -> bool:
    """Whether ``node`` (encoded here, arrays in ``arrays``) is the value ``recorded`` describes."""
    import numpy as np

    if not isinstance(recorded, dict) or recorded.keys() != node.keys():
        return False
    for key in ("a", "tensor"):
        if key in node:
            if recorded.get("dtype") != node.get("dtype") or recorded.get("scalar") != node.get("scalar"):
                return False
            mine, theirs = arrays[node[key]], decode.view(recorded[key])
            if mine.shape != theirs.shape or mine.dtype != theirs.dtype:
                return False
            if np.array_equal(mine, theirs, equal_nan=mine.dtype.kind in "fc"):
                return True
            # Arguments are computed afresh here; allow the last bits a different BLAS path may change.
            return mine.dtype.kind in "fc" and bool(np.allclose(mine, theirs, rtol=1e-9, atol=1e-12, equal_nan=True))
    for key in ("tuple", "list", "slice"):
        if key in node:
            return len(recorded[key]) == len(node[key]) and all(
                same(r, decode, n, arrays) for r, n in zip(recorded[key], node[key])
            )
    if "dict" in node:
        return len(recorded["dict"]) == len(node["dict"]) and all(
            isinstance(r, list) and len(r) == 2 and all(same(a, decode, b, arrays) for a, b in zip(r, n))
            for r, n in zip(recorded["dict"], node["dict"])
        )
    if "generator" in node:
        return recorded["generator"] == node["generator"] and same(recorded["state"], decode, node["state"], arrays)
    return recorded == node


def assign_in_place(target, value):
    """Make ``target`` equal ``value`` keeping its identity where it can; returns what to bind."""
    import numpy as np

    if isinstance(target, np.ndarray) and isinstance(value, np.ndarray):
        if target.shape == value.shape and target.flags.writeable:
            np.copyto(target, value, casting="unsafe")
            return target
        return value
    if isinstance(target, dict) and isinstance(value, dict):
        for key in [k for k in target if k not in value]:
            del target[key]
        for key, item in value.items():
            target[key] = assign_in_place(target[key], item) if key in target else item
        return target
    if isinstance(target, list) and isinstance(value, list):
        target[:] = [assign_in_place(t, v) for t, v in zip(target, value)] + value[len(target) :]
        return target
    if isinstance(target, np.random.Generator) and isinstance(value, np.random.Generator):
        target.bit_generator.state = value.bit_generator.state
        return target
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(target, torch.Tensor) and isinstance(value, torch.Tensor):
        if target.shape == value.shape:
            with torch.no_grad():
                target.copy_(value)
            return target
    return value


# -- the stand-ins ----------------------------------------------------------------------------------
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


class Replayer:
    """Answers one test cell's calls to graded names from the record of its run in the kernel."""

    def __init__(self, meta: dict, arrays: Arrays):
        self.calls = meta["calls"]
        self.position = 0
        self.instances: dict = {}  # id in the record -> stand-in object
        self.decode = Decoder(arrays, self.instances)

    def _ids(self) -> dict:
        return {id(obj): (key, obj) for key, obj in self.instances.items()}

    def call(self, label: str, args: tuple, kwargs: dict, new_instance=None):
        index = self.position
        if index >= len(self.calls):
            raise ReplayError(f"{label} is called more often here than when the notebook ran")
        entry = self.calls[index]
        self.position += 1
        if not isinstance(entry, dict) or entry.get("label") != label:
            recorded = entry.get("label") if isinstance(entry, dict) else None
            raise ReplayError(f"call {index + 1} is to {label} here but was to {recorded} when the notebook ran")
        if new_instance is not None:
            first = (entry.get("args") or {}).get("tuple") or [{}]
            key = first[0].get("inst") if isinstance(first[0], dict) else None
            if key is None or key in self.instances:
                raise ReplayError(f"the record of {label} does not name a new object")
            self.instances[key] = new_instance
        arrays: list = []
        mine = {"args": encode(args, arrays, self._ids()), "kwargs": encode(kwargs, arrays, self._ids())}
        if not (
            same(entry.get("args"), self.decode, mine["args"], arrays)
            and same(entry.get("kwargs"), self.decode, mine["kwargs"], arrays)
        ):
            raise ReplayError(
                f"call {index + 1} ({label}) has other arguments here than when the notebook ran: the notebook's "
                "code changed the test's inputs"
            )
        if "args_after" in entry:
            for target, value in zip(args, self.decode(entry["args_after"])):
                assign_in_place(target, value)
            after_kwargs = self.decode(entry.get("kwargs_after", {"dict": []}))
            for name, target in kwargs.items():
                if isinstance(after_kwargs, dict) and name in after_kwargs:
                    assign_in_place(target, after_kwargs[name])
        if "state_after" in entry and entry.get("self") in self.instances:
            obj, state = self.instances[entry["self"]], self.decode(entry["state_after"])
            if isinstance(state, dict):
                for attr, value in state.items():
                    if isinstance(attr, str):
                        current = obj.__dict__.get(attr, None)
                        obj.__dict__[attr] = assign_in_place(current, value) if current is not None else value
        if "random_after" in entry:
            set_random_state(entry["random_after"], self.decode)
        if "error" in entry:
            raise _exception(entry["error"])
        return self.decode(entry["result"]) if "result" in entry else None


def stand_in_function(name: str, replayer: Replayer):
    def replayed(*args, **kwargs):
        return replayer.call(name, args, kwargs)

    replayed.__name__ = replayed.__qualname__ = name
    return replayed


def stand_in_class(name: str, replayer: Replayer):
    def __init__(self, *args, **kwargs):
        replayer.call(f"{name}.__init__", (self, *args), kwargs, new_instance=self)

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return lambda *args, **kwargs: replayer.call(f"{name}.{attr}", (self, *args), kwargs)

    return type(name, (), {"__init__": __init__, "__getattr__": __getattr__})


def set_random_state(state, decode: Decoder) -> None:
    import numpy as np

    if not isinstance(state, dict):
        return
    if "numpy" in state:
        np.random.set_state(decode(state["numpy"]))
    if "torch" in state:
        import torch

        torch.set_rng_state(decode(state["torch"]))


# -- which cells, and running them -------------------------------------------------------------------
def plan(source: NotebookNode, numpy_only: set[str]):
    """``(clean, tests, classes, functions)``: the locked cells to run first, the test cells to
    repeat (source cells), and the graded names they use."""
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
        used = (read - bound) & graded
        if used and used <= numpy_only:
            tests.append(cell)
            needed |= read - bound - graded - set(dir(builtins))
    code = [c for c in source.cells if c.cell_type == "code"]
    clean = code[:1] if code and cell_kind(code[0]) == "locked" else []
    for cell in code[1:]:
        if cell_kind(cell) != "locked":
            continue
        bound, read = names_in(cell.source)
        if bound & needed and not read & graded:
            clean.append(cell)
    functions = {n for n in numpy_only & graded if n not in classes}
    return clean, tests, numpy_only & classes, functions


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
    except Exception as exc:  # noqa: BLE001 (a failed check is the result)
        return out.getvalue(), exc
    return out.getvalue(), None


def _failed(cell: NotebookNode) -> bool:
    return any(out.get("output_type") == "error" for out in cell.get("outputs", []))


def check_outside(
    nb: NotebookNode, source_path: Path | None, rules: dict, records: Path, timeout=None, log=None
) -> dict[str, list[str]]:
    """Repeat ``nb``'s numpy-only test cells here with the records in ``records`` (module docstring).

    A test cell that passed in the kernel and fails here gets a ``CleanCheckFailed`` error output.
    Such a failure proves that the notebook changed what its checks compare with, so the tests that
    cannot be repeated here (assignment 4's torch modules) lose their pass in that kernel too.
    Returns the test names by outcome, ``{"passed": [...], "failed": [...], "failed in the kernel":
    [...], "not repeated": [...], "not trusted": [...]}`` (the last: not repeated, passed in the
    kernel, zeroed); ``execute.GradingExecute`` keeps it in the notebook's metadata.
    """
    from .notebooks import header_of, read_notebook

    summary: dict[str, list[str]] = {
        "passed": [],
        "failed": [],
        "failed in the kernel": [],
        "not repeated": [],
        "not trusted": [],
    }
    if source_path is None:
        return summary
    source = read_notebook(source_path)
    clean, tests, classes, functions = plan(source, set(rules.get("numpy_only", [])))

    def test_name(cell) -> str:
        match = header_of(cell)
        return match.group("name") if match else "?"

    unrepeatable = [c for c in source.cells if header_of(c) and c not in tests]
    summary["not repeated"] = [test_name(c) for c in unrepeatable]
    if not tests:
        return summary
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells if c.cell_type == "code"}
    timeout = timeout if isinstance(timeout, int) and timeout > 0 else 300
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    with _isolated():
        for cell in clean:
            printed, error = _run(cell.source, namespace, "<instructor cell>", timeout)
            if error is not None:  # the instructor's cell: no student is to blame, so nothing is repeated
                if log is not None:
                    log.warning("not repeating the tests outside the kernel: a locked cell failed: %r", error)
                summary["not repeated"] += [test_name(t) for t in tests]
                return summary
        for test in tests:
            cell = by_id.get(test.metadata.get("nbgrader", {}).get("grade_id"))
            if cell is None or _failed(cell):
                summary["failed in the kernel"].append(test_name(test))
                continue  # it scores zero already, with its own message
            problem = _repeat(test, namespace, records, classes, functions, timeout)
            summary["passed" if problem is None else "failed"].append(test_name(test))
            if problem is not None:
                _zero(
                    cell,
                    "this test passed in the notebook's kernel, but not when the grader repeated its checks "
                    "outside the notebook's reach with the values the notebook's functions returned: "
                    f"{problem}. Something in the notebook changed what the checks compare with; it scores 0 "
                    "(the instructor can review and override)",
                    problem,
                )
    if summary["failed"]:
        # Tampering is proven: a pass that only the notebook's own kernel saw is worth nothing.
        failed = ", ".join(summary["failed"])
        for test in unrepeatable:
            cell = by_id.get(test.metadata.get("nbgrader", {}).get("grade_id"))
            if cell is None or _failed(cell):
                continue
            summary["not trusted"].append(test_name(test))
            _zero(
                cell,
                "this test can only run in the notebook's kernel, and there the notebook changed what the "
                f"checks compare with (the grader's repeat of {failed} failed outside the kernel): its pass "
                "cannot be trusted, so it scores 0 (the instructor can review and override)",
                f"not trusted after the repeat of {failed} failed",
            )
    return summary


def _zero(cell: NotebookNode, message: str, short: str) -> None:
    """Make a test cell score 0 with a ``CleanCheckFailed`` error that says why."""
    cell.outputs.append(
        nbformat.v4.new_output(
            "error", ename=CLEAN_CHECK_FAILED, evalue=message, traceback=[f"{CLEAN_CHECK_FAILED}: {short}"]
        )
    )


def _repeat(test: NotebookNode, namespace: dict, records: Path, classes, functions, timeout) -> str | None:
    """Run one test cell with the recorded answers; ``None`` if it passes, else what failed."""
    name = record_file_name(test.source.lstrip().split("\n", 1)[0])
    try:
        meta, arrays = load_record(records / name)
    except RecordError as exc:
        return str(exc)
    if meta.get("overflow"):
        return "its calls returned more data than the grader records"
    replayer = Replayer(meta, arrays)
    try:
        for graded in functions:
            namespace[graded] = stand_in_function(graded, replayer)
        for graded in classes:
            namespace[graded] = stand_in_class(graded, replayer)
        names = meta.get("names", {})
        for key, node in names.items() if isinstance(names, dict) else []:
            if isinstance(key, str) and key.isidentifier():
                namespace[key] = replayer.decode(node)
        set_random_state(meta.get("random"), replayer.decode)
    except Exception as exc:  # noqa: BLE001 (a malformed record fails this test, not the grading run)
        return f"the record is unusable: {type(exc).__name__}: {exc}"
    with _isolated():
        _, error = _run(test.source, namespace, "<test cell>", timeout)
    if error is None:
        return None
    return "".join(traceback.format_exception_only(type(error), error)).strip()[:2000]
