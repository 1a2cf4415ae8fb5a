"""``python -m autograder new NN_topic``: a new topic's notebooks and tests, wired up, ready for content.

Creates, from small templates:

* ``lectures/NN_topic.ipynb`` and ``seminars/NN_topic.ipynb`` with the set-up cell, a formula checked
  against torch, and (in the seminar) an exercise that starts blank;
* ``assignments/NN_topic/topic.ipynb``: an nbgrader source with a points table, one graded function
  with its solution markers, and a test cell with a visible and a hidden part, already tagged;
* ``tests/test_assignment_NN_topic.py`` on the shared harness, with a misconception table;
* ``tests/independent/aNN_topic.py``: the place for an independently written solution.

Everything it writes passes the suite as it is, so a new topic starts green; then replace the
example (``relu6``) with the topic's content.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from .course import KERNELSPEC, ROOT
from .notebooks import tag_notebook

SETUP = "import numpy as np\nimport torch\n\nimport utils\n\nrng = utils.setup_notebook(seed=0)"

LECTURE = [
    "# Lecture {n}: {title}\n\nWhat this lecture is about, in two sentences.",
    "## 1. A formula, checked against torch\n\n"
    "$$\\operatorname{{relu6}}(x) = \\min(\\max(x, 0), 6)$$\n\n"
    "Every formula the course states is checked in code against PyTorch.",
    SETUP,
    "x = rng.normal(scale=5.0, size=(4, 5))\n"
    "utils.assert_close(np.minimum(np.maximum(x, 0), 6), torch.nn.functional.relu6(torch.tensor(x)), 'relu6')",
]

SEMINAR = [
    "# Seminar {n}: {title}\n\nCells titled **Your turn** are exercises: replace `None` with your answer.",
    SETUP,
    "### Your turn 1\n\nThe derivative of relu6 at a point inside $(0, 6)$.",
    "def relu6_slope(x):\n    # YOUR ANSWER HERE (replace None)\n    return None\n\n\n"
    "utils.check_answer('relu6 slope at 3', relu6_slope(3.0), 1.0,\n"
    "                   mistakes={{'the slope of relu6 is 1 between 0 and 6': 0.0}})",
]

ASSIGNMENT = [
    "# Assignment {n}: {title}\n\n"
    "Write your code in place of `raise NotImplementedError()` and keep each signature as it is.\n\n"
    "| part | test cell | points |\n| --- | --- | --- |\n| 1. ReLU6 | `relu6_forward` | 2 |\n"
    "| | **total** | **2** |",
    SETUP,
    "def relu6_forward(x):\n"
    '    """ReLU6, as torch.nn.functional.relu6.\n\n'
    "    Args:\n        x: inputs, any shape.\n\n"
    "    Returns:\n        out: min(max(x, 0), 6), the shape of x.\n"
    '    """\n'
    "    out = None\n"
    "    ### BEGIN SOLUTION\n"
    "    out = np.clip(x, 0.0, 6.0)\n"
    "    ### END SOLUTION\n"
    "    return out",
    "# Test: relu6_forward (2 points)\n"
    "import numpy as np\nimport torch\nfrom utils import assert_close\n\n"
    "x = np.array([[-2.0, 0.5, 3.0], [6.5, 6.0, 0.0]])\n"
    "out = relu6_forward(x)\n"
    "assert isinstance(out, np.ndarray), f'relu6_forward must return a numpy array, got {{type(out).__name__}}'\n"
    "assert_close(out, torch.nn.functional.relu6(torch.tensor(x)), 'out of relu6_forward', mistakes={{\n"
    "    'the output is not capped at 6: that is plain ReLU': np.maximum(x, 0),\n"
    "}})\n"
    "print('relu6_forward: visible checks passed')\n\n"
    "### BEGIN HIDDEN TESTS\n"
    "for shape in [(1,), (7, 3), (2, 3, 4)]:\n"
    "    x = np.random.default_rng(len(shape)).normal(scale=5.0, size=shape)\n"
    "    expected = torch.nn.functional.relu6(torch.tensor(x))\n"
    "    assert_close(relu6_forward(x), expected, f'relu6_forward on shape {{shape}}')\n"
    "### END HIDDEN TESTS",
    "## Before you submit\n\nRestart the kernel and run every cell from the top.",
]

TEST_MODULE = '''"""Assignment {n} ({title}): the reference against torch, and the table of misconceptions.

The generic checks (the reference passes, the blank release scores zero, the points add up, the
independent solution earns full marks) run for every assignment in tests/test_assignments.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness import Assignment, Misconception
from utils import assert_close

A = Assignment("{folder}")
pytestmark = A.marks


@pytest.mark.parametrize("shape", [(1,), (3, 4), (2, 3, 5)], ids=str)
def test_reference_matches_torch(shape):
    x = np.random.default_rng(len(shape)).normal(scale=5.0, size=shape)
    assert_close(A.reference()["relu6_forward"](x), torch.nn.functional.relu6(torch.tensor(x)), "relu6_forward")


# misconception -> the test cell whose visible part names it (phrase None: only the hidden part catches it)
MISCONCEPTIONS = [
    Misconception("relu6-uncapped", "relu6_forward", {{"relu6_forward": lambda x: np.maximum(x, 0)}},
                  "not capped at 6"),
]


@pytest.mark.parametrize("mistake", MISCONCEPTIONS, ids=str)
def test_misconception_is_caught(mistake):
    A.check_misconception(mistake)
'''

INDEPENDENT = '''"""Assignment {n}: an independent solution, written from the released notebook."""

import numpy as np


def relu6_forward(x):
    return np.minimum(np.maximum(x, 0.0), 6.0)
'''


class ScaffoldError(ValueError):
    """The topic name is malformed or the topic exists already."""


def _notebook(cells: list[str], **fields: str) -> nbformat.NotebookNode:
    made = []
    for text in cells:
        text = text.format(**fields)
        made.append(
            new_markdown_cell(text) if text.startswith("#") and not text.startswith("# Test:") else new_code_cell(text)
        )
    nb = new_notebook(cells=made)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    return nb


def new_topic(name: str, title: str | None = None, root: Path = ROOT) -> list[Path]:
    """Scaffold topic ``name`` (``NN_topic``) under ``root``; return the files written."""
    match = re.fullmatch(r"(\d\d)_([a-z][a-z0-9_]*)", name)
    if not match:
        raise ScaffoldError(f"topic names look like 06_attention (two digits, underscore, lower case), not {name!r}")
    number, slug = match.groups()
    fields = {"n": str(int(number)), "title": title or slug.replace("_", " ").capitalize(), "folder": name}
    paths = {
        "lecture": root / "lectures" / f"{name}.ipynb",
        "seminar": root / "seminars" / f"{name}.ipynb",
        "assignment": root / "assignments" / name / f"{slug}.ipynb",
        "tests": root / "tests" / f"test_assignment_{name}.py",
        "independent": root / "tests" / "independent" / f"a{number}_{slug}.py",
    }
    taken = [p for p in paths.values() if p.exists()] + sorted((root / "assignments").glob(f"{number}_*"))
    if taken:
        raise ScaffoldError(f"topic {number} exists already: {', '.join(str(p) for p in taken)}")
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(_notebook(LECTURE, **fields), paths["lecture"])
    nbformat.write(_notebook(SEMINAR, **fields), paths["seminar"])
    assignment = _notebook(ASSIGNMENT, **fields)
    # Graded functions are numpy unless the topic says otherwise (see README, "For instructors").
    assignment.metadata["dl_course"] = {"numpy_only": True}
    nbformat.write(tag_notebook(assignment, paths["assignment"].name), paths["assignment"])
    paths["tests"].write_text(TEST_MODULE.format(**fields))
    paths["independent"].write_text(INDEPENDENT.format(**fields))
    return list(paths.values())


def _title(path: Path, kind: str) -> str:
    """The title of a lecture or seminar from its first heading, without the ``Lecture N:`` prefix."""
    nb = nbformat.read(path, as_version=4)
    heading = next(
        (
            line
            for c in nb.cells
            if c.cell_type == "markdown"
            for line in c.source.splitlines()
            if line.startswith("# ")
        ),
        path.stem,
    )
    return re.sub(rf"^#\s*{kind}\s*\d+\s*[.:\u2014\u2013-]?\s*", "", heading).strip()


def topic_table(root: Path = ROOT) -> str:
    """The README's topic table, made from the lectures' titles and the folders that exist."""
    rows = ["| topic | lecture | seminar | graded assignment |", "| --- | --- | --- | --- |"]
    for lecture in sorted((root / "lectures").glob("[0-9][0-9]_*.ipynb")):
        name = lecture.stem
        seminar = root / "seminars" / lecture.name
        # A topic's assignment folder shares its number, not always its name (05_rnn -> 05_rnn_gates).
        assignment = next((p for p in sorted((root / "assignments").glob(f"{name[:2]}_*")) if p.is_dir()), None)
        rows.append(
            f"| {int(name[:2])}. {_title(lecture, 'Lecture')} | `lectures/{lecture.name}` | "
            + (f"`seminars/{seminar.name}`" if seminar.exists() else "-")
            + " | "
            + (f"`assignments/{assignment.name}/`" if assignment is not None else "-")
            + " |"
        )
    return "\n".join(rows)
