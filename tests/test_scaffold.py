"""`python -m autograder new` makes a topic that works: its notebooks execute and its tests pass.

The topic is scaffolded into a scratch copy of the course's test machinery (the real tree is never
touched), and the scratch copy's own pytest runs the generated test module together with the
generic assignment checks.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from autograder.scaffold import ScaffoldError, new_topic, topic_table
from conftest import ROOT
from tools.notebooks import run_notebook

pytestmark = [pytest.mark.xdist_group("scaffold"), pytest.mark.slow]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    (root / "tests" / "independent").mkdir(parents=True)
    for name in ("conftest.py", "harness.py", "test_assignments.py"):
        shutil.copy(ROOT / "tests" / name, root / "tests" / name)
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    run = subprocess.run(
        [sys.executable, "-m", "autograder", "new", "06_example", "--title", "An example", "--root", str(root)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    return root


def test_new_writes_the_topic_files(scratch):
    for path in (
        "lectures/06_example.ipynb",
        "seminars/06_example.ipynb",
        "assignments/06_example/example.ipynb",
        "tests/test_assignment_06_example.py",
        "tests/independent/a06_example.py",
    ):
        assert (scratch / path).is_file(), path
    assert "| 6. An example | `lectures/06_example.ipynb` |" in topic_table(scratch)


@pytest.mark.parametrize("kind", ["lectures", "seminars", "assignments/06_example"])
def test_scaffolded_notebooks_execute(scratch, kind):
    [path] = sorted((scratch / kind).glob("*.ipynb"))
    run_notebook(path, timeout=120)


def test_scaffolded_tests_pass(scratch):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            "0",
            "tests/test_assignment_06_example.py",
            "tests/test_assignments.py",
        ],
        cwd=scratch,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout


def test_new_refuses_a_bad_name_or_an_existing_topic(scratch):
    with pytest.raises(ScaffoldError, match="two digits"):
        new_topic("Example", root=scratch)
    with pytest.raises(ScaffoldError, match="exists already"):
        new_topic("06_other", root=scratch)


def test_readme_topic_table_is_made_from_the_notebooks():
    table = topic_table(ROOT)
    assert table in (ROOT / "README.md").read_text(), (
        "README.md's topic table is out of date: paste the output of `python -m autograder topics`:\n" + table
    )
