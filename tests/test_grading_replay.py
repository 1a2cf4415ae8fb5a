"""The check outside the kernel: values on the wire, the clean room, and the repeat of each test.

The pipeline-level proofs (a student who silences the agent, hides torch from it, or reads the
test's frame gains nothing) are in ``test_grading_attacks.py``; every assignment's reference and
independent solution passing the repeat is in ``test_course_pipeline.py``.
"""

from __future__ import annotations

import os
import time

import nbformat
import numpy as np
import pytest
import torch
from nbformat.v4 import new_code_cell, new_notebook, new_output

from autograder import replay, wire
from autograder import sandbox as sb
from autograder.cleanroom import CPULimitExceeded
from autograder.execute import grading_rules
from autograder.notebooks import read_notebook, tag_notebook
from conftest import ASSIGNMENTS, UNSAFE, errors_of
from utils.vectorisation import CPU_BUDGET

PLAIN = [
    None,
    True,
    "text",
    7,
    2**80,
    -0.0,
    float("nan"),
    float("inf"),
    np.float32(1.5),
    np.int64(3),
    np.arange(6.0).reshape(2, 3),
    np.array([True, False]),
    np.zeros((0, 4), dtype=np.float32),
    torch.arange(3, dtype=torch.float64),
    (1, [2.0, {"k": np.ones(2)}]),
    {("a", 1): slice(1, None, 2)},
    np.random.default_rng(3),
]


def through_a_pipe(value):
    arrays: list = []
    node = wire.encode(value, arrays)
    read, write = os.pipe()
    try:
        wire.write_message(write, {"value": node}, arrays)
        meta, blob = wire.Reader(read).message()
    finally:
        os.close(read)
        os.close(write)
    return wire.Decoder(blob)(meta["value"])


@pytest.mark.parametrize("value", PLAIN, ids=lambda v: type(v).__name__)
def test_plain_data_survives_the_wire(value):
    back = through_a_pipe(value)
    if isinstance(value, np.random.Generator):
        assert back.bit_generator.state == value.bit_generator.state
        return
    assert type(back) is type(value)
    arrays_a, arrays_b = [], []
    assert wire.encode(back, arrays_a) == wire.encode(value, arrays_b)
    assert all(np.array_equal(a, b, equal_nan=a.dtype.kind == "f") for a, b in zip(arrays_a, arrays_b))


def test_malformed_or_oversized_messages_are_refused(monkeypatch):
    bad = [
        {"bogus": 1},
        {"a": 0},  # an array that is not there
        {"int": "9" * 5000},
        {"inst": 3},  # an object that does not exist
        {"handle": 0},  # the grader's side holds no such object
        {"list": [{"list": [{"v": 1}] * 10}] * 30_000},  # more parts than a message may have
    ]
    for node in bad:
        with pytest.raises(wire.WireError):
            wire.Decoder(wire.Arrays([], memoryview(b"")), {}, wire.Handles())(node)
    monkeypatch.setattr(wire, "HEADER_LIMIT", 100)
    for sent, refused in [
        (None, "header"),  # a header over the limit
        ((5).to_bytes(8, "little") + b"[[[[[" + (0).to_bytes(8, "little"), "malformed"),
        (b"", "in time"),  # nothing comes
    ]:
        read, write = os.pipe()
        try:
            if sent is None:
                wire.write_message(write, {"x": "y" * 200})
            else:
                os.write(write, sent)
            with pytest.raises(wire.WireError, match=refused):
                wire.Reader(read).message(0 if sent == b"" else None)
        finally:
            os.close(read)
            os.close(write)


@pytest.mark.parametrize("folder", sorted(p.name for p in ASSIGNMENTS.iterdir() if (p / ".").is_dir()))
@pytest.mark.slow
def test_every_test_is_repeated_outside_the_kernel(folder):
    [path] = sorted((ASSIGNMENTS / folder).glob("*.ipynb"))
    rules = grading_rules(path)
    source = tag_notebook(read_notebook(path))
    _, tests, _, _ = replay.plan(source, set(rules["numpy_only"]))
    headers = [c.source.split("\n", 1)[0] for c in source.cells if c.source.startswith("# Test:")]
    repeated = [c.source.split("\n", 1)[0] for c in tests]
    # Assignment 4's torch modules too: their objects stay in a torch room, the test runs here.
    assert repeated == headers and headers


SQUARE = "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION"
TEST_SQUARE = (
    "# Test: square (3 points)\nassert square(3) == 9, 'square(3) should be 9'\n"
    "### BEGIN HIDDEN TESTS\nassert square(-2) == 4, 'hidden: square(-2) should be 4'\n### END HIDDEN TESTS"
)
ACCUMULATOR = (
    "class Acc:\n    def __init__(self, n):\n        ### BEGIN SOLUTION\n        self.total = np.zeros(n)\n"
    "        ### END SOLUTION\n    def add(self, x):\n        ### BEGIN SOLUTION\n        self.total += x\n"
    "        return double(self.total.sum())\n        ### END SOLUTION"
)
DOUBLE = "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"
# The object's attributes are the test's to read and change in place; double is swapped for a stand-in.
TEST_ACC = (
    "# Test: acc (2 points)\nfrom utils.references import standins\na = Acc(3)\n"
    "with standins(globals(), double=lambda v: torch.as_tensor(v * 2).item()):\n"
    "    assert a.add(np.ones(3)) == 6\n    a.total[0] = 10\n    assert a.add(np.ones(3)) == 30, a.total\n"
    "assert isinstance(a, Acc) and a.total.tolist() == [11.0, 2.0, 2.0]"
)
LAYER = "def layer(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"
TEST_LAYER = (
    "# Test: layer (2 points)\nassert layer(2) == 4, 'layer(2) should be 4'\n"
    "### BEGIN HIDDEN TESTS\nassert layer(20) == 40, 'hidden: layer(20) should be 40'\n### END HIDDEN TESTS"
)


def repeat(
    tmp_path,
    square: str,
    acc: str = "",
    layer_failed: bool = False,
    timeout: int = 30,
    layer: str = "",
    forbidden: dict | None = None,
):
    """A notebook whose kernel passed every test (unless ``layer_failed``), repeated outside the kernel
    with ``square`` (and ``acc``) as the student's cells; ``layer`` is not numpy-only (a torch room)."""
    cells = [
        "import numpy as np\nimport torch",
        SQUARE,
        TEST_SQUARE,
        DOUBLE,
        ACCUMULATOR,
        TEST_ACC,
        LAYER,
        TEST_LAYER,
    ]
    source = tag_notebook(new_notebook(cells=[new_code_cell(c) for c in cells]))
    path = tmp_path / "source.ipynb"
    nbformat.write(source, path)
    ran = nbformat.from_dict(source)
    ran.cells[1].source = square
    if acc:
        ran.cells[4].source = acc
    if layer:
        ran.cells[6].source = layer
    if layer_failed:
        ran.cells[7].outputs = [
            new_output("error", ename="AssertionError", evalue="layer(2) should be 4", traceback=[])
        ]
    rules = {"numpy_only": ["square", "double", "Acc"], "forbidden": forbidden or {}}
    limits = sb.Limits(uid=61511)
    summary = replay.check_outside(ran, path, rules, timeout, None, sandboxed=not UNSAFE, limits=limits)
    return ran, summary


@pytest.mark.slow
def test_honest_functions_and_objects_pass_outside(tmp_path):
    ran, summary = repeat(tmp_path, "def square(x):\n    return x * x")
    assert summary["passed"] == ["square", "acc", "layer"] and summary["not repeated"] == [], summary
    assert summary["failed"] == summary["not trusted"] == summary["failed hidden tests"] == []
    assert all(errors_of(c) == [] for c in ran.cells if c.cell_type == "code")


@pytest.mark.slow
def test_a_hidden_test_fails_outside_as_the_tests_own_failure(tmp_path):
    ran, summary = repeat(tmp_path, "def square(x):\n    return x * x if x > 0 else 0")
    assert summary["failed hidden tests"] == ["square"] and summary["not trusted"] == [], summary
    assert errors_of(ran.cells[2]) == [
        ("AssertionError", "a hidden test failed: AssertionError: hidden: square(-2) should be 4")
    ]


@pytest.mark.parametrize(
    "square",
    [
        "import torch\ndef square(x):\n    with torch._C.DisableTorchFunction():\n"
        "        return torch.tensor(x).item() ** 2",
        "import threading\ndef square(x):\n    out = {}\n    def work():\n        import torch\n"
        "        out['y'] = torch.tensor(x).item() ** 2\n    t = threading.Thread(target=work)\n    t.start()\n"
        "    t.join()\n    return out['y']",
    ],
    ids=["DisableTorchFunction", "a thread"],
)
@pytest.mark.slow
def test_torch_fails_where_it_does_not_exist_and_costs_only_its_own_test(tmp_path, square):
    ran, summary = repeat(tmp_path, square)
    assert summary["failed"] == ["square"] and summary["passed"] == ["acc", "layer"], summary
    [(ename, evalue)] = errors_of(ran.cells[2])
    assert ename == "NumpyOnlyError" and "torch" in evalue, evalue
    assert errors_of(ran.cells[7]) == []  # every test is repeated: one disproved pass says nothing of another


@pytest.mark.slow
def test_a_function_that_reads_the_tests_frame_finds_nothing(tmp_path):
    oracle = (
        "import sys\ndef square(x):\n    frame = sys._getframe(1)\n    while frame is not None:\n"
        "        if 'square' in frame.f_globals and frame.f_code.co_name == '<module>':\n"
        "            return 9\n        frame = frame.f_back\n    return -1"
    )
    _, summary = repeat(tmp_path, oracle)
    assert summary["failed"] == ["square"], summary


@pytest.mark.slow
def test_a_statement_that_ends_the_clean_room_is_skipped(tmp_path):
    crash = "import os\nboom = os._exit(3)\ndef square(x):\n    return x * x"
    ran, summary = repeat(tmp_path, crash)
    assert summary["passed"] == ["square", "acc", "layer"], summary


@pytest.mark.slow
def test_a_call_that_never_ends_costs_its_test_only(tmp_path):
    endless = "def square(x):\n    while x == 3:\n        pass\n    return x * x"
    ran, summary = repeat(tmp_path, endless, timeout=3)
    assert summary["over a limit"] == ["square"] and summary["passed"] == ["acc", "layer"], summary
    assert summary["failed"] == [] and errors_of(ran.cells[2])[0][0] == "LimitExceeded"


@pytest.mark.slow
def test_a_test_that_failed_in_the_kernel_keeps_its_own_message(tmp_path):
    ran, summary = repeat(tmp_path, "def square(x):\n    return x * x", layer_failed=True)
    assert summary["not trusted"] == [] and [e for e, _ in errors_of(ran.cells[7])] == ["AssertionError"]


def a_room(code: str, rules: dict | None = None, timeout: float = 20):
    from autograder.cleanroom import CleanRoom

    return CleanRoom([["cell 1", code]], rules or {}, not UNSAFE, sb.Limits(uid=61510), timeout)


@pytest.mark.slow
def test_the_watch_sees_a_thread_and_its_own_removal():
    """Lines run in a thread are not counted, and a profile hook switched off and on misses a
    shortcut: the clean room fails both instead (its audit hook sees sys.setprofile)."""
    code = (
        "import sys, threading\nimport numpy as np\n"
        "def looped(x):\n    out = []\n    worker = threading.Thread(target=lambda: out.extend(v for v in x))\n"
        "    worker.start()\n    worker.join()\n    return len(out)\n"
        "def sneaky(x):\n    watch = sys.getprofile()\n    sys.setprofile(None)\n"
        "    y = np.lib.stride_tricks.sliding_window_view(x, 2)\n    sys.setprofile(watch)\n    return y.sum()\n"
        "def honest(x):\n    return (x[1:] + x[:-1]).sum()\n"
    )
    rules = {"forbidden": {"sneaky": ["numpy.lib.stride_tricks.sliding_window_view"]}}
    x = np.arange(5.0)
    with a_room(code, rules) as room:
        with pytest.raises(AssertionError) as threaded:
            room.call("looped", (x,), {}, {}, [], target="looped", count_lines=True)
        with pytest.raises(AssertionError) as unwatched:
            room.call("sneaky", (x,), {}, {}, [], target="sneaky", graded="sneaky")
        result, lines = room.call("honest", (x,), {}, {}, [], target="honest", count_lines=True)
    assert type(threaded.value).__name__ == type(unwatched.value).__name__ == "NumpyOnlyError"
    assert result == 16.0 and 0 < lines < 5


@pytest.mark.slow
def test_a_students_words_from_the_clean_room_are_not_shown(tmp_path):
    """A hidden input seen by the student's function could come back in its exception's message."""
    leak = "def square(x):\n    if x < 0:\n        raise ValueError(f'secret hidden input {x}')\n    return x * x"
    ran, summary = repeat(tmp_path, leak)
    assert summary["failed hidden tests"] == ["square"], summary
    [(ename, evalue)] = errors_of(ran.cells[2])
    assert "secret" not in evalue and "ValueError raised by square" in evalue, evalue


@pytest.mark.slow
def test_a_students_words_stay_unshown_when_the_test_wraps_the_call(tmp_path, monkeypatch):
    """The test cells call the student's functions through utils.references.call (checked_call), which turns an
    exception into a message; for the grader's repeat that message names the error and does not quote it."""
    wrapped = (
        "# Test: square (3 points)\nfrom utils.references import call\nassert call(square, 3) == 9\n"
        "### BEGIN HIDDEN TESTS\nassert call(square, -2) == 4\n### END HIDDEN TESTS"
    )
    monkeypatch.setitem(globals(), "TEST_SQUARE", wrapped)
    leak = "def square(x):\n    if x < 0:\n        raise ValueError(f'secret hidden input {x}')\n    return x * x"
    ran, summary = repeat(tmp_path, leak)
    assert summary["failed hidden tests"] == ["square"], summary
    [(ename, evalue)] = errors_of(ran.cells[2])
    assert "secret" not in evalue and "raised ValueError where the grader repeated" in evalue, evalue


@pytest.mark.slow
def test_objects_mirror_removed_attributes_and_cannot_fill_the_graders_memory(monkeypatch):
    from autograder import cleanroom

    code = (
        "import numpy as np\nclass Hoard:\n    def __init__(self):\n        self.n = 0\n"
        "    def grow(self):\n        self.__dict__.pop(f'ballast{self.n}', None)\n        self.n += 1\n"
        "        setattr(self, f'ballast{self.n}', np.ones(40_000))\n        return self.n\n"
    )
    monkeypatch.setattr(cleanroom, "STATE_LIMIT", 1_000_000)

    class Hoard:  # the grader's mirror
        pass

    with a_room(code) as room:
        hoard = Hoard()
        room.call("Hoard.__init__", (), {}, {}, [], target="Hoard", new=True, obj=hoard, graded="Hoard")
        for _ in range(3):
            room.call("Hoard.grow", (), {}, {}, [], obj=hoard, method="grow", graded="Hoard")
        assert [k for k in vars(hoard) if k.startswith("ballast")] == ["ballast3"]
        code_big = "import numpy as np\nclass Big:\n    def fill(self):\n        self.a = np.ones(200_000)\n"
    with a_room(code_big) as room:

        class Big:
            pass

        big = Big()
        room.call("Big.__init__", (), {}, {}, [], target="Big", new=True, obj=big, graded="Big")
        with pytest.raises(cleanroom.CleanRoomError, match="hold more than"):
            room.call("Big.fill", (), {}, {}, [], obj=big, method="fill", graded="Big")


@pytest.mark.slow
def test_a_load_that_stalls_is_skipped_and_a_room_that_keeps_failing_is_given_up(monkeypatch):
    from autograder import cleanroom

    monkeypatch.setattr(cleanroom, "LOAD_SECONDS", 2)
    stall = (
        "import time, signal\ndef hold():\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
        "    while True:\n        time.sleep(0.1)\nheld = hold()\ndef ok(x):\n    return x + 1\n"
    )
    with a_room(stall) as room:
        assert room.call("ok", (1,), {}, {}, [], target="ok") == 2  # the stalling line was skipped
    with a_room("import os\nboom = os._exit(3)\ndef ok(x):\n    return x\n", timeout=5) as room:
        monkeypatch.setattr(cleanroom, "MAX_LOAD_FAILURES", 1)
        with pytest.raises(cleanroom.CleanRoomError):
            room.call("ok", (1,), {}, {}, [], target="ok")
        with pytest.raises(cleanroom.CleanRoomError, match="could not load"):
            room.call("ok", (1,), {}, {}, [], target="ok")  # at once: the room is given up


@pytest.mark.slow
def test_a_function_of_torch_code_answers_from_a_torch_room_and_is_judged_here(tmp_path):
    """layer is not numpy-only: it runs in a torch room, and its test, hidden part included, runs in
    the grader, which compares what came back."""
    wrong_on_hidden = "import torch\ndef layer(x):\n    return int(torch.tensor(2 * x)) if x < 10 else 0"
    ran, summary = repeat(tmp_path, "def square(x):\n    return x * x", layer=wrong_on_hidden)
    assert summary["failed hidden tests"] == ["layer"] and summary["passed"] == ["square", "acc"], summary
    [(ename, evalue)] = errors_of(ran.cells[7])
    assert evalue == "a hidden test failed: AssertionError: hidden: layer(20) should be 40", evalue
    honest = "import torch\ndef layer(x):\n    return int(torch.tensor(2 * x))"
    ran, summary = repeat(tmp_path, "def square(x):\n    return x * x", layer=honest)
    assert summary["failed hidden tests"] == [] and errors_of(ran.cells[7]) == [], summary


@pytest.mark.slow
def test_an_answer_the_students_code_writes_to_the_pipe_itself_is_refused():
    """It cannot name the grader's request (a nonce it never sees), so the grader stops the room."""
    from autograder.cleanroom import CleanRoomError

    forge = (
        "import os, json\ndef square(x):\n"
        "    header = json.dumps({'meta': {'op': 'result', 'result': {'int': '9'}}, 'arrays': []}).encode()\n"
        "    message = len(header).to_bytes(8, 'little') + header + (0).to_bytes(8, 'little')\n"
        "    for fd in map(int, os.listdir('/proc/self/fd')):\n"
        "        try:\n            os.write(fd, message)\n        except OSError:\n            pass\n"
        "    import time\n    time.sleep(30)\n"
    )
    with a_room(forge, timeout=5) as room, pytest.raises(CleanRoomError):
        room.call("square", (3,), {}, {}, [], target="square")


@pytest.mark.slow
def test_the_cpu_time_of_a_call_is_read_from_outside_the_room():
    """Code run as the room loads (a class body) can replace the room's own watch, which counts lines
    inside the room; it cannot change the kernel's count of the CPU time the room's processes used,
    which the grader reads from outside: a Python loop along a long axis shows there."""
    code = (
        "import sys\nimport numpy as np\n"
        "class Patch:\n    server = getattr(sys.modules['__main__'], 'Server', None)\n"
        "    if server is not None:\n"
        "        server._watched = lambda self, label, graded, target, args, kwargs, count=False: "
        "(target(*args, **kwargs), 1)\n"
        "def looped(x):\n    return np.array([row.sum() for row in x])\n"
        "def vectorised(x):\n    return x.sum(axis=1)\n"
    )
    long = np.ones((1_000_000, 2))
    with a_room(code) as room:
        _, lines = room.call("looped", (np.ones((50, 2)),), {}, {}, [], target="looped", count_lines=True)
        result, slow = room.call("looped", (long,), {}, {}, [], target="looped", cpu=True)
        _, fast = room.call("vectorised", (long,), {}, {}, [], target="vectorised", cpu=True)
    if not UNSAFE:
        assert lines == 1  # the watch inside the room said what the student's code told it to
    np.testing.assert_array_equal(result, np.full(1_000_000, 2.0))
    assert slow > CPU_BUDGET > 2 * fast, (slow, fast)


@pytest.mark.slow
def test_a_ruled_out_shortcut_is_read_from_the_source_whatever_the_watch_says(tmp_path):
    """The student's code turns the room's watch off as it loads, then calls a ruled-out shortcut:
    the grader reads the shortcut in the source, outside the room, and the repeat fails."""
    sneaky = (
        "import sys\nimport numpy as np\n"
        "class Off:\n    server = getattr(sys.modules['__main__'], 'Server', None)\n"
        "    if server is not None:\n"
        "        server._watched = lambda self, label, graded, target, args, kwargs, count=False: "
        "(target(*args, **kwargs), 0)\n"
        "def square(x):\n    pairs = np.lib.stride_tricks.sliding_window_view(np.array([x, x]), 2)\n"
        "    return int(pairs.prod())"
    )
    ran, summary = repeat(tmp_path, sneaky, forbidden={"square": ["numpy.lib.stride_tricks.sliding_window_view"]})
    assert summary["failed"] == ["square"] and summary["passed"] == ["acc", "layer"], summary
    [(ename, evalue)] = errors_of(ran.cells[2])
    assert ename == "NumpyOnlyError" and "mentions sliding_window_view" in evalue, evalue


@pytest.mark.slow
def test_a_timed_call_over_its_cpu_limit_stops_the_room_and_the_next_call_starts_it_again():
    code = "import numpy as np\ndef slow(x):\n    return np.array([np.sum(r * r) + np.max(r) for r in x])\n"
    with a_room(code) as room:
        start = time.monotonic()
        with pytest.raises(CPULimitExceeded):
            room.call("slow", (np.ones((2_000_000, 2)),), {}, {}, [], target="slow", cpu=True, cpu_limit=0.5)
        assert time.monotonic() - start < 20
        result, _ = room.call("slow", (np.ones((3, 2)),), {}, {}, [], target="slow", cpu=True, cpu_limit=0.5)
    np.testing.assert_array_equal(result, np.full(3, 3.0))


@pytest.mark.slow
def test_the_clean_room_starts_threads_but_no_process():
    """A child that Linux reaps by itself (SIGCHLD ignored) would take its CPU time out of what the
    grader reads for the room: the room can start no process at all (a seccomp filter)."""
    code = (
        "import os, signal, threading\nimport numpy as np\n"
        "def forks(x):\n    signal.signal(signal.SIGCHLD, signal.SIG_IGN)\n    pid = os.fork()\n"
        "    if pid == 0:\n        os._exit(0)\n    return x\n"
        "def threads(x):\n    out = []\n    t = threading.Thread(target=lambda: out.append(x * 2))\n"
        "    t.start()\n    t.join()\n    return out[0]\n"
    )
    with a_room(code) as room:
        with pytest.raises(PermissionError):
            room.call("forks", (1,), {}, {}, [], target="forks")
        assert room.call("threads", (3,), {}, {}, [], target="threads") == 6


def test_a_failure_in_a_visible_helper_called_from_a_hidden_line_is_a_hidden_failure():
    """The statement of the test cell that failed decides, not the helper's line it failed in."""
    source = (
        "def check(v):\n    assert v == 2, 'wrong'\ncheck(2)\n### BEGIN HIDDEN TESTS\ncheck(3)\n### END HIDDEN TESTS"
    )
    try:
        exec(compile(source, "<test cell>", "exec"), {})
    except AssertionError as exc:
        error = exc
    assert replay._line_in_test(error) == 5 and 5 in replay.hidden_lines(source)


def test_the_readme_counts_the_repeated_tests_right():
    import re

    from conftest import ROOT

    repeated = total = 0
    for path in sorted(ASSIGNMENTS.glob("*/*.ipynb")):
        source = tag_notebook(read_notebook(path))
        _, tests, _, _ = replay.plan(source, set(grading_rules(path)["numpy_only"]))
        repeated += len(tests)
        total += sum(c.source.startswith("# Test:") for c in source.cells)
    said = re.search(r"all (\d+) of the (\d+) tests are repeated so", (ROOT / "README.md").read_text())
    assert said and (int(said[1]), int(said[2])) == (repeated, total), (said and said[0], repeated, total)


@pytest.mark.slow
def test_a_test_that_reads_a_failed_training_cell_is_filed_under_that_cells_error(tmp_path):
    """A locked cell that runs the student's code (assignment 1's training cell) fails outside the
    kernel when that code needs torch; the test reading its result says so, as torch in numpy code,
    not as tampering."""
    cells = [
        "import numpy as np\nimport torch",
        SQUARE,
        TEST_SQUARE,
        "total = square(3) + 1",
        # The test names square, so it is repeated, with the locked cell above run again first.
        "# Test: total (1 point)\nassert total == 10, 'total should be 10'\nassert callable(square)",
    ]
    source = tag_notebook(new_notebook(cells=[new_code_cell(c) for c in cells]))
    path = tmp_path / "source.ipynb"
    nbformat.write(source, path)
    ran = nbformat.from_dict(source)
    ran.cells[1].source = "import torch\ndef square(x):\n    return int(torch.tensor(x) ** 2)"
    rules = {"numpy_only": ["square"], "forbidden": {}}
    summary = replay.check_outside(ran, path, rules, 30, None, sandboxed=not UNSAFE, limits=sb.Limits(uid=61511))
    assert summary["failed"] == ["square", "total"], summary
    kinds = {i["message"].split(":")[0]: i["kind"] for i in summary["incidents"]}
    assert kinds == {"square": "torch-in-numpy", "total": "torch-in-numpy"}, summary["incidents"]
    [(ename, evalue)] = errors_of(ran.cells[4])
    assert ename == "NumpyOnlyError" and "locked cell this test reads from failed" in evalue, evalue


@pytest.mark.slow
def test_a_graded_function_that_writes_into_its_array_arguments_is_refused():
    """Red team: zeroing the inputs in place made the checks compute their expected answer from
    zeros after the call, and a wrong conv_forward_naive, max_pool_forward and top_k_error passed.
    No graded function writes into an array it is given: the clean room's answer says so first."""
    code = "import numpy as np\ndef zeroes(x, config):\n    x[...] = 0\n    config['seen'] = True\n    return x.sum()\n"
    x, config = np.ones(3), {}
    with a_room(code) as room:
        with pytest.raises(AssertionError, match="changed its argument 1 .an array. in place"):
            room.call("zeroes", (x, config), {}, {}, [], target="zeroes")
    assert x.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.slow
def test_a_function_copied_under_another_identity_ends_the_room_with_a_named_error():
    """Red team 2: a ruled-out callable's code, copied into a new function (code.replace, then the
    function type), is not the callable the watch knows. From the student's first statement on, the
    room's audit guard (state in a closure, not reachable by name) ends the room at such a copy; a
    call is answered with NumpyOnlyError first, and a statement that does it as the room loads is
    skipped, as any statement that ends the room."""
    code = (
        "import numpy as np\nimport numpy.lib.stride_tricks as st\n"
        "def copied(x):\n    f = st.as_strided\n    g = type(f)(f.__code__.replace(co_name='v'), f.__globals__)\n"
        "    return g(x, (2,), (8,)).sum()\n"
        "AT_LOAD = (lambda f: type(f)(f.__code__.replace(co_name='w'), f.__globals__))(st.as_strided)\n"
        "def loaded(x):\n    return AT_LOAD(x, (2,), (8,)).sum()\n"
        "def honest(x):\n    return float(x[:2].sum())\n"
    )
    x = np.arange(3.0)
    with a_room(code) as room:
        with pytest.raises(AssertionError) as copied:
            room.call("copied", (x,), {}, {}, [], target="copied")
        assert room.call("honest", (x,), {}, {}, [], target="honest") == 1.0  # a new room answers
        with pytest.raises(Exception) as loaded:
            room.call("loaded", (x,), {}, {}, [], target="loaded")
    assert type(copied.value).__name__ == "NumpyOnlyError" and "code.__new__" in str(copied.value)
    assert type(loaded.value).__name__ == "NameError"  # AT_LOAD was never made


@pytest.mark.slow
def test_a_stand_in_asked_for_gigabytes_fails_instead_of_taking_the_grader_down():
    """Red team 2: the room chooses a torch stand-in's arguments (im2col with a padding of
    thousands); the stand-in runs in the grader under a memory ceiling and fails alone."""
    import resource

    code = "import numpy as np\ndef f(x):\n    return big(x).sum()\ndef big(x):\n    return x\n"

    def greedy(x):
        return torch.zeros(4 * 1024**3 // 8, dtype=torch.float64).numpy()  # 4 GB, past the ceiling

    before = resource.getrlimit(resource.RLIMIT_DATA)
    with a_room(code) as room, pytest.raises(Exception, match="allocate|Memory"):
        room.call("f", (np.ones(2),), {}, {"big": greedy}, ["big"], target="f")
    assert resource.getrlimit(resource.RLIMIT_DATA) == before
